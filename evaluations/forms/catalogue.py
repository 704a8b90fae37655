"""Forms of the evaluation catalogue (rendered with GOV.UK markup in templates/evaluations/tasks/)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.utils import ErrorDict

from evaluations.inspectai.datasets import SCORERS, SOLVERS
from evaluations.selectors.comparisons import cluster_field_clean
from evaluations.selectors.exercises import exercises_user_may_add_to
from evaluations.selectors.registry import grader_choices
from portal.forms import ControlCharactersRefused, PortalForm, json_object_clean
from portal.limits import LINE_MAX, PROMPT_MAX, TEXT_MAX


def _cluster_field() -> forms.CharField:
    return forms.CharField(
        label="Cluster field (optional)", required=False, max_length=100,
        help_text="The metadata field to cluster samples by. If several samples share a value of a metadata field (for example passage_id, when several "
                  "questions are about one passage), comparisons count them as one cluster in their standard "
                  "errors. Leave empty if every sample is independent.")


class ClusterFieldClean:
    cleaned_data: dict[str, Any]

    def clean_cluster_field(self) -> str:
        try:
            return cluster_field_clean(self.cleaned_data.get("cluster_field"), field="cluster_field")
        except ValidationError:
            raise ValidationError("Enter a cluster field of letters, digits, _ . or -, like passage_id (at most 100 "
                                  "characters).") from None


class RegistryTaskForm(ClusterFieldClean, ControlCharactersRefused, PortalForm):
    name = forms.CharField(label="Name", max_length=200)
    exercises: forms.ModelMultipleChoiceField = forms.ModelMultipleChoiceField(label="Exercises", queryset=None, widget=forms.CheckboxSelectMultiple)
    registry_name = forms.CharField(label="Task", max_length=300,
                                    help_text="A task name from the catalogue, e.g. arithmetic or inspect_evals/gsm8k.")
    args = forms.CharField(label="Arguments (optional)", required=False, widget=forms.Textarea(attrs={"rows": 3}),
                           max_length=TEXT_MAX,
                           help_text='A JSON object, e.g. {"limit": 5}.')
    description = forms.CharField(label="Description (optional)", required=False, max_length=TEXT_MAX,
                                  widget=forms.Textarea(attrs={"rows": 2}))
    cluster_field = _cluster_field()

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["exercises"].queryset = exercises_user_may_add_to(user)  # type: ignore[attr-defined]

    def clean_args(self) -> Any:
        return json_object_clean(self.cleaned_data.get("args"), example='{"limit": 5}', name="the arguments")


class DatasetTaskForm(ClusterFieldClean, ControlCharactersRefused, PortalForm):
    name = forms.CharField(label="Name", max_length=200)
    exercises: forms.ModelMultipleChoiceField = forms.ModelMultipleChoiceField(label="Exercises", queryset=None, widget=forms.CheckboxSelectMultiple)
    dataset = forms.FileField(label="Dataset (CSV or JSONL)", required=False,
                              widget=forms.ClearableFileInput(attrs={"accept": ".csv,.jsonl,.ndjson"}),
                              help_text="Columns input and target; optional id, choices (JSON list), metadata "
                                        "(JSON object). UTF-8.")
    solver = forms.ChoiceField(label="Solver", choices=list(SOLVERS.items()), widget=forms.RadioSelect,
                               initial="generate")
    system_prompt = forms.CharField(label="System prompt (for 'system prompt, then generation')", required=False,
                                    max_length=PROMPT_MAX, widget=forms.Textarea(attrs={"rows": 2}))
    scorer = forms.ChoiceField(label="Scorer", choices=list(SCORERS.items()), widget=forms.RadioSelect,
                               initial="includes")
    pattern = forms.CharField(label="Pattern (for the regular expression scorer)", required=False,
                              max_length=LINE_MAX)
    grader_model_version = forms.TypedChoiceField(label="Grader model (for the model-graded scorer)", required=False,
                                                  coerce=int, empty_value=None)
    description = forms.CharField(label="Description (optional)", required=False, max_length=TEXT_MAX,
                                  widget=forms.Textarea(attrs={"rows": 2}))
    cluster_field = _cluster_field()

    def __init__(self, *args: Any, user: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["exercises"].queryset = exercises_user_may_add_to(user)  # type: ignore[attr-defined]
        self.fields["grader_model_version"].choices = [("", "None")] + [  # type: ignore[attr-defined]
            (v.pk, f"{v.registered_model.name} v{v.number} ({v.provider_model})") for v in grader_choices(user=user)
        ]
        self.fields["grader_model_version"].widget.attrs["class"] = "govuk-select"
        if editing:
            self.fields["dataset"].label = "New dataset file (optional: keep the current one)"


def dataset_form_with_error(user: Any, message: str, *, editing: bool) -> DatasetTaskForm:
    """An empty dataset form carrying one error (the upload was refused before the form could be bound)."""
    form = DatasetTaskForm(user=user, editing=editing)
    form.cleaned_data = {}
    form._errors = ErrorDict()  # type: ignore[attr-defined]
    form.add_error("dataset", message)
    return form
