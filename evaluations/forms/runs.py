"""Forms for planning runs and importing logs (rendered with GOV.UK markup in templates/evaluations/runs/)."""

from __future__ import annotations

from typing import Any

from django import forms

from evaluations.models import Exercise, ModelVersion, Run, TaskVersion
from evaluations.selectors.catalogue import task_version_choices
from evaluations.selectors.exercises import exercise_last_worked_in, exercises_user_may_add_to
from evaluations.selectors.power import MAX_PLANNED, power_plan_preview
from evaluations.selectors.registry import model_version_choices
from evaluations.services.runs import MAX_EPOCHS, MAX_SAMPLE_IDS, NUMBER_RANGES, SAMPLE_ID_MAX
from portal.forms import PortalForm
from portal.limits import TEXT_MAX


class RunForm(PortalForm):
    error_names = {"model_versions": "at least one model", "task_versions": "at least one evaluation",
                   "limit": "a sample limit", "epochs": "a number of epochs", "run_at": "the time to run",
                   "approval_valid_until": "the date the approval ends",
                   "power_difference": "a difference to detect"}
    exercise = forms.ModelChoiceField(queryset=Exercise.objects.none(), empty_label=None)
    name = forms.CharField(max_length=200, required=False, help_text="Optional; a name is made up when empty.")
    model_versions = forms.ModelMultipleChoiceField(queryset=ModelVersion.objects.none(), label="Models",
                                                    widget=forms.CheckboxSelectMultiple)
    task_versions = forms.ModelMultipleChoiceField(queryset=TaskVersion.objects.none(), label="Evaluations",
                                                   widget=forms.CheckboxSelectMultiple)
    limit = forms.IntegerField(min_value=1, max_value=NUMBER_RANGES["limit"][1], required=False, label="Sample limit",
                               error_messages={"min_value": "Enter a sample limit of 1 or more",
                                               "invalid": "Enter a sample limit as a whole number, like 20"})
    sample_ids = forms.CharField(required=False, label="Sample ids", max_length=TEXT_MAX,
                                 help_text="Comma-separated; instead of a limit.")
    epochs = forms.IntegerField(min_value=1, max_value=MAX_EPOCHS, initial=1)
    power_difference = forms.FloatField(
        required=False, min_value=0.01, max_value=100, label="Difference to detect (points)",
        help_text="Optional: a difference between two models you want to be able to detect, e.g. 5 for 5 points "
                  "of accuracy. The plan below then gives the samples needed.",
        error_messages={"min_value": "Enter a difference to detect between 0 and 100 points",
                        "max_value": "Enter a difference to detect between 0 and 100 points",
                        "invalid": "Enter a difference to detect as a number, like 5"})
    max_samples = forms.IntegerField(min_value=1, max_value=NUMBER_RANGES["max_samples"][1], required=False,
                                     label="Samples at once")
    max_connections = forms.IntegerField(min_value=1, max_value=NUMBER_RANGES["max_connections"][1], required=False,
                                         label="Connections to the model", help_text="Never above the model's own limit.")
    seed = forms.IntegerField(required=False, min_value=NUMBER_RANGES["seed"][0], max_value=NUMBER_RANGES["seed"][1])
    token_budget = forms.IntegerField(min_value=1, max_value=NUMBER_RANGES["token_budget"][1], required=False,
                                      label="Token budget")
    cost_budget = forms.DecimalField(min_value=0, max_digits=12, decimal_places=2, required=False,
                                     label="Cost budget (USD)")
    fail_on_error = forms.FloatField(min_value=0, max_value=1e9, required=False, label="Fail on error",
                                     help_text="A fraction of samples (e.g. 0.1) or a number of samples.")
    schedule = forms.ChoiceField(choices=Run.Schedule.choices, initial=Run.Schedule.NOW,
                                 widget=forms.RadioSelect)
    run_at = forms.DateTimeField(required=False, label="Run at", help_text="YYYY-MM-DD HH:MM (UTC)")
    cron = forms.CharField(required=False, max_length=100, label="Cron expression",
                           help_text="minute hour day-of-month month day-of-week, e.g. 0 3 * * 1")
    approval_valid_until = forms.DateTimeField(required=False, label="Approval valid until",
                                               help_text="YYYY-MM-DD HH:MM (UTC)")

    def __init__(self, *args: Any, user: Any, exercise_id: Any = None, editing: Run | None = None,
                 **kwargs: Any) -> None:
        """``exercise_id``: the exercise asked for (a reload or an htmx request after choosing one); the models and
        evaluations offered are those of the chosen exercise only (posted, asked for, the run's own, or the one the
        user last planned a run in)."""
        super().__init__(*args, **kwargs)
        if editing is not None:
            exercises = Exercise.objects.filter(pk=editing.exercise_id)
        else:
            exercises = exercises_user_may_add_to(user).order_by("name")
        self.fields["exercise"].queryset = exercises  # type: ignore[attr-defined]
        allowed = set(exercises.values_list("pk", flat=True))
        candidates = [self.data.get("exercise") if self.is_bound else None, exercise_id,
                      editing.exercise_id if editing else None, self.initial.get("exercise"),
                      exercise_last_worked_in(user=user)]
        chosen = next((int(c) for c in candidates if str(c or "").isdigit() and int(c) in allowed), None)
        if chosen is None and allowed:
            chosen = exercises.first().pk  # type: ignore[union-attr]
        self.chosen_exercise = chosen
        if not self.is_bound:
            self.initial["exercise"] = chosen
        self.fields["model_versions"].queryset = model_version_choices(  # type: ignore[attr-defined]
            user=user, exercise_id=chosen)
        self.fields["task_versions"].queryset = task_version_choices(  # type: ignore[attr-defined]
            user=user, exercise_id=chosen)

    def _selected(self, name: str) -> set[str]:
        if self.is_bound:
            return {str(v) for v in self.data.getlist(name)} if hasattr(self.data, "getlist") else set()
        return {str(getattr(v, "pk", v)) for v in self.initial.get(name) or []}

    def _groups(self, name: str, parent: str) -> list[dict[str, Any]]:
        """One entry per model (or evaluation): its newest version, and the older ones (for a disclosure)."""
        selected = self._selected(name)
        groups: dict[int, dict[str, Any]] = {}
        for version in self.fields[name].queryset:  # type: ignore[attr-defined]
            owner = getattr(version, parent)
            group = groups.setdefault(owner.pk, {"name": owner.name, "latest": None, "older": []})
            entry = {"pk": version.pk, "number": version.number, "checked": str(version.pk) in selected,
                     "detail": getattr(version, "provider_model", "") or getattr(version, "registry_name", "")}
            if group["latest"] is None:
                group["latest"] = entry
            else:
                group["older"].append(entry)
        for group in groups.values():
            group["older_checked"] = any(e["checked"] for e in group["older"])
        return list(groups.values())

    def model_groups(self) -> list[dict[str, Any]]:
        return self._groups("model_versions", "registered_model")

    def task_groups(self) -> list[dict[str, Any]]:
        return self._groups("task_versions", "eval_task")

    def preview(self) -> dict[str, int]:
        """How many items the run will have: chosen model versions × chosen evaluation versions."""
        models = len(self._selected("model_versions"))
        tasks = len(self._selected("task_versions"))
        return {"models": models, "tasks": tasks, "items": models * tasks}

    def clean_sample_ids(self) -> list[str]:
        raw = self.cleaned_data.get("sample_ids") or ""
        ids = [part.strip() for part in raw.split(",") if part.strip()]
        if len(ids) > MAX_SAMPLE_IDS or any(len(i) > SAMPLE_ID_MAX for i in ids):
            raise forms.ValidationError(f"Give at most {MAX_SAMPLE_IDS:,} sample ids of at most {SAMPLE_ID_MAX} "
                                        "characters each.")
        return ids

    def options(self) -> dict[str, Any]:
        data = self.cleaned_data
        keys = ["name", "limit", "sample_ids", "epochs", "max_samples", "max_connections", "seed", "token_budget",
                "cost_budget", "fail_on_error", "schedule", "run_at", "cron", "approval_valid_until"]
        return {key: data.get(key) for key in keys}

    @classmethod
    def initial_for(cls, run: Run) -> dict[str, Any]:
        return {
            "power_difference": (run.power_plan or {}).get("difference"),
            "exercise": run.exercise_id, "name": run.name, "model_versions": list(run.model_versions.all()),
            "task_versions": list(run.task_versions.all()), "limit": run.limit,
            "sample_ids": ", ".join(str(s) for s in run.sample_ids or []), "epochs": run.epochs,
            "max_samples": run.max_samples, "max_connections": run.max_connections, "seed": run.seed,
            "token_budget": run.token_budget, "cost_budget": run.cost_budget, "fail_on_error": run.fail_on_error,
            "schedule": run.schedule, "run_at": run.run_at, "cron": run.cron,
            "approval_valid_until": run.approval_valid_until,
        }


class PowerForm(PortalForm):
    """The inputs of the run form's power plan (issue 13), read leniently from the run form's fields (posted, sent
    by htmx, or the form reloaded without JavaScript): the chosen evaluations and models, limit or sample ids,
    epochs and the difference to detect. A wrong limit or epochs counts as not given (the run form says why)."""

    error_names = {"power_difference": "a difference to detect"}
    power_difference = RunForm.base_fields["power_difference"]

    def _values(self, name: str) -> list[str]:
        data = self.data
        if hasattr(data, "getlist"):
            return [str(v) for v in data.getlist(name)]
        value = data.get(name)
        if value is None:
            return []
        return [str(getattr(v, "pk", v)) for v in (value if isinstance(value, list | tuple) else [value])]

    def _ids(self, name: str) -> list[int]:
        return [int(v) for v in self._values(name) if v.isdigit() and len(v) < 19][:MAX_PLANNED]

    def _number(self, name: str, least: int, most: int) -> int | None:
        values = self._values(name)
        text = values[0].strip() if values else ""
        return int(text) if text.isdigit() and least <= int(text) <= most else None

    def plan(self, *, user: Any) -> dict[str, Any] | None:
        """The plan, or None when no evaluation is chosen; an invisible id reads as none chosen."""
        from django.http import Http404

        tasks = self._ids("task_versions")
        if not tasks:
            return None
        difference = self.cleaned_data.get("power_difference") if self.is_valid() else None
        raw_ids = ",".join(self._values("sample_ids"))
        sample_ids = [part.strip() for part in raw_ids.split(",") if part.strip()][:MAX_SAMPLE_IDS]
        try:
            return power_plan_preview(
                user=user, task_version_ids=tasks, model_version_ids=self._ids("model_versions"),
                limit=self._number("limit", 1, NUMBER_RANGES["limit"][1]), sample_ids=sample_ids or None,
                epochs=self._number("epochs", 1, MAX_EPOCHS) or 1, difference=difference)
        except Http404:
            return None


class ImportForm(PortalForm):
    exercise = forms.ModelChoiceField(queryset=Exercise.objects.none(), empty_label=None)
    file = forms.FileField(label="Inspect log", help_text="An .eval or .json log written by Inspect.",
                           widget=forms.ClearableFileInput(attrs={"accept": ".eval,.json"}))

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["exercise"].queryset = exercises_user_may_add_to(user)  # type: ignore[attr-defined]


class ReasonForm(PortalForm):
    """The confirmation of an action: a reason (approve, reject), the revision read (approve), one item (retry)."""

    reason = forms.CharField(widget=forms.Textarea, max_length=TEXT_MAX, required=False)
    revision = forms.IntegerField(min_value=1, max_value=2**31 - 1, required=False, widget=forms.HiddenInput)
    item = forms.IntegerField(min_value=1, max_value=2**63 - 1, required=False, widget=forms.HiddenInput)
