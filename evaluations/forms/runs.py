"""Forms for planning runs and importing logs (rendered with GOV.UK markup in templates/evaluations/runs/)."""

from __future__ import annotations

from typing import Any

from django import forms

from accounts.access import visible_to
from evaluations.models import Exercise, ModelVersion, Run, TaskVersion
from evaluations.selectors.exercises import exercises_user_may_add_to
from evaluations.services.runs import MAX_EPOCHS, MAX_SAMPLE_IDS, NUMBER_RANGES, SAMPLE_ID_MAX
from portal.limits import TEXT_MAX


class RunForm(forms.Form):
    exercise = forms.ModelChoiceField(queryset=Exercise.objects.none(), empty_label=None)
    name = forms.CharField(max_length=200, required=False, help_text="Optional; a name is made up when empty.")
    model_versions = forms.ModelMultipleChoiceField(queryset=ModelVersion.objects.none(), label="Models",
                                                    widget=forms.CheckboxSelectMultiple)
    task_versions = forms.ModelMultipleChoiceField(queryset=TaskVersion.objects.none(), label="Evaluations",
                                                   widget=forms.CheckboxSelectMultiple)
    limit = forms.IntegerField(min_value=1, max_value=NUMBER_RANGES["limit"][1], required=False, label="Sample limit")
    sample_ids = forms.CharField(required=False, label="Sample ids", max_length=TEXT_MAX,
                                 help_text="Comma-separated; instead of a limit.")
    epochs = forms.IntegerField(min_value=1, max_value=MAX_EPOCHS, initial=1)
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

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        exercises = exercises_user_may_add_to(user)
        self.fields["exercise"].queryset = exercises  # type: ignore[attr-defined]
        self.fields["model_versions"].queryset = visible_to(user, ModelVersion.objects.filter(  # type: ignore[attr-defined]
            registered_model__exercises__in=exercises, registered_model__archived_at__isnull=True,
        )).select_related("registered_model").distinct()
        self.fields["task_versions"].queryset = visible_to(user, TaskVersion.objects.filter(  # type: ignore[attr-defined]
            eval_task__exercises__in=exercises, eval_task__archived_at__isnull=True,
        )).select_related("eval_task").distinct()

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
            "exercise": run.exercise_id, "name": run.name, "model_versions": list(run.model_versions.all()),
            "task_versions": list(run.task_versions.all()), "limit": run.limit,
            "sample_ids": ", ".join(str(s) for s in run.sample_ids or []), "epochs": run.epochs,
            "max_samples": run.max_samples, "max_connections": run.max_connections, "seed": run.seed,
            "token_budget": run.token_budget, "cost_budget": run.cost_budget, "fail_on_error": run.fail_on_error,
            "schedule": run.schedule, "run_at": run.run_at, "cron": run.cron,
            "approval_valid_until": run.approval_valid_until,
        }


class ImportForm(forms.Form):
    exercise = forms.ModelChoiceField(queryset=Exercise.objects.none(), empty_label=None)
    file = forms.FileField(label="Inspect log", help_text="An .eval or .json log written by Inspect.",
                           widget=forms.ClearableFileInput(attrs={"accept": ".eval,.json"}))

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["exercise"].queryset = exercises_user_may_add_to(user)  # type: ignore[attr-defined]


class ReasonForm(forms.Form):
    """The confirmation of an action: a reason (approve, reject), the revision read (approve), one item (retry)."""

    reason = forms.CharField(widget=forms.Textarea, max_length=TEXT_MAX, required=False)
    revision = forms.IntegerField(min_value=1, max_value=2**31 - 1, required=False, widget=forms.HiddenInput)
    item = forms.IntegerField(min_value=1, max_value=2**63 - 1, required=False, widget=forms.HiddenInput)


class CompareForm(forms.Form):
    """The ids typed by hand (the run and exercise pages send them as checked boxes, several ``items``)."""

    items = forms.CharField(label="Run item ids, comma-separated", required=False, max_length=2000,
                            help_text="The first item is the baseline for paired differences.")
