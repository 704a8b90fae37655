"""Pages for findings (issue 11): the institutes' list (filters, search), detail (evidence, comments, workflow
buttons), create and edit forms (evidence with redactions), workflow confirmations, evidence flags on samples; the
partners' landing page and finding page (their current release snapshots only); downloads (CSV, JSON, and the
exercise report as PDF).

``findings/`` and ``findings/<id>/`` answer by role, as the API does: institute members get Finding rows,
partner viewers their current release snapshots (a 404 for anything else). Views parse, call one service or
selector, and render."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import can, get_visible_or_404, is_institute_member, is_partner_viewer, visible_to
from accounts.gates import institute_member_required
from accounts.reauth import reauthentication_required
from evaluations.forms.findings import (
    EXTRA_EVIDENCE_SLOTS,
    MAX_EVIDENCE_SLOTS,
    CommentForm,
    FindingForm,
    FlagForm,
    ReasonForm,
    ReleaseForm,
    initial_for,
    sample_messages,
)
from evaluations.models import (
    EvidenceFlag,
    Exercise,
    Finding,
    ModelVersion,
    RiskArea,
    RunItem,
    SampleResult,
    TaskVersion,
)
from evaluations.models.findings import FindingState, Severity
from evaluations.reports import REDACTION_MARKER
from evaluations.reports.pdf import format_moment
from evaluations.selectors import findings as selectors
from evaluations.selectors.reports import exercise_report, findings_export
from evaluations.services import findings as services
from evaluations.templatetags.findings_tags import SEVERITY_TAGS, STATE_TAGS
from portal.forms import optional_whole_number
from portal.markdown import markdown_to_safe_html
from portal.middleware import control_characters_allowed
from portal.pagination import page_of
from portal.views import bad_request_response

PAGE_SIZE = 25
# action in the URL -> (service action for the access layer, page title, button, needs re-authentication)
ACTIONS: dict[str, tuple[str, str, str, bool]] = {
    "submit": ("submit", "Submit for review", "Submit for review", False),
    "request-changes": ("request_changes", "Request changes", "Request changes", False),
    "sign-off": ("sign_off", "Sign off this finding", "Sign off", True),
    "release": ("release", "Release to partners", "Release", True),
    "withdraw": ("withdraw", "Withdraw from partners", "Withdraw", True),
}


def _severity_label(slug: str) -> str:
    return dict(Severity.choices).get(slug, slug)


def excerpt_html(text: str) -> Any:
    """An excerpt for a page: escaped, each redaction marker as a visible tag."""
    from django.utils.html import escape

    marker = f'<span class="portal-redacted">{escape(REDACTION_MARKER)}</span>'
    return mark_safe(marker.join(str(escape(part)) for part in text.split(REDACTION_MARKER)))  # noqa: S308  # nosemgrep: portal-mark-safe - each part escaped, the marker is ours


def _filters(request: HttpRequest, *, partner: bool) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """(clean filters for the selector, raw values for the form, errors). A bad value is shown, not a 500."""
    names = selectors.PARTNER_FILTERS if partner else selectors.FILTERS
    raw = {name: (request.GET.get(name) or "").strip() for name in names}
    try:
        return selectors.finding_filters_clean(raw, partner=partner), raw, []
    except ValidationError as exc:
        errors = [f"{field.replace('_', ' ').capitalize()}: {' '.join(msgs)}"
                  for field, msgs in exc.message_dict.items()]
        return {"exercise": -1}, raw, errors  # an exercise id that matches nothing: the errors say why


def _query(raw: dict[str, str]) -> str:
    return urlencode({k: v for k, v in raw.items() if v})


# --- Lists -------------------------------------------------------------------------------------------------------

@login_required
def finding_list_view(request: HttpRequest) -> HttpResponse:
    if is_partner_viewer(request.user):
        return _partner_landing(request)
    if not is_institute_member(request.user):
        raise Http404
    filters, raw, errors = _filters(request, partner=False)
    findings = selectors.finding_list(user=request.user, **filters)
    page = page_of(request, findings, PAGE_SIZE)
    exercises = list(visible_to(request.user, Exercise.objects.all()).order_by("name"))
    return render(request, "evaluations/findings/list.html", {
        "page": page, "raw": raw, "errors": errors, "query": _query(raw), "exercises": exercises,
        "states": FindingState.choices, "severities": Severity.choices,
        "risk_areas": RiskArea.objects.order_by("ordering", "name"),
        "may_create": any(can(request.user, "create", Finding(exercise=e)) for e in exercises),
        "state_tags": STATE_TAGS, "severity_tags": SEVERITY_TAGS,
    })


def _partner_landing(request: HttpRequest) -> HttpResponse:
    filters, raw, errors = _filters(request, partner=True)
    landing = selectors.partner_landing(user=request.user, filters=filters)
    page = page_of(request, landing["releases"], PAGE_SIZE)
    rows = [{"release": r, "snapshot": r.snapshot, "severity_label": _severity_label(r.snapshot["severity"]),
             "released": format_moment(r.snapshot["released_at"])} for r in page.object_list]
    return render(request, "evaluations/findings/partner_list.html", {
        "page": page, "rows": rows, "raw": raw, "errors": errors, "query": _query(raw),
        "nothing_released": landing["nothing_released"], "choices": landing["choices"],
        "severity_choices": [(s, _severity_label(s)) for s in landing["choices"]["severity"]],
        "severity_tags": SEVERITY_TAGS, "organisation": getattr(request.user, "organisation", None),
    })


# --- One finding ---------------------------------------------------------------------------------------------

@login_required
def finding_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    if is_partner_viewer(request.user):
        return _partner_finding(request, pk)
    if not is_institute_member(request.user):
        raise Http404
    finding = selectors.finding_get(user=request.user, pk=pk)
    return render(request, "evaluations/findings/detail.html", _detail_context(request, finding, CommentForm()))


def _detail_context(request: HttpRequest, finding: Finding, comment_form: CommentForm) -> dict[str, Any]:
    evidence = [{"item": item, "redacted": excerpt_html(selectors.evidence_redacted(item)),
                 "run": item.sample.item.run, "flags": list(item.sample.evidence_flags.all())}
                for item in finding.evidence.all()]
    signed = {s.institute_id: s for s in selectors.finding_sign_offs_live(finding)}
    return {
        "finding": finding, "actions": selectors.finding_actions(user=request.user, finding=finding),
        "evidence": evidence,
        "institutes": [(inst, signed.get(inst.pk)) for inst in finding.exercise.institutes.order_by("name")],
        "summary_html": mark_safe(markdown_to_safe_html(finding.summary)),  # noqa: S308  # nosemgrep: portal-mark-safe - sanitised by nh3
        "comments": selectors.comment_list(user=request.user, finding=finding), "comment_form": comment_form,
        "releases": list(finding.releases.all()), "state_tags": STATE_TAGS, "severity_tags": SEVERITY_TAGS,
    }


def _partner_finding(request: HttpRequest, pk: int) -> HttpResponse:
    release = selectors.partner_release_get(user=request.user, finding_id=pk)
    snap = release.snapshot
    evidence = [{**item, "html": excerpt_html(item.get("excerpt", ""))} for item in snap.get("evidence", [])]
    return render(request, "evaluations/findings/partner_detail.html", {
        "release": release, "snapshot": snap, "evidence": evidence,
        "summary_html": mark_safe(markdown_to_safe_html(snap.get("summary", ""))),  # noqa: S308  # nosemgrep: portal-mark-safe - nh3
        "severity_label": _severity_label(snap["severity"]), "severity_tags": SEVERITY_TAGS,
        "released": format_moment(snap["released_at"]),
        "versions": [{"release": r, "released": format_moment(r.snapshot["released_at"])}
                     for r in selectors.partner_release_versions(user=request.user, finding_id=release.finding_id)],
    })


# --- Create and edit -----------------------------------------------------------------------------------------

def _form_choices(user: Any, exercise_ids: list[int], finding: Finding | None, extra_sample: Any) -> dict[str, Any]:
    """What the form offers: flagged samples of the exercises (plus the finding's own evidence and a sample named
    in the URL), the model and evaluation versions run in them, and the run items of those samples' runs."""
    samples = visible_to(user, SampleResult.objects.filter(item__run__exercise_id__in=exercise_ids)).filter(
        evidence_flags__isnull=False)
    ids = set(samples.values_list("pk", flat=True))
    if finding is not None:
        ids |= set(finding.evidence.values_list("sample_id", flat=True))
    if extra_sample:
        ids.add(extra_sample.pk)
    chosen = list(visible_to(user, SampleResult.objects.filter(pk__in=ids)).select_related(
        "item__run", "item__model_version__registered_model", "item__task_version__eval_task").order_by("item__run_id", "pk")[:500])
    items = visible_to(user, RunItem.objects.filter(run__exercise_id__in=exercise_ids)).select_related(
        "run", "model_version__registered_model", "task_version__eval_task")
    run_ids = {s.item.run_id for s in chosen}
    if finding is not None:
        run_ids |= set(finding.result_links.values_list("run_item__run_id", flat=True))
    run_items = list(items.filter(run_id__in=run_ids).order_by("run_id", "pk"))
    used = RunItem.objects.filter(run__exercise_id__in=exercise_ids)
    models = visible_to(user, ModelVersion.objects.filter(pk__in=used.values("model_version_id"))).select_related(
        "registered_model").order_by("registered_model__name", "number")
    tasks = visible_to(user, TaskVersion.objects.filter(pk__in=used.values("task_version_id"))).select_related(
        "eval_task").order_by("eval_task__name", "number")
    return {"samples": chosen, "run_items": run_items, "versions": {"models": list(models), "tasks": list(tasks)}}


@login_required
@institute_member_required
@require_http_methods(["GET", "POST"])
@control_characters_allowed("evidence_*_excerpt")  # quoted transcripts; the service allows them there (shown escaped)
def finding_form_view(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    finding = selectors.finding_get(user=request.user, pk=pk) if pk is not None else None
    if finding is not None:
        if not can(request.user, "edit", finding):
            raise PermissionDenied("You may not edit this finding (its institute's staff, while it is in draft or "
                                   "review and the exercise is open).")
        exercises = [finding.exercise]
    else:
        exercises = [e for e in visible_to(request.user, Exercise.objects.order_by("name"))
                     if can(request.user, "create", Finding(exercise=e))]
        if not exercises:
            raise PermissionDenied("You may not add findings: no open exercise of your institute.")
    extra_sample = None
    sample_param = request.GET.get("sample", "")
    if sample_param.isascii() and sample_param.isdigit():
        extra_sample = get_visible_or_404(request.user, SampleResult.objects.select_related("item__run"),
                                          pk=int(sample_param))
    choices = _form_choices(request.user, [e.pk for e in exercises], finding, extra_sample)
    existing = finding.evidence.count() if finding is not None else (1 if extra_sample else 0)
    slots = min(existing + EXTRA_EVIDENCE_SLOTS, MAX_EVIDENCE_SLOTS)
    if request.method == "POST":
        slots = min(max(slots, sum(1 for key in request.POST if key.endswith("_sample"))), MAX_EVIDENCE_SLOTS)
    initial = initial_for(finding) if finding is not None else {}
    if finding is None:
        exercise_param = request.GET.get("exercise", "")
        if extra_sample is not None:
            initial["exercise"] = str(extra_sample.item.run.exercise_id)
            initial["evidence_1_sample"] = str(extra_sample.pk)
            indices = [i for flag in selectors.evidence_flag_list(user=request.user, sample=extra_sample.pk)
                       for i in flag.message_indices or []]
            initial["evidence_1_excerpt"] = selectors.message_excerpt(extra_sample, sorted(set(indices)))
        elif exercise_param.isascii() and exercise_param.isdigit():
            initial["exercise"] = exercise_param
    form = FindingForm(request.POST if request.method == "POST" else None, initial=initial, exercises=exercises,
                       samples=choices["samples"], versions=choices["versions"], run_items=choices["run_items"],
                       slots=slots, editing=finding is not None)
    if request.method == "POST" and form.is_valid():
        try:
            if finding is None:
                exercise = next(e for e in exercises if str(e.pk) == form.cleaned_data["exercise"])
                finding = services.finding_create(actor=request.user, exercise=exercise, data=form.service_data(),
                                                  request=request)
                messages.success(request, "Finding saved as a draft.")
            else:
                services.finding_update(actor=request.user, finding=finding, data=form.service_data(),
                                        revision=optional_whole_number(request.POST, "revision"), request=request)
                messages.success(request, "Finding saved.")
            return redirect("finding-detail", pk=finding.pk)
        except ValidationError as exc:
            form.add_service_errors(exc)
        except services.InvalidTransition as exc:
            form.add_error(None, str(exc))
    return render(request, "evaluations/findings/form.html", {
        "form": form, "finding": finding, "no_samples": not choices["samples"]})


# --- Workflow, comments, reproduce -------------------------------------------------------------------------

def _decides(request: HttpRequest, pk: int, action: str) -> bool:
    """Signing off, releasing or withdrawing a finding the user may act on (others get their 404 or 403, not a
    re-authentication)."""
    if action not in ACTIONS or not ACTIONS[action][3]:
        return False
    finding = visible_to(request.user, Finding.objects.select_related("exercise").filter(pk=pk)).first()
    return finding is not None and can(request.user, ACTIONS[action][0], finding)


@login_required
@institute_member_required
@require_http_methods(["GET", "POST"])
@reauthentication_required(when=_decides)
def finding_action_view(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """GET: a confirmation page that says what will happen; POST: do it."""
    if action not in ACTIONS:
        raise Http404
    rule, title, button, _reauth = ACTIONS[action]
    finding = selectors.finding_get(user=request.user, pk=pk)
    if not can(request.user, rule, finding):
        raise PermissionDenied(f"You may not {title.lower()} for this finding.")
    post = request.POST if request.method == "POST" else None
    form: Any
    if action == "request-changes":
        form = ReasonForm(post)
    elif action == "release":
        form = ReleaseForm(post, partners=list(finding.exercise.partners.filter(kind="partner").order_by("name")))
    else:
        form = None
    revision = None
    if request.method == "POST":
        try:
            revision = optional_whole_number(request.POST, "revision")  # every action's page sends the one read
        except ValidationError as exc:
            return bad_request_response(request, exc.message_dict["revision"][0], field="revision")
    if request.method == "POST" and (form is None or form.is_valid()):
        try:
            if action == "submit":
                services.finding_submit(actor=request.user, finding=finding, request=request)
            elif action == "request-changes":
                services.finding_request_changes(actor=request.user, finding=finding,
                                                 reason=form.cleaned_data["reason"], request=request)
            elif action == "sign-off":
                services.finding_sign_off(actor=request.user, finding=finding, request=request, revision=revision)
            elif action == "release":
                services.finding_release(actor=request.user, finding=finding, request=request,
                                         partners=[int(p) for p in form.cleaned_data["partners"]])
            else:
                services.finding_withdraw(actor=request.user, finding=finding, request=request)
            messages.success(request, f"Done: {title[0].lower()}{title[1:]}.")
            return redirect("finding-detail", pk=finding.pk)
        except ValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
            form = form or ReasonForm()
            for field, msgs in errors.items():
                form.add_error(field if field in form.fields else None, msgs)
        except services.InvalidTransition as exc:
            form = form or ReasonForm()
            form.add_error(None, str(exc))
    return render(request, "evaluations/findings/confirm.html", {
        "finding": finding, "form": form, "action": action, "title": title, "button": button,
        "severity_tags": SEVERITY_TAGS, "state_tags": STATE_TAGS})


@login_required
@institute_member_required
@require_POST
def finding_comment_view(request: HttpRequest, pk: int) -> HttpResponse:
    finding = selectors.finding_get(user=request.user, pk=pk)
    if not can(request.user, "comment", finding):
        raise PermissionDenied("You may not comment on this finding.")
    form = CommentForm(request.POST)
    if form.is_valid():
        try:
            services.finding_comment_create(actor=request.user, finding=finding, body=form.cleaned_data["body"],
                                            request=request)
            messages.success(request, "Comment added.")
            return redirect(f"{finding_url(finding)}#comments")
        except ValidationError as exc:
            for msgs in (exc.message_dict.values() if hasattr(exc, "error_dict") else [exc.messages]):
                form.add_error("body", msgs)
    return render(request, "evaluations/findings/detail.html", _detail_context(request, finding, form), status=400)


def finding_url(finding: Finding) -> str:
    from django.urls import reverse

    return reverse("finding-detail", args=[finding.pk])


@login_required
@institute_member_required
@require_POST
def finding_reproduce_view(request: HttpRequest, pk: int, evidence_pk: int) -> HttpResponse:
    finding = selectors.finding_get(user=request.user, pk=pk)
    evidence = get_visible_or_404(request.user, finding.evidence.select_related("sample__item"), pk=evidence_pk)
    if not can(request.user, "reproduce", finding):
        raise PermissionDenied("You may not start runs in this exercise.")
    try:
        run = services.finding_reproduce(actor=request.user, evidence=evidence, request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("finding-detail", pk=finding.pk)
    messages.success(request, "A draft run was created to reproduce the sample. Submit it for approval.")
    return redirect("run-detail", pk=run.pk)


# --- Evidence flags ----------------------------------------------------------------------------------------

@login_required
@institute_member_required
@require_http_methods(["GET", "POST"])
def sample_flag_view(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the flag form on its own page; POST: flag the sample (then back to its transcript)."""
    sample = get_visible_or_404(request.user, SampleResult.objects.select_related("item__run__exercise"), pk=pk)
    if not can(request.user, "create", EvidenceFlag(sample=sample)):
        raise PermissionDenied("You may not flag samples of this exercise (its institutes' staff, while it is open).")
    form = FlagForm(request.POST if request.method == "POST" else None, messages=sample_messages(sample))
    if request.method == "POST" and form.is_valid():
        try:
            services.evidence_flag_create(actor=request.user, sample=sample, note=form.cleaned_data["note"],
                                          message_indices=[int(i) for i in form.cleaned_data["message_indices"]],
                                          request=request)
            messages.success(request, "Sample flagged as evidence.")
            return redirect("sample-detail", pk=sample.pk)
        except ValidationError as exc:
            for field, msgs in (exc.message_dict.items() if hasattr(exc, "error_dict") else [(None, exc.messages)]):
                form.add_error(field if field in form.fields else None, msgs)
    return render(request, "evaluations/findings/flag_form.html", {"sample": sample, "run": sample.item.run,
                                                                    "form": form},
                  status=400 if request.method == "POST" else 200)


@login_required
@institute_member_required
@require_POST
def flag_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    flag = get_visible_or_404(request.user, EvidenceFlag.objects.select_related("sample__item__run__exercise"), pk=pk)
    services.evidence_flag_delete(actor=request.user, flag=flag, request=request)
    messages.success(request, "Flag removed.")
    return redirect("sample-detail", pk=flag.sample_id)


# --- Downloads -------------------------------------------------------------------------------------------------

def download_response(content: str | bytes, *, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def findings_export_view(request: HttpRequest, ext: str) -> HttpResponse:
    """The findings list the reader may see, with the list's filters, as CSV or JSON."""
    if ext not in ("csv", "json"):
        raise Http404
    partner = is_partner_viewer(request.user)
    if not partner and not is_institute_member(request.user):
        raise Http404
    filters, _raw, errors = _filters(request, partner=partner)
    if errors:
        return HttpResponse("; ".join(errors), status=400, content_type="text/plain; charset=utf-8")
    text, content_type = findings_export(user=request.user, filters=filters, ext=ext)
    return download_response(text, content_type=content_type,
                             filename=f"findings-{timezone.now().strftime('%Y%m%d')}.{ext}")


@login_required
def exercise_report_view(request: HttpRequest, pk: int) -> HttpResponse:
    if not is_partner_viewer(request.user) and not is_institute_member(request.user):
        raise Http404
    pdf, filename = exercise_report(user=request.user, pk=pk)
    return download_response(pdf, content_type="application/pdf", filename=filename)
