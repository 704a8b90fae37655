"""Pages for runs: list, plan/edit, detail with live progress, actions with confirmation, samples, transcript,
import and the log download (all behind accounts.access). Comparisons: views/comparisons.py. Inspect's own log
viewer: views/log_viewer.py."""

from __future__ import annotations

import json
from typing import Any

import nh3
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_http_methods

from accounts.access import can, get_visible_or_404, visible_to
from accounts.gates import institute_member_required
from accounts.reauth import reauthentication_required
from evaluations.forms.runs import ImportForm, PowerForm, ReasonForm, RunForm
from evaluations.models import Run, RunItem, SampleResult
from evaluations.models.runs import RunState
from evaluations.selectors.runs import (
    run_action_message,
    run_list,
    run_page,
    sample_list,
)
from evaluations.services import runs as services
from evaluations.services.imports import run_import
from portal.errors import ApplicationError
from portal.files import storage_file_response
from portal.forms import form_errors_add
from portal.pagination import page_of
from portal.views import bad_request_response


def _runs() -> Any:
    return Run.objects.select_related("exercise", "created_by", "owner")


@login_required
@institute_member_required
def run_list_view(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state") or None
    q = request.GET.get("q") or None
    exercise = request.GET.get("exercise")
    runs = run_list(user=request.user, state=state, q=q,
                    exercise_id=int(exercise) if exercise and exercise.isascii() and exercise.isdigit() else None)
    page = page_of(request, runs)
    return render(request, "evaluations/runs/list.html", {
        "page": page, "states": RunState.choices, "state": state or "", "q": q or "",
        "may_create": can(request.user, "create", Run),
    })


@login_required
@institute_member_required
@require_http_methods(["GET", "POST"])
def run_form_view(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    run = get_visible_or_404(request.user, _runs(), pk=pk) if pk else None
    if run is not None and not can(request.user, "edit", run):
        raise PermissionDenied("Only the run's creator edits it, while it is a draft or waits for approval.")
    if run is None and not can(request.user, "create", Run):
        raise PermissionDenied("Only institute staff and approvers plan runs.")
    initial = RunForm.initial_for(run) if run else {}
    reloaded = request.method == "GET" and request.GET.get("power") == "1"
    if reloaded:  # without JavaScript, "Work out the power" reloads the form with what was typed (not saved)
        initial.update(_typed(request))
    form = RunForm(request.POST if request.method == "POST" else None, user=request.user, initial=initial,
                   exercise_id=request.GET.get("exercise"), editing=run)
    if run is not None:
        form.fields["exercise"].disabled = True
    if request.method == "GET" and request.headers.get("HX-Request"):
        # the exercise changed: only the models and evaluations of that exercise, and the item count
        return render(request, "evaluations/runs/_form_choices.html", {"form": form, "run": run})
    power_form = PowerForm(request.POST if request.method == "POST" else request.GET if reloaded else initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if run is None:
                run = services.run_create(actor=request.user, exercise=data["exercise"],
                                          models=list(data["model_versions"]), tasks=list(data["task_versions"]),
                                          options=form.options(), request=request,
                                          submit=request.POST.get("submit") == "1",
                                          power_difference=data.get("power_difference"))
                messages.success(request, f"You saved run {run.pk} ({run.name}) as a draft. Submit it for approval "
                                          "when it is ready." if run.state == RunState.DRAFT
                                 else run_action_message(run=run, action="submit", actor=request.user))
            else:
                run = services.run_update(actor=request.user, run=run, models=list(data["model_versions"]),
                                          tasks=list(data["task_versions"]), options=form.options(),
                                          request=request, power_difference=data.get("power_difference"))
                messages.success(request, f"You saved your changes to run {run.pk} ({run.name}). It is a draft again "
                                          "and earlier approvals no longer count: submit it for approval again.")
            return redirect("run-detail", pk=run.pk)
        except ValidationError as exc:
            form_errors_add(form, exc)
        except ApplicationError as exc:  # the run changed (409): said at the top of the form
            form.add_error(None, str(exc))
    return render(request, "evaluations/runs/form.html", {
        "form": form, "run": run, "power_form": power_form, "power": power_form.plan(user=request.user)})


RUN_FORM_LISTS = ("model_versions", "task_versions")


def _typed(request: HttpRequest) -> dict[str, Any]:
    """The run form's fields as the no-JavaScript reload sent them (initial values: nothing is validated)."""
    typed: dict[str, Any] = {name: request.GET.getlist(name) for name in RUN_FORM_LISTS}
    for name in RunForm.base_fields:
        if name not in RUN_FORM_LISTS and name != "exercise" and name in request.GET:
            typed[name] = request.GET.get(name)
    return typed


@login_required
@institute_member_required
def run_power_partial(request: HttpRequest) -> HttpResponse:
    """The run form's power plan for the fields sent (htmx, as they change); nothing is saved."""
    power_form = PowerForm(request.GET)
    return render(request, "evaluations/runs/_power.html", {
        "power_form": power_form, "power": power_form.plan(user=request.user)})


def _detail_context(request: HttpRequest, run: Run, *, items_only: bool = False) -> dict[str, Any]:
    return run_page(user=request.user, run=run, sort=request.GET.get("sort", ""),
                    order=request.GET.get("order", "asc"), items_only=items_only)


@login_required
@institute_member_required
def run_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_visible_or_404(request.user, _runs(), pk=pk)
    return render(request, "evaluations/runs/detail.html", _detail_context(request, run))


@login_required
@institute_member_required
def run_items_partial(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_visible_or_404(request.user, _runs(), pk=pk)
    return render(request, "evaluations/runs/_items.html", _detail_context(request, run, items_only=True))


ACTIONS = {
    "submit": ("Submit this run for approval", "Submit for approval"),
    "approve": ("Approve this run", "Approve"),
    "reject": ("Reject this run", "Reject"),
    "cancel": ("Cancel this run", "Cancel the run"),
    "retry": ("Retry the failed and cancelled items", "Retry"),
}


REAUTH_ACTIONS = {"approve", "reject"}  # the decision needs a recent authentication (accounts/reauth.py)


def _decides(request: HttpRequest, pk: int, action: str) -> bool:
    """Approving or rejecting a run the user may decide (others get their 404 or 403, not a re-authentication)."""
    if action not in REAUTH_ACTIONS:
        return False
    run = visible_to(request.user, _runs().filter(pk=pk)).first()
    return run is not None and can(request.user, action, run)


@login_required
@institute_member_required
@require_http_methods(["GET", "POST"])
@reauthentication_required(when=_decides)
def run_action_view(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """GET: a confirmation page saying what is being done; POST: do it."""
    if action not in ACTIONS:
        raise Http404
    run = get_visible_or_404(request.user, _runs(), pk=pk)
    if not can(request.user, action, run):
        raise PermissionDenied(f"You may not {action} this run.")
    form = ReasonForm(request.POST if request.method == "POST" else None)
    item_id: Any = request.GET.get("item") or None
    if item_id is not None and not (item_id.isascii() and item_id.isdigit()):
        return bad_request_response(request, "The query parameter item is the number of an item of this run.",
                                    field="item")
    if request.method == "POST" and form.is_valid():
        reason = form.cleaned_data.get("reason") or ""
        item_id = form.cleaned_data.get("item") or item_id
        try:
            if action == "submit":
                services.run_submit(actor=request.user, run=run, request=request)
            elif action == "approve":
                services.run_approve(actor=request.user, run=run, reason=reason, request=request,
                                     revision=form.cleaned_data.get("revision"))
            elif action == "reject":
                services.run_reject(actor=request.user, run=run, reason=reason, request=request)
            elif action == "cancel":
                services.run_cancel(actor=request.user, run=run, request=request)
            elif item_id:
                item = get_visible_or_404(request.user, RunItem.objects.filter(run=run), pk=item_id)
                services.run_item_retry(actor=request.user, item=item, request=request)
            else:
                services.run_retry_failed_items(actor=request.user, run=run, request=request)
            messages.success(request, run_action_message(run=run, action=action, actor=request.user))
            return redirect("run-detail", pk=run.pk)
        except ValidationError as exc:
            form_errors_add(form, exc)
        except ApplicationError as exc:  # the run changed (409): said at the top of the form
            form.add_error(None, str(exc))
    context = _detail_context(request, run)
    context.update({"form": form, "action": action, "title": ACTIONS[action][0], "button": ACTIONS[action][1],
                    "item_id": item_id, "available": any(a.name == action for a in context["actions"])})
    return render(request, "evaluations/runs/confirm.html", context)


@login_required
@institute_member_required
def sample_list_view(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_visible_or_404(request.user, _runs(), pk=pk)
    item = request.GET.get("item")
    filters = {"score": request.GET.get("score") or "", "error": request.GET.get("error") or "",
               "text": request.GET.get("text") or "", "item": item or ""}
    samples = sample_list(user=request.user, run=run, item_id=int(item) if item and item.isascii() and item.isdigit() else None,
                          score=filters["score"] or None, error=filters["error"] or None,
                          text=filters["text"] or None)
    page = page_of(request, samples)
    query = any(filters.values())  # the page says "no samples match" rather than "no samples yet"
    return render(request, "evaluations/runs/samples.html", {
        "run": run, "page": page, "filters": filters, "query": query,
        "items": run.items.select_related("model_version__registered_model", "task_version__eval_task")})


def render_markdown(text: str) -> SafeString:
    """Markdown-ish text as sanitised HTML: escaped first, then paragraphs; nh3 removes anything unsafe."""
    from django.utils.html import escape, linebreaks

    return mark_safe(nh3.clean(linebreaks(escape(text or ""))))  # noqa: S308  # nosemgrep: portal-mark-safe - escaped, then nh3


def _message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict):
                parts.append(str(part.get("text") or part.get("reasoning") or f"[{part.get('type', 'content')}]"))
            else:
                parts.append(str(part))
        return "\n\n".join(parts)
    return "" if content is None else json.dumps(content, indent=2)


@login_required
@institute_member_required
def sample_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    sample = get_visible_or_404(request.user, SampleResult.objects.select_related(
        "item__run__exercise", "item__model_version__registered_model", "item__task_version__eval_task"), pk=pk)
    transcript = []
    for message in sample.messages or []:
        if not isinstance(message, dict):
            continue
        transcript.append({
            "role": message.get("role", "?"), "html": render_markdown(_message_text(message)),
            "tool_calls": [json.dumps(call, indent=2, default=str) for call in message.get("tool_calls") or []],
        })
    scores = [(name, value) for name, value in (sample.scores or {}).items()]
    return render(request, "evaluations/runs/sample.html", {
        "sample": sample, "run": sample.item.run, "transcript": transcript, "scores": scores,
        "explanation_html": render_markdown(sample.explanation),
        "metadata": json.dumps(sample.metadata, indent=2, default=str) if sample.metadata else "",
        "target": sample.target if isinstance(sample.target, str) else json.dumps(sample.target, default=str),
    })


@login_required
@institute_member_required
@require_http_methods(["GET", "POST"])
def run_import_view(request: HttpRequest) -> HttpResponse:
    if not can(request.user, "create", Run):
        raise PermissionDenied("Only institute staff and approvers import logs.")
    form = ImportForm(request.POST if request.method == "POST" else None, request.FILES or None,
                      user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            run = run_import(actor=request.user, exercise=form.cleaned_data["exercise"],
                             upload=form.cleaned_data["file"], request=request)
            messages.success(request, f"You imported the log as run {run.pk} ({run.name}).")
            return redirect("run-detail", pk=run.pk)
        except ValidationError as exc:
            form_errors_add(form, exc)
    return render(request, "evaluations/runs/import.html", {"form": form})


@login_required
@institute_member_required
def run_item_log_view(request: HttpRequest, pk: int, ext: str = "eval") -> HttpResponseBase:
    item = get_visible_or_404(request.user, RunItem.objects.select_related("run"), pk=pk)
    if not item.log_path:
        raise Http404("This item has no log yet.")
    return storage_file_response(request, item.log_path, content_type=item.log_content_type)


def item_log_url(item: RunItem) -> str:
    ext = "json" if item.log_path.endswith(".json") else "eval"
    return reverse("run-item-log", kwargs={"pk": item.pk, "ext": ext})
