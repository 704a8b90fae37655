"""Reads for findings: the institutes' lists and detail (with evidence, sign-offs, releases, comments, flags), the
partners' current snapshots (their landing page), release histories, evidence flags per run, and the snapshot builder
(exports: ``selectors/reports.py``).

Every read starts from the access layer. A partner viewer's reads start from ``Release`` (never ``Finding``) and look
only at the stored snapshot, so nothing written after a release reaches them."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.http import Http404

from accounts.access import (
    can,
    get_visible_or_404,
    is_admin,
    is_approver,
    is_partner_viewer,
    visible_to,
)
from evaluations.models import (
    EvidenceFlag,
    EvidenceItem,
    Finding,
    FindingComment,
    FindingRunItem,
    FindingSignOff,
    ModelVersion,
    Release,
    RiskArea,
    SampleResult,
    TaskVersion,
)
from evaluations.models.findings import FindingState, Severity
from evaluations.snapshots import redact

MAX_EXCERPT_CHARS = 20_000
FILTERS = ("exercise", "state", "severity", "risk_area", "model", "q")


# --- Filters ------------------------------------------------------------------------------------------------------

def _refuse(name: str, message: str) -> Any:
    raise ValidationError({name: message})


def _exercise_filter(value: str) -> int:
    return int(value) if value.isdigit() else _refuse("exercise", "Give an exercise id (a whole number).")


def _choice_filter(name: str, choices: Sequence[str]) -> Any:
    return lambda value: value if value in choices else _refuse(name, f"Choose one of {', '.join(choices)}.")


def _risk_area_filter(value: str) -> str:
    return value if RiskArea.objects.filter(slug=value).exists() else _refuse("risk_area", "No risk area with this slug.")


def _text_filter(name: str, message: str) -> Any:
    return lambda value: value if len(value) <= 200 else _refuse(name, message)


# (parameter, check of its stripped non-empty value: the cleaned value, or a ValidationError naming it)
_FILTER_CHECKS: tuple[tuple[str, Any], ...] = (
    ("exercise", _exercise_filter),
    ("severity", _choice_filter("severity", Severity.values)),
    ("risk_area", _risk_area_filter),
    ("model", _text_filter("model", "Give a model name of at most 200 characters.")),
    ("state", _choice_filter("state", FindingState.values)),
    ("q", _text_filter("q", "Give at most 200 characters.")),
)
PARTNER_FILTERS = ("exercise", "severity", "risk_area", "model")  # a snapshot has no state and no search


def partner_filters(filters: Mapping[str, Any]) -> dict[str, Any]:
    """The filters a partner's list applies (``finding_filters_clean`` output narrowed to a snapshot's fields)."""
    return {k: v for k, v in filters.items() if k in PARTNER_FILTERS}


def finding_filters_clean(params: Mapping[str, Any], *, partner: bool = False) -> dict[str, Any]:
    """Query parameters of a findings list -> filters; a bad value is a ``ValidationError`` naming the parameter.
    Empty values mean "any". Partners filter by severity, risk area, model and exercise (a snapshot has no state)."""
    out: dict[str, Any] = {}
    for name in FILTERS:
        if "\x00" in (params.get(name) or ""):
            raise ValidationError({name: "Null characters are not allowed."})
    for name, check in _FILTER_CHECKS:
        if partner and name not in PARTNER_FILTERS:
            continue
        value = (params.get(name) or "").strip()
        if value:
            out[name] = check(value)
    return out


# --- Institutes -----------------------------------------------------------------------------------------------------

def finding_list(*, user: Any, exercise: int | None = None, state: str | None = None, severity: str | None = None,
                 risk_area: str | None = None, model: str | None = None, q: str | None = None) -> QuerySet[Finding]:
    findings = visible_to(user, Finding.objects.select_related("exercise", "risk_area", "author", "owner"))
    if exercise:
        findings = findings.filter(exercise_id=exercise)
    if state:
        findings = findings.filter(state=state)
    if severity:
        findings = findings.filter(severity=severity)
    if risk_area:
        findings = findings.filter(risk_area__slug=risk_area)
    if model:
        findings = findings.filter(pk__in=Finding.objects.filter(
            model_versions__registered_model__name=model).values("pk"))
    if q:
        findings = findings.filter(Q(title__icontains=q) | Q(summary__icontains=q))
    # Each version with its model or evaluation joined: one query per relation whether or not a finding of the page
    # names one ("model_versions__registered_model" made a second query only when one did, issue 13).
    return findings.prefetch_related(
        Prefetch("model_versions", queryset=ModelVersion.objects.select_related("registered_model")),
        Prefetch("task_versions", queryset=TaskVersion.objects.select_related("eval_task")),
    ).order_by("-updated_at", "-id")


def finding_get(*, user: Any, pk: Any) -> Finding:
    """One finding with everything its page shows: evidence (with sample, run item, model and task versions, and the
    flags on those samples), linked run items, sign-offs, releases and comments. 404 when not visible."""
    evidence = EvidenceItem.objects.select_related(
        "sample__item__run", "sample__item__model_version__registered_model",
        "sample__item__task_version__eval_task").prefetch_related(
        Prefetch("sample__evidence_flags", queryset=EvidenceFlag.objects.select_related("created_by", "sample__item")))
    queryset = Finding.objects.select_related("exercise", "risk_area", "author", "owner").prefetch_related(
        Prefetch("evidence", queryset=evidence.order_by("position")),
        "result_links__run_item__model_version__registered_model", "result_links__run_item__task_version__eval_task",
        Prefetch("sign_offs", queryset=FindingSignOff.objects.select_related("approver", "institute")),
        Prefetch("releases", queryset=Release.objects.select_related("released_by", "withdrawn_by")
                 .prefetch_related("partners").order_by("-version")),
        Prefetch("comments", queryset=FindingComment.objects.select_related("author").prefetch_related("mentions")),
        "model_versions__registered_model", "task_versions__eval_task",
    )
    return get_visible_or_404(user, queryset, pk=pk)


def finding_actions(*, user: Any, finding: Finding) -> list[str]:
    """What the user may do to the finding now (role, from the access layer, and state): for buttons."""
    state = finding.state
    live = any(r.withdrawn_at is None for r in finding.releases.all())
    wanted = {
        "edit": True,
        "submit": state == FindingState.DRAFT,
        "request_changes": state in (FindingState.IN_REVIEW, FindingState.SIGNED_OFF),
        "sign_off": state == FindingState.IN_REVIEW and not any(
            s.voided_at is None and s.revision == finding.revision and s.institute_id == user.organisation_id
            for s in finding.sign_offs.all()),
        "release": state == FindingState.SIGNED_OFF,
        "withdraw": live,
        "comment": True,
        "reproduce": True,
    }
    return [action for action, possible in wanted.items() if possible and can(user, action, finding)]


def finding_sign_offs_live(finding: Finding) -> list[FindingSignOff]:
    return [s for s in finding.sign_offs.all() if s.voided_at is None and s.revision == finding.revision]


def evidence_redacted(item: EvidenceItem) -> str:
    """The excerpt as partners would see it (a preview for the finding's page)."""
    return redact(item.excerpt, item.redactions)


def evidence_flag_list(*, user: Any, run: int | None = None, sample: int | None = None) -> QuerySet[EvidenceFlag]:
    flags = visible_to(user, EvidenceFlag.objects.select_related("created_by", "sample__item"))
    if run:
        flags = flags.filter(sample__item__run_id=run)
    if sample:
        flags = flags.filter(sample_id=sample)
    return flags.order_by("-created_at", "-id")


def flagged_samples(*, user: Any, run: int) -> QuerySet[SampleResult]:
    """Samples of a run with at least one flag (for "draft a finding from the flagged samples")."""
    return visible_to(user, SampleResult.objects.filter(item__run_id=run, evidence_flags__isnull=False)).distinct()


def _message_text(message: Any) -> str:
    if not isinstance(message, dict):
        return str(message)
    content = message.get("content", "")
    if isinstance(content, list):
        content = "\n".join(str(part.get("text", "")) if isinstance(part, dict) else str(part) for part in content)
    return f"{message.get('role', 'message')}: {content}"


def message_excerpt(sample: SampleResult, indices: Sequence[int]) -> str:
    """The chosen messages of a sample as excerpt text ("role: content", a blank line between messages)."""
    messages = sample.messages or []
    return "\n\n".join(_message_text(messages[i]) for i in indices if 0 <= i < len(messages))[:MAX_EXCERPT_CHARS]


def evidence_from_flags(*, user: Any, flag_ids: list[int]) -> list[dict[str, Any]]:
    """Evidence items prefilled from evidence flags the user sees (for "draft a finding from these flags"): the
    flag's sample and its chosen messages as the excerpt, no redaction yet. Unknown or invisible flags are skipped."""
    flags = visible_to(user, EvidenceFlag.objects.filter(pk__in=flag_ids)).select_related("sample")
    return [{"sample": flag.sample_id, "message_indices": list(flag.message_indices),
             "excerpt": message_excerpt(flag.sample, flag.message_indices), "redactions": []}
            for flag in sorted(flags, key=lambda f: flag_ids.index(f.pk))]


def comment_list(*, user: Any, finding: Finding) -> QuerySet[FindingComment]:
    return visible_to(user, FindingComment.objects.filter(finding=finding)).select_related("author").prefetch_related(
        "mentions").order_by("created_at", "id")


def risk_area_list(*, user: Any) -> QuerySet[RiskArea]:
    return visible_to(user, RiskArea.objects.all()).order_by("ordering", "name")


# --- Releases (partners and institutes) ------------------------------------------------------------------------------

def release_list(*, user: Any, finding: int | None = None) -> QuerySet[Release]:
    """Releases the user may read: for partners, every live version naming their organisation; for institute members,
    every release (withdrawn ones too) of the findings they see."""
    releases = visible_to(user, Release.objects.select_related("finding", "released_by", "withdrawn_by")
                          .prefetch_related("partners"))
    if finding:
        releases = releases.filter(finding_id=finding)
    return releases.order_by("-released_at", "-id")


def partner_current_releases(*, user: Any, exercise: int | None = None, severity: str | None = None,
                             risk_area: str | None = None, model: str | None = None) -> QuerySet[Release]:
    """Per finding, the newest release the partner may read (their organisation named, not withdrawn, exercise still
    inviting them), filtered on what its snapshot says."""
    if not is_partner_viewer(user):
        return Release.objects.none()
    readable = visible_to(user, Release.objects.all())
    newest = readable.order_by("finding_id", "-version").distinct("finding_id").values("pk")
    current = Release.objects.filter(pk__in=Subquery(newest))
    if exercise:
        current = current.filter(snapshot__exercise__id=exercise)
    if severity:
        current = current.filter(snapshot__severity=severity)
    if risk_area:
        current = current.filter(snapshot__risk_area__slug=risk_area)
    if model:
        current = current.filter(snapshot__models__contains=[{"name": model}])
    return current.order_by("-released_at", "-id")


def partner_release_get(*, user: Any, finding_id: Any) -> Release:
    """The partner's current snapshot of one finding; 404 for anything not currently released to them."""
    try:
        finding_id = int(finding_id)
    except (TypeError, ValueError):
        raise Http404("Not found.") from None
    release = partner_current_releases(user=user).filter(finding_id=finding_id).first()
    if release is None:
        raise Http404("Not found.")
    return release


def partner_release_versions(*, user: Any, finding_id: int) -> list[Release]:
    """The versions of one finding the partner may read (newest first): the current one and its live history."""
    return list(visible_to(user, Release.objects.filter(finding_id=finding_id)).order_by("-version"))


def partner_landing(*, user: Any, filters: Mapping[str, Any]) -> dict[str, Any]:
    """Data for a partner viewer's landing page: their current snapshots (filtered) and the filter choices drawn
    from all their current snapshots (so a choice never names something they cannot see)."""
    everything = list(partner_current_releases(user=user).values_list("snapshot", flat=True))
    releases = partner_current_releases(user=user, **partner_filters(filters))
    severities = [s for s in Severity.values if any(snap["severity"] == s for snap in everything)]
    return {
        "releases": releases,
        "nothing_released": not everything,
        "choices": {
            "severity": severities,
            "risk_area": sorted({(snap["risk_area"]["slug"], snap["risk_area"]["name"]) for snap in everything}),
            "model": sorted({m["name"] for snap in everything for m in snap["models"]}),
            "exercise": sorted({(snap["exercise"]["id"], snap["exercise"]["name"]) for snap in everything}),
        },
    }


# --- Release snapshots (a read: services/findings.py's finding_release stores what this builds) ---------------------

SNAPSHOT_SCHEMA = 1


def _snapshot_number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    return value


def _model_ref(version: ModelVersion | None) -> dict[str, Any]:
    if version is None:
        return {"name": "Unregistered model (imported log)", "version": None}
    return {"name": version.registered_model.name, "version": version.number}


def _task_ref(version: TaskVersion | None, label: str = "") -> dict[str, Any]:
    if version is None:
        name = label.rsplit("@", 1)[-1].rsplit("/", 1)[-1] or "Imported evaluation"
        return {"name": name, "version": None}
    return {"name": version.eval_task.name, "version": version.number}


SNAPSHOT_PREFETCH = (
    "model_versions__registered_model", "task_versions__eval_task",
    Prefetch("evidence", queryset=EvidenceItem.objects.select_related(
        "sample__item__model_version__registered_model", "sample__item__task_version__eval_task")),
    Prefetch("result_links", queryset=FindingRunItem.objects.select_related(
        "run_item__model_version__registered_model", "run_item__task_version__eval_task")),
)  # what finding_snapshot_build reads: prefetched for many findings at once (the exports), one query each


def _related(finding: Finding, name: str, *select: str) -> list[Any]:
    """A finding's related rows for the snapshot: the prefetched ones (``SNAPSHOT_PREFETCH``) when there are, else
    one query; ordered by position (then id), where the model has one."""
    manager = getattr(finding, name)
    prefetched = name in getattr(finding, "_prefetched_objects_cache", {})
    rows = list(manager.all() if prefetched else manager.select_related(*select))
    if rows and hasattr(rows[0], "position"):
        rows.sort(key=lambda row: (row.position, row.pk))
    return rows


def finding_snapshot_build(*, finding: Finding, version: int, partners: Sequence[Any], released_at: Any) -> dict[str, Any]:
    """What a partner can ever see of a finding (notes/findings-contract.md): whitelisted fields only; evidence
    excerpts with every redacted span replaced by ``REDACTION_MARKER``. No credential, base URL, provider model
    string, comment, flag note, unredacted span or e-mail address."""
    models = sorted(
        (_model_ref(mv) for mv in _related(finding, "model_versions", "registered_model")),
        key=lambda m: (m["name"], m["version"] or 0))
    evaluations = sorted(
        (_task_ref(tv) for tv in _related(finding, "task_versions", "eval_task")),
        key=lambda t: (t["name"], t["version"] or 0))
    evidence = []
    for item in _related(finding, "evidence", "sample__item__model_version__registered_model",
                         "sample__item__task_version__eval_task"):
        run_item = item.sample.item
        evidence.append({
            "position": item.position,
            "model": _model_ref(run_item.model_version),
            "evaluation": _task_ref(run_item.task_version, run_item.task_label),
            "sample_id": item.sample.sample_id,
            "epoch": item.sample.epoch,
            "excerpt": redact(item.excerpt, item.redactions),
        })
    results = []
    for link in _related(finding, "result_links", "run_item__model_version__registered_model",
                         "run_item__task_version__eval_task"):
        results.append({
            "model": _model_ref(link.run_item.model_version),
            "evaluation": _task_ref(link.run_item.task_version, link.run_item.task_label),
            "metrics": {k: _snapshot_number(v) for k, v in link.metrics.items()},
            "intervals": {k: [_snapshot_number(v[0]), _snapshot_number(v[1])] for k, v in link.intervals.items()},
            "samples": link.samples,
        })
    return {
        "schema": SNAPSHOT_SCHEMA,
        "finding": finding.pk,
        "version": version,
        "exercise": {"id": finding.exercise_id, "name": finding.exercise.name},
        "title": finding.title,
        "summary": finding.summary,
        "severity": finding.severity,
        "risk_area": {"slug": finding.risk_area.slug, "name": finding.risk_area.name},
        "models": models,
        "evaluations": evaluations,
        "evidence": evidence,
        "results": results,
        "released_at": released_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "partners": sorted(p.name for p in partners),
    }
# --- Home page (issue 12) ---------------------------------------------------------------------------------------

def finding_list_awaiting_sign_off(*, user: Any) -> QuerySet[Finding]:
    """Findings in review that an approver may sign off for their institute: their institute takes part, it has not
    signed off the current revision, and they are not the author. Empty for anyone else."""
    if not is_approver(user) or is_admin(user):
        return Finding.objects.none()
    signed = FindingSignOff.objects.filter(finding=OuterRef("pk"), revision=OuterRef("revision"),
                                           institute_id=user.organisation_id, voided_at__isnull=True)
    return (finding_list(user=user).filter(state=FindingState.IN_REVIEW, exercise__institutes=user.organisation_id)
            .exclude(exercise__status="closed").exclude(exercise__archived_at__isnull=False)
            .exclude(author=user).exclude(Exists(signed)).order_by("submitted_at", "pk"))


def finding_list_changes_requested(*, user: Any, limit: int = 5) -> list[Finding]:
    """The user's own draft findings an approver sent back with a reason."""
    return list(finding_list(user=user).filter(author=user, state=FindingState.DRAFT)
                .exclude(changes_requested_reason="")[:limit])
