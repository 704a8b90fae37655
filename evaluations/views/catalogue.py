"""Pages of the evaluation catalogue. Upload views install the size-limiting upload handler before anything reads
the body (so an oversized upload is refused without being read)."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.forms.utils import ErrorDict
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import CREATE, DELETE, EDIT, can, require
from accounts.gates import institute_member_required
from evaluations.models import EvalTask, TaskVersion
from evaluations.selectors import catalogue as selectors
from evaluations.selectors.common import exercises_user_may_add_to
from evaluations.selectors.registry import grader_choices
from evaluations.services import catalogue as services
from evaluations.views.registry import PAGE_SIZE, apply_errors
from portal.forms import json_object_clean
from portal.pagination import page_of


class RegistryTaskForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)
    exercises: forms.ModelMultipleChoiceField = forms.ModelMultipleChoiceField(label="Exercises", queryset=None, widget=forms.CheckboxSelectMultiple)
    registry_name = forms.CharField(label="Task", max_length=300,
                                    help_text="A task name from the catalogue, e.g. arithmetic or inspect_evals/gsm8k.")
    args = forms.CharField(label="Arguments (optional)", required=False, widget=forms.Textarea(attrs={"rows": 3}),
                           help_text='A JSON object, e.g. {"limit": 5}.')
    description = forms.CharField(label="Description (optional)", required=False,
                                  widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["exercises"].queryset = exercises_user_may_add_to(user)  # type: ignore[attr-defined]

    def clean_args(self) -> Any:
        return json_object_clean(self.cleaned_data.get("args"), example='{"limit": 5}')


class DatasetTaskForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)
    exercises: forms.ModelMultipleChoiceField = forms.ModelMultipleChoiceField(label="Exercises", queryset=None, widget=forms.CheckboxSelectMultiple)
    dataset = forms.FileField(label="Dataset (CSV or JSONL)", required=False,
                              help_text="Columns input and target; optional id, choices (JSON list), metadata "
                                        "(JSON object). UTF-8.")
    solver = forms.ChoiceField(label="Solver", choices=list(services.SOLVERS.items()), widget=forms.RadioSelect,
                               initial="generate")
    system_prompt = forms.CharField(label="System prompt (for 'system prompt, then generation')", required=False,
                                    widget=forms.Textarea(attrs={"rows": 2}))
    scorer = forms.ChoiceField(label="Scorer", choices=list(services.SCORERS.items()), widget=forms.RadioSelect,
                               initial="includes")
    pattern = forms.CharField(label="Pattern (for the regular expression scorer)", required=False)
    grader_model_version = forms.TypedChoiceField(label="Grader model (for the model-graded scorer)", required=False,
                                                  coerce=int, empty_value=None)
    description = forms.CharField(label="Description (optional)", required=False,
                                  widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, user: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["exercises"].queryset = exercises_user_may_add_to(user)  # type: ignore[attr-defined]
        self.fields["grader_model_version"].choices = [("", "None")] + [  # type: ignore[attr-defined]
            (v.pk, f"{v.registered_model.name} v{v.number} ({v.provider_model})") for v in grader_choices(user=user)
        ]
        self.fields["grader_model_version"].widget.attrs["class"] = "govuk-select"
        if editing:
            self.fields["dataset"].label = "New dataset file (optional: keep the current one)"


def _form_with_error(user: Any, message: str, *, editing: bool) -> DatasetTaskForm:
    """An empty dataset form carrying one error (the upload was refused before the form could be bound)."""
    form = DatasetTaskForm(user=user, editing=editing)
    form.cleaned_data = {}
    form._errors = ErrorDict()  # type: ignore[attr-defined]
    form.add_error("dataset", message)
    return form


@login_required
@institute_member_required
def task_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    sort = request.GET.get("sort", "name")
    page = page_of(request, selectors.task_list(user=request.user, q=q, sort=sort), PAGE_SIZE)
    return render(request, "evaluations/tasks/list.html", {
        "page": page, "q": q, "sort": sort, "may_create": can(request.user, CREATE, EvalTask),
    })


@login_required
@institute_member_required
def task_catalogue(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    offline = request.GET.get("offline") == "1"
    entries = selectors.catalogue_search(q=q, offline_only=offline)
    page = page_of(request, entries, PAGE_SIZE)
    return render(request, "evaluations/tasks/catalogue.html", {
        "page": page, "q": q, "offline": offline, "may_create": can(request.user, CREATE, EvalTask),
    })


@login_required
@institute_member_required
@require_http_methods(["GET", "POST"])
def task_create_registry(request: HttpRequest) -> HttpResponse:
    require(request.user, CREATE, EvalTask)
    form = RegistryTaskForm(request.POST or None, user=request.user,
                            initial={"registry_name": request.GET.get("registry_name", "")})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            task = services.task_create_registry(user=request.user, name=d["name"], exercises=list(d["exercises"]),
                                                 registry_name=d["registry_name"].strip(), args=d["args"],
                                                 description=d["description"], request=request)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"Evaluation {task.name} added.")
            return redirect("task-detail", pk=task.pk)
    return render(request, "evaluations/tasks/form_registry.html", {"form": form, "title": "Add a catalogue task"},
                  status=400 if form.errors else 200)


def _dataset_form_view(request: HttpRequest, *, task: EvalTask | None) -> HttpResponse:
    template = "evaluations/tasks/form_dataset.html"
    title = f"Change {task.name}" if task else "Build an evaluation from a dataset"
    try:
        data, files = (request.POST, request.FILES) if request.method == "POST" else (None, None)
    except services.DatasetTooLarge as exc:
        form = _form_with_error(request.user, str(exc.detail), editing=task is not None)
        return render(request, template, {"form": form, "title": title, "task": task}, status=413)
    initial: dict[str, Any] = {}
    current = task.current_version if task else None
    if task is not None and current is not None:
        initial = {"name": task.name, "description": task.description, "exercises": list(task.exercises.all()),
                   "solver": current.solver, "scorer": current.scorer,
                   "system_prompt": current.solver_args.get("system_prompt", ""),
                   "pattern": current.scorer_args.get("pattern", ""),
                   "grader_model_version": current.grader_model_version_id}
    form = DatasetTaskForm(data, files, user=request.user, editing=task is not None, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            if task is None:
                created = services.task_create_dataset(
                    user=request.user, name=d["name"], exercises=list(d["exercises"]), upload=d["dataset"],
                    solver=d["solver"], scorer=d["scorer"], solver_args={"system_prompt": d["system_prompt"]},
                    scorer_args={"pattern": d["pattern"]}, grader_model_version=d["grader_model_version"],
                    description=d["description"], request=request)
                messages.success(request, f"Evaluation {created.name} added.")
                return redirect("task-detail", pk=created.pk)
            _, version = services.task_update(
                user=request.user, eval_task=task, request=request, name=d["name"], description=d["description"],
                exercises=list(d["exercises"]), upload=d["dataset"], solver=d["solver"], scorer=d["scorer"],
                solver_args={"system_prompt": d["system_prompt"]}, scorer_args={"pattern": d["pattern"]},
                grader_model_version=d["grader_model_version"])
            messages.success(request, f"Saved as version {version.number}." if version else "Saved.")
            return redirect("task-detail", pk=task.pk)
        except services.DatasetTooLarge as exc:
            form.add_error("dataset", str(exc.detail))
        except ValidationError as exc:
            apply_errors(form, exc)
    return render(request, template, {"form": form, "title": title, "task": task}, status=400 if form.errors else 200)


@csrf_protect
def _task_create_dataset(request: HttpRequest) -> HttpResponse:
    require(request.user, CREATE, EvalTask)
    return _dataset_form_view(request, task=None)


@csrf_exempt  # CSRF is checked by the inner view, after the upload limit is installed
@login_required
@institute_member_required
@require_http_methods(["GET", "POST"])
def task_create_dataset(request: HttpRequest) -> HttpResponse:
    services.install_upload_limit(request)
    try:
        return _task_create_dataset(request)
    except services.DatasetTooLarge as exc:
        form = _form_with_error(request.user, str(exc.detail), editing=False)
        return render(request, "evaluations/tasks/form_dataset.html", {"form": form, "title": "Build an evaluation"},
                      status=413)


@csrf_protect
def _task_edit(request: HttpRequest, pk: int) -> HttpResponse:
    task = selectors.task_get(user=request.user, pk=pk)
    require(request.user, EDIT, task)
    current = task.current_version
    if current is not None and current.kind == TaskVersion.Kind.DATASET:
        return _dataset_form_view(request, task=task)
    form = RegistryTaskForm(request.POST or None, user=request.user, initial={
        "name": task.name, "description": task.description, "exercises": list(task.exercises.all()),
        "registry_name": current.registry_name if current else "", "args": json.dumps(current.args) if current else "",
    })
    form.fields["registry_name"].disabled = True
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            _, version = services.task_update(user=request.user, eval_task=task, request=request, name=d["name"],
                                              description=d["description"], exercises=list(d["exercises"]),
                                              args=d["args"])
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"Saved as version {version.number}." if version else "Saved.")
            return redirect("task-detail", pk=task.pk)
    return render(request, "evaluations/tasks/form_registry.html", {"form": form, "title": f"Change {task.name}",
                                                                    "task": task}, status=400 if form.errors else 200)


@csrf_exempt  # CSRF is checked by the inner view, after the upload limit is installed
@login_required
@institute_member_required
@require_http_methods(["GET", "POST"])
def task_edit(request: HttpRequest, pk: int) -> HttpResponse:
    services.install_upload_limit(request)
    try:
        return _task_edit(request, pk)
    except services.DatasetTooLarge as exc:
        form = _form_with_error(request.user, str(exc.detail), editing=True)
        return render(request, "evaluations/tasks/form_dataset.html", {"form": form, "title": "Change evaluation"},
                      status=413)


@login_required
@institute_member_required
def task_detail(request: HttpRequest, pk: int) -> HttpResponse:
    task = selectors.task_get(user=request.user, pk=pk)
    versions = selectors.task_versions(eval_task=task)
    current = versions[0] if versions else None
    return render(request, "evaluations/tasks/detail.html", {
        "task": task, "versions": versions, "current": current, "exercises": task.exercises.all(),
        "solvers": services.SOLVERS, "scorers": services.SCORERS,
        "may_edit": can(request.user, EDIT, task), "may_delete": can(request.user, DELETE, task),
    })


@login_required
@institute_member_required
@require_POST
def task_archive(request: HttpRequest, pk: int) -> HttpResponse:
    task = selectors.task_get(user=request.user, pk=pk)
    services.task_archive(user=request.user, eval_task=task, request=request)
    messages.success(request, f"Evaluation {task.name} archived.")
    return redirect("task-list")
