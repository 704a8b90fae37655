"""Pages of the evaluation catalogue. Upload views install the size-limiting upload handler before anything reads
the body (so an oversized upload is refused without being read)."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import CREATE, DELETE, EDIT, can, require
from accounts.gates import institute_member_required
from evaluations.forms.catalogue import DatasetTaskForm, RegistryTaskForm, dataset_form_with_error
from evaluations.inspectai.datasets import SCORERS, SOLVERS, DatasetTooLarge
from evaluations.models import EvalTask, TaskVersion
from evaluations.selectors import catalogue as selectors
from evaluations.services import catalogue as services
from portal.forms import form_errors_add
from portal.pagination import page_of
from portal.uploads import install_upload_limit


def _install_dataset_limit(request: HttpRequest) -> None:
    install_upload_limit(request, max_bytes=settings.DATASET_UPLOAD_MAX_BYTES, error=DatasetTooLarge)



@login_required
@institute_member_required
def task_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    sort = request.GET.get("sort", "name")
    page = page_of(request, selectors.task_list(user=request.user, q=q, sort=sort))
    return render(request, "evaluations/tasks/list.html", {
        "page": page, "q": q, "sort": sort, "may_create": can(request.user, CREATE, EvalTask),
    })


@login_required
@institute_member_required
def task_catalogue(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    offline = request.GET.get("offline") == "1"
    entries = selectors.catalogue_search(q=q, offline_only=offline)
    page = page_of(request, entries)
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
                                                 description=d["description"], cluster_field=d["cluster_field"],
                                                 request=request)
        except ValidationError as exc:
            form_errors_add(form, exc)
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
    except DatasetTooLarge as exc:
        form = dataset_form_with_error(request.user, str(exc), editing=task is not None)
        return render(request, template, {"form": form, "title": title, "task": task}, status=413)
    initial: dict[str, Any] = {}
    current = task.current_version if task else None
    if task is not None and current is not None:
        initial = {"name": task.name, "description": task.description, "exercises": list(task.exercises.all()),
                   "solver": current.solver, "scorer": current.scorer,
                   "system_prompt": current.solver_args.get("system_prompt", ""),
                   "pattern": current.scorer_args.get("pattern", ""),
                   "grader_model_version": current.grader_model_version_id,
                   "cluster_field": current.cluster_field}
    form = DatasetTaskForm(data, files, user=request.user, editing=task is not None, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            if task is None:
                created = services.task_create_dataset(
                    user=request.user, name=d["name"], exercises=list(d["exercises"]), upload=d["dataset"],
                    solver=d["solver"], scorer=d["scorer"], solver_args={"system_prompt": d["system_prompt"]},
                    scorer_args={"pattern": d["pattern"]}, grader_model_version=d["grader_model_version"],
                    description=d["description"], cluster_field=d["cluster_field"], request=request)
                messages.success(request, f"Evaluation {created.name} added.")
                return redirect("task-detail", pk=created.pk)
            _, version = services.task_update(
                user=request.user, eval_task=task, request=request, name=d["name"], description=d["description"],
                exercises=list(d["exercises"]), upload=d["dataset"], solver=d["solver"], scorer=d["scorer"],
                solver_args={"system_prompt": d["system_prompt"]}, scorer_args={"pattern": d["pattern"]},
                grader_model_version=d["grader_model_version"], cluster_field=d["cluster_field"])
            messages.success(request, f"Saved as version {version.number}." if version else "Saved.")
            return redirect("task-detail", pk=task.pk)
        except DatasetTooLarge as exc:
            form.add_error("dataset", str(exc))
        except ValidationError as exc:
            form_errors_add(form, exc)
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
    _install_dataset_limit(request)
    try:
        return _task_create_dataset(request)
    except DatasetTooLarge as exc:
        form = dataset_form_with_error(request.user, str(exc), editing=False)
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
        "cluster_field": current.cluster_field if current else "",
    })
    form.fields["registry_name"].disabled = True
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            _, version = services.task_update(user=request.user, eval_task=task, request=request, name=d["name"],
                                              description=d["description"], exercises=list(d["exercises"]),
                                              args=d["args"], cluster_field=d["cluster_field"])
        except ValidationError as exc:
            form_errors_add(form, exc)
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
    _install_dataset_limit(request)
    try:
        return _task_edit(request, pk)
    except DatasetTooLarge as exc:
        form = dataset_form_with_error(request.user, str(exc), editing=True)
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
        "solvers": SOLVERS, "scorers": SCORERS,
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
