"""Writes for findings (issue 11). Every service is one transaction with its audit event inside; every workflow step
locks the finding's row and moves its state with a conditional UPDATE (losing one raises ``InvalidTransition``).

Finding states (a release's withdrawal is a state of the Release, not of the finding):

    draft -> in_review                 finding_submit (a member of the author's institute)
    in_review -> signed_off            finding_sign_off, once one approver of each taking-part institute signed off the
                                       current revision (evaluations/services/signoff.py; never the author)
    in_review|signed_off -> draft      finding_request_changes (reason; anyone taking part but the author); voids
                                       the sign-offs
    signed_off -> released             finding_release (an approver; partners invited to the exercise); a new Release
                                       version with an immutable snapshot, its SHA-256 and the audit chain head
    released -> signed_off             finding_withdraw, once no release of it is live any more
    edit (finding_update):             draft stays draft; in_review, signed_off and released go to in_review: the
                                       revision goes up and every sign-off is voided. A live release stays what
                                       partners see until the finding is signed off and released again (a new
                                       version), or withdrawn.

A closed exercise is read-only: no new finding, flag, comment or workflow step; withdrawing a release stays possible
(it only hides).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.http import HttpRequest
from django.utils import timezone

from accounts.access import VIEW, can, require, visible_to
from accounts.models import Organisation, User
from evaluations.models import (
    EvidenceFlag,
    EvidenceItem,
    Exercise,
    Finding,
    FindingComment,
    FindingRunItem,
    FindingSignOff,
    ModelVersion,
    Notification,
    Release,
    RiskArea,
    Run,
    RunItem,
    SampleResult,
    TaskVersion,
)
from evaluations.models.findings import FindingState, Severity
from evaluations.selectors.comparisons import item_score_estimate
from evaluations.selectors.findings import (
    MAX_EXCERPT_CHARS,
    SNAPSHOT_SCHEMA,
    finding_snapshot_build,
    message_excerpt,
)
from evaluations.services.notifications import notify
from evaluations.services.runs import run_create
from evaluations.services.signoff import (
    AlreadySignedOff,
    signoff_approvers,
    signoff_decide,
    signoff_institutes,
)
from evaluations.snapshots import (
    REDACTION_MARKER,
    RedactionError,
    redactions_validate,
    snapshot_sha256,
)
from portal.audit import audit_chain_head, audit_record
from portal.errors import Conflict

__all__ = ["REDACTION_MARKER", "SNAPSHOT_SCHEMA", "InvalidTransition", "finding_snapshot_build"]

MAX_TITLE = 200
MAX_SUMMARY = 20_000
MAX_EXCERPT = MAX_EXCERPT_CHARS
MAX_NOTE = 2_000
MAX_REASON = 2_000
MAX_COMMENT = 10_000
MAX_EVIDENCE = 50
MAX_LINKS = 50
FINDING_FIELDS = ("title", "summary", "severity", "risk_area", "evidence", "model_versions", "task_versions",
                  "run_items")
EVIDENCE_KEYS = {"sample", "excerpt", "redactions", "message_indices"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class InvalidTransition(Conflict):
    """The finding was not in the state the action needs (another request changed it first): 409."""


_MENTION = re.compile(r"(?<![\w.@])@([A-Za-z0-9._%+-]+(?:@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)?)")


# --- Input ---------------------------------------------------------------------------------------------------

def clean_text(value: Any, *, field: str, max_length: int, required: bool = False, single_line: bool = False,
               allow_controls: bool = False) -> str:
    """A text field: a string of at most ``max_length`` characters; never a NUL (PostgreSQL cannot store it); no
    other control character except tab and line breaks (none at all in a single-line field) unless
    ``allow_controls`` (transcript excerpts, shown escaped)."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError({field: "Give text."})
    if "\x00" in value:
        raise ValidationError({field: "The text contains a NUL character."})
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError({field: "The text is not valid Unicode (a lone surrogate)."}) from None
    if single_line and ("\n" in value or "\r" in value or "\t" in value):
        raise ValidationError({field: "Give one line of text."})
    if not allow_controls and _CONTROL.search(value):
        raise ValidationError({field: "The text contains control characters."})
    if len(value) > max_length:
        raise ValidationError({field: f"Give at most {max_length:,} characters (this has {len(value):,})."})
    if required and not value.strip():
        raise ValidationError({field: "This field is required."})
    return value.strip() if single_line else value


def _int_list(value: Any, *, field: str, max_items: int) -> list[int]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ValidationError({field: "Give a list of ids (whole numbers)."})
    if len(value) > max_items:
        raise ValidationError({field: f"Give at most {max_items} ids."})
    return list(dict.fromkeys(value))


def _message_indices(value: Any, *, field: str, sample: SampleResult) -> list[int]:
    if value is None:
        return []
    count = len(sample.messages or [])
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ValidationError({field: "Give a list of message numbers (whole numbers)."})
    for index in value:
        if not 0 <= index < count:
            has = f"{count} messages (0 to {count - 1})" if count else "no messages"
            raise ValidationError({field: f"Message {index} does not exist: the sample has {has}."})
    return sorted(set(value))


def _risk_area(value: Any) -> RiskArea:
    if isinstance(value, RiskArea):
        return value
    if isinstance(value, str) and value and "\x00" not in value:
        found = RiskArea.objects.filter(slug=value).first()
    elif isinstance(value, int) and not isinstance(value, bool):
        found = RiskArea.objects.filter(pk=value).first()
    else:
        found = None
    if found is None:
        slugs = ", ".join(RiskArea.objects.values_list("slug", flat=True))
        raise ValidationError({"risk_area": f"Choose a risk area: one of {slugs}."})
    return found


def _severity(value: Any) -> str:
    if value not in Severity.values:
        raise ValidationError({"severity": f"Choose a severity: one of {', '.join(Severity.values)}."})
    return str(value)


def _samples_of_exercise(actor: Any, exercise: Exercise, ids: Iterable[int]) -> dict[int, SampleResult]:
    visible = visible_to(actor, SampleResult.objects.filter(pk__in=list(ids), item__run__exercise=exercise))
    return {s.pk: s for s in visible.select_related("item__model_version__registered_model",
                                                    "item__task_version__eval_task", "item__run")}


def _evidence(actor: Any, exercise: Exercise, value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValidationError({"evidence": 'Give a list of {"sample": id, "excerpt": text, "redactions": [...]}.'})
    if len(value) > MAX_EVIDENCE:
        raise ValidationError({"evidence": f"Give at most {MAX_EVIDENCE} evidence items."})
    for number, entry in enumerate(value, start=1):
        if not isinstance(entry, dict):
            raise ValidationError({"evidence": f"Evidence item {number}: give an object with sample and excerpt."})
        unknown = set(entry) - EVIDENCE_KEYS
        if unknown:
            raise ValidationError({"evidence": f"Evidence item {number}: unknown field {sorted(unknown)[0]}."})
        if not isinstance(entry.get("sample"), int) or isinstance(entry.get("sample"), bool):
            raise ValidationError({"evidence": f"Evidence item {number}: sample: give the sample's id."})
    samples = _samples_of_exercise(actor, exercise, [e["sample"] for e in value])
    cleaned: list[dict[str, Any]] = []
    for number, entry in enumerate(value, start=1):
        sample = samples.get(entry["sample"])
        if sample is None:  # invisible reads as unknown
            raise ValidationError({"evidence": f"Evidence item {number}: sample {entry['sample']} does not exist "
                                               "in this exercise."})
        label = f"Evidence item {number}"
        try:
            indices = _message_indices(entry.get("message_indices"), field="evidence", sample=sample)
            excerpt = clean_text(entry.get("excerpt"), field="evidence", max_length=MAX_EXCERPT, allow_controls=True)
        except ValidationError as exc:
            raise ValidationError({"evidence": f"{label}: {_first(exc)}"}) from None
        if not excerpt.strip() and indices:
            excerpt = message_excerpt(sample, indices)
        if not excerpt.strip():
            raise ValidationError({"evidence": f"{label}: excerpt: give the quoted text (or message_indices)."})
        try:
            redactions = redactions_validate(entry.get("redactions"), len(excerpt))
        except RedactionError as exc:
            raise ValidationError({"evidence": f"{label}: redactions: {exc}"}) from None
        cleaned.append({"sample": sample, "excerpt": excerpt, "redactions": redactions, "message_indices": indices})
    return cleaned


def _first(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(str(m) for messages in exc.message_dict.values() for m in messages)
    return "; ".join(exc.messages)


def _versions(actor: Any, exercise: Exercise, ids: list[int], model: type[Any], field: str) -> list[Any]:
    """Model or evaluation versions picked through the access layer, registered in the finding's exercise (or run
    in it); an invisible one reads as unknown."""
    found: list[Any]
    if model is ModelVersion:
        found = list(visible_to(actor, ModelVersion.objects.filter(pk__in=ids)).select_related("registered_model"))
        in_exercise = {mv.pk for mv in found if mv.registered_model.exercises.filter(pk=exercise.pk).exists()
                       or mv.run_items.filter(run__exercise=exercise).exists()}
    else:
        found = list(visible_to(actor, TaskVersion.objects.filter(pk__in=ids)).select_related("eval_task"))
        in_exercise = {tv.pk for tv in found if tv.eval_task.exercises.filter(pk=exercise.pk).exists()
                       or tv.run_items.filter(run__exercise=exercise).exists()}
    by_pk = {obj.pk: obj for obj in found}
    for pk in ids:
        if pk not in in_exercise:
            raise ValidationError({field: f"Version {pk} does not exist in this exercise."})
    return [by_pk[pk] for pk in ids]


def _run_items(actor: Any, exercise: Exercise, ids: list[int]) -> list[RunItem]:
    found = {item.pk: item for item in visible_to(actor, RunItem.objects.filter(pk__in=ids, run__exercise=exercise))}
    for pk in ids:
        if pk not in found:
            raise ValidationError({"run_items": f"Run item {pk} does not exist in this exercise."})
    return [found[pk] for pk in ids]


def _clean(*, actor: Any, exercise: Exercise, data: dict[str, Any], partial: bool) -> dict[str, Any]:
    """Every field of a finding checked; a ``ValidationError`` names the first bad field. Nothing is written."""
    if not isinstance(data, dict):
        raise ValidationError("Give an object of finding fields.")
    unknown = set(data) - set(FINDING_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "Unknown field."))
    out: dict[str, Any] = {}
    if not partial or "title" in data:
        out["title"] = clean_text(data.get("title"), field="title", max_length=MAX_TITLE, required=True,
                                  single_line=True)
    if not partial or "summary" in data:
        out["summary"] = clean_text(data.get("summary"), field="summary", max_length=MAX_SUMMARY)
    if not partial or "severity" in data:
        out["severity"] = _severity(data.get("severity"))
    if not partial or "risk_area" in data:
        out["risk_area"] = _risk_area(data.get("risk_area"))
    if not partial or "evidence" in data:
        out["evidence"] = _evidence(actor, exercise, data.get("evidence"))
    for field, model in (("model_versions", ModelVersion), ("task_versions", TaskVersion)):
        if field in data and data[field] is not None:
            ids = _int_list(data[field], field=field, max_items=MAX_LINKS)
            out[field] = _versions(actor, exercise, ids, model, field)
    if not partial or "run_items" in data:
        out["run_items"] = _run_items(actor, exercise, _int_list(data.get("run_items"), field="run_items",
                                                                 max_items=MAX_LINKS))
    return out


# --- Derived data ----------------------------------------------------------------------------------------------

def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    return value


def metrics_flatten(metrics: Any) -> dict[str, float | int]:
    """``{scorer: {metric: value}}`` -> ``{metric: value}`` (``scorer/metric`` when the item has several scorers)."""
    if not isinstance(metrics, dict):
        return {}
    scorers = [k for k, v in metrics.items() if isinstance(v, dict)]
    out: dict[str, float | int] = {}
    for scorer, values in metrics.items():
        if isinstance(values, dict):
            for name, value in values.items():
                number = _number(value)
                if number is not None:
                    out[name if len(scorers) == 1 else f"{scorer}/{name}"] = number
        else:
            number = _number(values)
            if number is not None:
                out[str(scorer)] = number
    return out


def run_item_results(item: RunItem) -> dict[str, Any]:
    """The item's metrics and 95% intervals now: metrics with a reported stderr get value ± 1.96 stderr; the mean
    sample score gets the interval compare/ computes (evaluations.selectors.comparisons.item_score_estimate)."""
    metrics = metrics_flatten(item.metrics)
    intervals: dict[str, list[float]] = {}
    for key, value in metrics.items():
        if key.endswith("stderr"):
            continue
        prefix = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
        stderr = metrics.get(f"{prefix}stderr")
        if stderr is not None:
            intervals[key] = [round(value - 1.96 * stderr, 6), round(value + 1.96 * stderr, 6)]
    score = item_score_estimate(item=item)
    if score["mean"] is not None:
        metrics["mean_score"] = round(score["mean"], 6)
        if score["ci95"] is not None:
            intervals["mean_score"] = [round(score["ci95"][0], 6), round(score["ci95"][1], 6)]
    return {"metrics": metrics, "intervals": intervals, "samples": int(score["n"])}


def _derived_versions(evidence: Sequence[dict[str, Any]], items: Sequence[RunItem]) -> tuple[list[Any], list[Any]]:
    run_items = [e["sample"].item for e in evidence] + list(items)
    models = list(dict.fromkeys(i.model_version for i in run_items if i.model_version_id))
    tasks = list(dict.fromkeys(i.task_version for i in run_items if i.task_version_id))
    return models, tasks


def _write_children(*, finding: Finding, cleaned: dict[str, Any]) -> None:
    if "evidence" in cleaned:
        finding.evidence.all().delete()
        EvidenceItem.objects.bulk_create([
            EvidenceItem(finding=finding, sample=e["sample"], excerpt=e["excerpt"], redactions=e["redactions"],
                         message_indices=e["message_indices"], position=position)
            for position, e in enumerate(cleaned["evidence"], start=1)
        ])
    if "run_items" in cleaned:
        finding.result_links.all().delete()
        FindingRunItem.objects.bulk_create([
            FindingRunItem(finding=finding, run_item=item, position=position, **run_item_results(item))
            for position, item in enumerate(cleaned["run_items"], start=1)
        ])
    evidence = [{"sample": e.sample} for e in finding.evidence.select_related(
        "sample__item__model_version", "sample__item__task_version")]
    derived_models, derived_tasks = _derived_versions(evidence, [link.run_item for link in finding.result_links
                                                                 .select_related("run_item")])
    if "model_versions" in cleaned:
        finding.model_versions.set(cleaned["model_versions"])
    elif "evidence" in cleaned or "run_items" in cleaned:
        finding.model_versions.set(derived_models)
    if "task_versions" in cleaned:
        finding.task_versions.set(cleaned["task_versions"])
    elif "evidence" in cleaned or "run_items" in cleaned:
        finding.task_versions.set(derived_tasks)


def finding_audit_state(finding: Finding) -> dict[str, Any]:
    """What the audit trail records of a finding (no excerpt text: spans and sample ids only)."""
    return {
        "state": finding.state,
        "revision": finding.revision,
        "title": finding.title,
        "severity": finding.severity,
        "risk_area": finding.risk_area.slug,
        "evidence": [{"sample": e.sample_id, "redactions": e.redactions}
                     for e in finding.evidence.order_by("position")],
        "model_versions": sorted(finding.model_versions.values_list("pk", flat=True)),
        "task_versions": sorted(finding.task_versions.values_list("pk", flat=True)),
        "run_items": sorted(finding.result_links.values_list("run_item_id", flat=True)),
    }


def _lock(finding: Finding) -> Finding:
    return Finding.objects.select_for_update().select_related("exercise", "risk_area").get(pk=finding.pk)


def _transition(finding: Finding, from_states: Iterable[str], to_state: str, **fields: Any) -> None:
    states = tuple(from_states)
    updated = Finding.objects.filter(pk=finding.pk, state__in=states).update(state=to_state,
                                                                            updated_at=timezone.now(), **fields)
    if not updated:
        current = Finding.objects.filter(pk=finding.pk).values_list("state", flat=True).first()
        raise InvalidTransition(f"The finding is {current or 'gone'}; this needs it to be {' or '.join(states)}.")


def _expect(finding: Finding, states: Sequence[str], needs: str) -> None:
    """409 unless the (locked) finding is in one of ``states``."""
    if finding.state not in states:
        raise InvalidTransition(f"The finding is {finding.get_state_display().lower()}; {needs}.")


def _void_sign_offs(finding: Finding, now: Any) -> int:
    return FindingSignOff.objects.filter(finding=finding, voided_at__isnull=True).update(voided_at=now)


def _institute_ids(exercise: Exercise) -> list[int]:
    return list(exercise.institutes.values_list("pk", flat=True))


def _members(exercise: Exercise) -> Any:
    return User.objects.filter(organisation__in=_institute_ids(exercise), is_active=True,
                               role__in=[User.Role.STAFF, User.Role.APPROVER])


def _approvers(exercise: Exercise) -> Any:
    return signoff_approvers(exercise=exercise)


def _quote(finding: Finding) -> str:
    return f"“{finding.title}”"


# --- Findings -----------------------------------------------------------------------------------------------------

@transaction.atomic
def finding_create(*, actor: Any, exercise: Exercise, data: dict[str, Any],
                   request: HttpRequest | None = None) -> Finding:
    """A draft finding in ``exercise`` by ``actor`` (staff or approver of a taking-part institute; exercise open)."""
    require(actor, "create", Finding(exercise=exercise, owner_id=actor.organisation_id),
            "You may not add a finding to this exercise (its institutes' staff only, while it is open).")
    cleaned = _clean(actor=actor, exercise=exercise, data=data, partial=False)
    finding = Finding.objects.create(exercise=exercise, author=actor, owner_id=actor.organisation_id,
                                     title=cleaned["title"], summary=cleaned["summary"],
                                     severity=cleaned["severity"], risk_area=cleaned["risk_area"])
    _write_children(finding=finding, cleaned=cleaned)
    audit_record(actor=actor, action="finding.create", obj=finding, after=finding_audit_state(finding),
                 request=request, exercise_id=exercise.pk)
    return finding


@transaction.atomic
def finding_update(*, actor: Any, finding: Finding, data: dict[str, Any], revision: int | None = None,
                   request: HttpRequest | None = None) -> Finding:
    """Edit fields (only those given). The revision goes up and every sign-off is voided; a finding that was in
    review, signed off or released goes (back) to in review; a draft stays a draft."""
    finding = _lock(finding)
    require(actor, "edit", finding, "You may not edit this finding (its institute's staff only, while the exercise "
                                    "is open).")
    if revision is not None and revision != finding.revision:
        raise InvalidTransition("The finding changed since you read it; read it again before editing.")
    cleaned = _clean(actor=actor, exercise=finding.exercise, data=data, partial=True)
    if not cleaned:
        raise ValidationError({"title": "Give at least one field to change."})
    before = finding_audit_state(finding)
    now = timezone.now()
    fields = {k: cleaned[k] for k in ("title", "summary", "severity", "risk_area") if k in cleaned}
    to_state = FindingState.DRAFT if finding.state == FindingState.DRAFT else FindingState.IN_REVIEW
    _transition(finding, [finding.state], to_state, revision=finding.revision + 1,
                signed_off_at=None, **fields)
    voided = _void_sign_offs(finding, now)
    finding.refresh_from_db()
    _write_children(finding=finding, cleaned=cleaned)
    audit_record(actor=actor, action="finding.update", obj=finding, before=before,
                 after={**finding_audit_state(finding), "sign_offs_voided": voided}, request=request,
                 exercise_id=finding.exercise_id)
    if to_state == FindingState.IN_REVIEW:
        notify(users=_approvers(finding.exercise).exclude(pk=actor.pk), run=None, finding=finding,
               kind=Notification.Kind.SIGN_OFF_NEEDED,
               text=f"Finding {_quote(finding)} was edited by {actor.email}: it needs your institute's sign-off "
                    f"(revision {finding.revision})." + (" Earlier sign-offs were voided." if voided else ""))
    return finding


@transaction.atomic
def finding_submit(*, actor: Any, finding: Finding, request: HttpRequest | None = None) -> Finding:
    finding = _lock(finding)
    require(actor, "submit", finding, "You may not submit this finding (its institute's staff only).")
    _expect(finding, [FindingState.DRAFT], "only a draft is submitted")
    if not finding.evidence.exists() and not finding.result_links.exists():
        raise ValidationError({"evidence": "Add at least one evidence item or run item before submitting."})
    _transition(finding, [FindingState.DRAFT], FindingState.IN_REVIEW, submitted_at=timezone.now())
    finding.refresh_from_db()
    audit_record(actor=actor, action="finding.submit", obj=finding, before={"state": FindingState.DRAFT},
                 after={"state": finding.state, "revision": finding.revision}, request=request,
                 exercise_id=finding.exercise_id)
    approvers = _approvers(finding.exercise).exclude(pk__in=[actor.pk, finding.author_id])
    notify(users=approvers, run=None, finding=finding, kind=Notification.Kind.SIGN_OFF_NEEDED,
           text=f"Finding {_quote(finding)} by {finding.author.email} waits for your institute's sign-off.")
    others = _members(finding.exercise).exclude(organisation=finding.owner_id).exclude(
        pk__in=approvers.values("pk"))
    notify(users=others, run=None, finding=finding, kind=Notification.Kind.FINDING_SUBMITTED,
           text=f"Finding {_quote(finding)} by {finding.author.email} was submitted for review.")
    return finding


@transaction.atomic
def finding_request_changes(*, actor: Any, finding: Finding, reason: Any,
                            request: HttpRequest | None = None) -> Finding:
    finding = _lock(finding)
    require(actor, "request_changes", finding,
            "You may not request changes to this finding (reviewers taking part, never its author).")
    _expect(finding, [FindingState.IN_REVIEW, FindingState.SIGNED_OFF],
            "changes are requested while it is in review or signed off")
    reason = clean_text(reason, field="reason", max_length=MAX_REASON, required=True).strip()
    before = finding.state
    _transition(finding, [FindingState.IN_REVIEW, FindingState.SIGNED_OFF], FindingState.DRAFT,
                changes_requested_reason=reason, signed_off_at=None)
    voided = _void_sign_offs(finding, timezone.now())
    finding.refresh_from_db()
    audit_record(actor=actor, action="finding.request_changes", obj=finding, before={"state": before},
                 after={"state": finding.state, "revision": finding.revision, "reason": reason,
                        "sign_offs_voided": voided}, request=request, exercise_id=finding.exercise_id)
    notify(users=[finding.author], run=None, finding=finding, kind=Notification.Kind.CHANGES_REQUESTED,
           text=f"{actor.email} asked for changes to finding {_quote(finding)}: {reason}")
    return finding


@transaction.atomic
def finding_sign_off(*, actor: Any, finding: Finding, revision: int | None = None,
                     request: HttpRequest | None = None) -> FindingSignOff:
    """The approver's institute signs off the current revision; the last institute's sign-off moves the finding to
    signed off. The row lock serialises racing approvers; the unique constraint guards one per institute."""
    finding = _lock(finding)
    require(actor, "sign_off", finding, "You may not sign off this finding (approvers taking part, never its "
                                        "author).")
    _expect(finding, [FindingState.IN_REVIEW], "only a finding in review is signed off")
    if revision is not None and revision != finding.revision:
        raise InvalidTransition("The finding changed since you read it; read it again before signing off.")
    decided = FindingSignOff.objects.filter(finding=finding, revision=finding.revision, voided_at__isnull=True)
    try:
        signoff = signoff_decide(exercise=finding.exercise, actor=actor, author_id=finding.author_id,
                                 approved_institutes=decided.values_list("institute_id", flat=True),
                                 what="this revision of the finding")
    except AlreadySignedOff as exc:
        raise InvalidTransition(exc.message) from None
    try:
        with transaction.atomic():
            sign_off = FindingSignOff.objects.create(finding=finding, revision=finding.revision, approver=actor,
                                                     institute_id=signoff.institute_id)
    except IntegrityError:
        raise InvalidTransition("Your institute has already signed off this revision.") from None
    audit_record(actor=actor, action="finding.sign_off", obj=finding, before={"state": finding.state},
                 after={"state": finding.state, "revision": finding.revision, "institute": actor.organisation_id},
                 request=request, exercise_id=finding.exercise_id)
    notify(users=[finding.author], run=None, finding=finding, kind=Notification.Kind.SIGNED_OFF,
           text=f"{actor.email} signed off finding {_quote(finding)} for {actor.organisation.name}.")
    if signoff.complete:
        _transition(finding, [FindingState.IN_REVIEW], FindingState.SIGNED_OFF, signed_off_at=timezone.now())
        finding.refresh_from_db()
        audit_record(actor=actor, action="finding.signed_off", obj=finding, before={"state": FindingState.IN_REVIEW},
                     after={"state": finding.state, "revision": finding.revision}, request=request,
                     exercise_id=finding.exercise_id)
        notify(users=[finding.author, *_approvers(finding.exercise)], run=None, finding=finding,
               kind=Notification.Kind.SIGNED_OFF,
               text=f"Finding {_quote(finding)} is signed off by every institute taking part: it may be released.")
    return sign_off


# --- Release ------------------------------------------------------------------------------------------------------

def _partners(finding: Finding, value: Any) -> list[Any]:
    if not isinstance(value, list) or not value or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ValidationError({"partners": "Choose at least one partner organisation (a list of organisation ids)."})
    invited = {org.pk: org for org in finding.exercise.partners.filter(kind=Organisation.Kind.PARTNER)}
    for pk in value:
        if pk not in invited:
            raise ValidationError({"partners": f"Organisation {pk} is not a partner invited to this exercise."})
    return [invited[pk] for pk in dict.fromkeys(value)]


@transaction.atomic
def finding_release(*, actor: Any, finding: Finding, partners: Any,
                    request: HttpRequest | None = None) -> Release:
    """Release the signed-off finding to ``partners`` (organisation ids invited to the exercise): a new Release
    version holding the immutable snapshot, its SHA-256 and the audit chain's head at this moment. The audit event
    carries both. The row lock and the conditional UPDATE make racing releases produce exactly one."""
    finding = _lock(finding)
    require(actor, "release", finding, "You may not release this finding (approvers taking part only).")
    _expect(finding, [FindingState.SIGNED_OFF], "only a signed-off finding is released")
    chosen = _partners(finding, partners)
    live = set(FindingSignOff.objects.filter(finding=finding, revision=finding.revision, voided_at__isnull=True)
               .values_list("institute_id", flat=True))
    if not signoff_institutes(exercise=finding.exercise) <= live:
        raise InvalidTransition("The current revision is not signed off by every institute taking part.")
    now = timezone.now()
    version = (finding.releases.aggregate(n=Max("version"))["n"] or 0) + 1
    snapshot = finding_snapshot_build(finding=finding, version=version, partners=chosen, released_at=now)
    digest = snapshot_sha256(snapshot)
    _transition(finding, [FindingState.SIGNED_OFF], FindingState.RELEASED)
    head = audit_chain_head(lock=True)  # held to commit: the release event follows exactly this head
    release = Release.objects.create(finding=finding, version=version, snapshot=snapshot, sha256=digest,
                                     released_by=actor, released_at=now, audit_head=head)
    release.partners.set(chosen)
    audit_record(actor=actor, action="finding.release", obj=finding, before={"state": FindingState.SIGNED_OFF},
                 after={"state": FindingState.RELEASED, "revision": finding.revision, "release": release.pk,
                        "version": version, "sha256": digest, "audit_head": head,
                        "partners": sorted(p.pk for p in chosen)},
                 request=request, exercise_id=finding.exercise_id)
    viewers = User.objects.filter(organisation__in=chosen, role=User.Role.PARTNER_VIEWER, is_active=True)
    # Partners' notices name no content (a later withdrawal must leave nothing behind in their inbox).
    notify(users=viewers, run=None, finding=finding, kind=Notification.Kind.RELEASED,
           text=f"A finding was released to your organisation (finding {finding.pk}, version {version}).")
    notify(users=[finding.author], run=None, finding=finding, kind=Notification.Kind.RELEASED,
           text=f"Finding {_quote(finding)} was released (version {version}) to "
                f"{', '.join(sorted(p.name for p in chosen))}.")
    return release


@transaction.atomic
def finding_withdraw(*, actor: Any, finding: Finding, version: Any = None,
                     request: HttpRequest | None = None) -> list[Release]:
    """Withdraw the finding's live releases (or only ``version``): partners stop seeing them at once; the snapshots
    stay for the record. A released finding with no live release left is signed off again."""
    finding = _lock(finding)
    require(actor, "withdraw", finding, "You may not withdraw this finding (approvers taking part only).")
    live = finding.releases.filter(withdrawn_at__isnull=True)
    if not live.exists():
        raise InvalidTransition("The finding has no live release to withdraw.")
    if version is not None:
        if not isinstance(version, int) or isinstance(version, bool):
            raise ValidationError({"version": "Give a release version (a whole number)."})
        live = live.filter(version=version)
        if not live.exists():
            raise ValidationError({"version": f"Release version {version} of this finding is not live."})
    releases = list(live.prefetch_related("partners"))
    now = timezone.now()
    Release.objects.filter(pk__in=[r.pk for r in releases], withdrawn_at__isnull=True).update(
        withdrawn_at=now, withdrawn_by=actor)
    before = finding.state
    if before == FindingState.RELEASED and not finding.releases.filter(withdrawn_at__isnull=True).exists():
        _transition(finding, [FindingState.RELEASED], FindingState.SIGNED_OFF)
        finding.refresh_from_db()
    audit_record(actor=actor, action="finding.withdraw", obj=finding, before={"state": before},
                 after={"state": finding.state, "withdrawn": [{"version": r.version, "sha256": r.sha256}
                                                              for r in releases]},
                 request=request, exercise_id=finding.exercise_id)
    partner_ids = {p.pk for r in releases for p in r.partners.all()}
    viewers = User.objects.filter(organisation__in=partner_ids, role=User.Role.PARTNER_VIEWER, is_active=True)
    notify(users=viewers, run=None, finding=finding, kind=Notification.Kind.WITHDRAWN,
           text=f"A finding released to your organisation was withdrawn (finding {finding.pk}).")
    notify(users=[finding.author], run=None, finding=finding, kind=Notification.Kind.WITHDRAWN,
           text=f"{actor.email} withdrew finding {_quote(finding)} from partners.")
    for release in releases:
        release.refresh_from_db()
    return releases


# --- Comments, flags, reproduce, risk areas ---------------------------------------------------------------

def mentioned_users(*, finding: Finding, body: str) -> list[Any]:
    """Users an ``@name`` or ``@name@domain`` in ``body`` names: by full e-mail address or its local part, among the
    active members of the institutes taking part in the finding's exercise."""
    tokens = {t.rstrip(".").lower() for t in _MENTION.findall(body)}
    if not tokens:
        return []
    found = []
    for user in _members(finding.exercise):
        email = user.email.lower()
        if email in tokens or email.split("@", 1)[0] in tokens:
            found.append(user)
    return found


@transaction.atomic
def finding_comment_create(*, actor: Any, finding: Finding, body: Any,
                           request: HttpRequest | None = None) -> FindingComment:
    require(actor, "comment", finding, "You may not comment on this finding.")
    body = clean_text(body, field="body", max_length=MAX_COMMENT, required=True)
    comment = FindingComment.objects.create(finding=finding, author=actor, body=body)
    mentions = [u for u in mentioned_users(finding=finding, body=body) if u.pk != actor.pk]
    comment.mentions.set(mentions)
    audit_record(actor=actor, action="finding.comment", obj=finding,
                 after={"comment": comment.pk, "mentions": sorted(u.pk for u in mentions)}, request=request,
                 exercise_id=finding.exercise_id)
    notify(users=mentions, run=None, finding=finding, kind=Notification.Kind.MENTIONED,
           text=f"{actor.email} mentioned you in a comment on finding {_quote(finding)}.")
    return comment


@transaction.atomic
def evidence_flag_create(*, actor: Any, sample: SampleResult, note: Any = "", message_indices: Any = None,
                         request: HttpRequest | None = None) -> EvidenceFlag:
    if not can(actor, VIEW, sample):
        raise ValidationError({"sample": "No such sample."})
    require(actor, "create", EvidenceFlag(sample=sample, created_by=actor),
            "You may not flag samples of this exercise (its institutes' staff, while it is open).")
    note = clean_text(note, field="note", max_length=MAX_NOTE)
    indices = _message_indices(message_indices, field="message_indices", sample=sample)
    flag = EvidenceFlag.objects.create(sample=sample, created_by=actor, note=note, message_indices=indices)
    audit_record(actor=actor, action="evidence_flag.create", obj=flag,
                 after={"sample": sample.pk, "message_indices": indices}, request=request,
                 exercise_id=sample.item.run.exercise_id)
    return flag


@transaction.atomic
def evidence_flag_delete(*, actor: Any, flag: EvidenceFlag, request: HttpRequest | None = None) -> None:
    require(actor, "delete", flag, "You may delete only your own flags, while the exercise is open.")
    exercise_id = flag.sample.item.run.exercise_id
    audit_record(actor=actor, action="evidence_flag.delete", obj=flag,
                 before={"sample": flag.sample_id, "message_indices": flag.message_indices}, request=request,
                 exercise_id=exercise_id)
    flag.delete()


@transaction.atomic
def finding_reproduce(*, actor: Any, evidence: EvidenceItem, request: HttpRequest | None = None) -> Run:
    """A draft run of the evidence's model version × task version on the evidence's sample id only. The ordinary
    approval rules apply to it."""
    finding = evidence.finding
    require(actor, "reproduce", finding, "You may not start runs in this exercise.")
    item = evidence.sample.item
    if item.model_version is None or item.task_version is None:
        raise ValidationError({"evidence": "This sample comes from an imported log: it has no registered model and "
                                           "evaluation version to run again."})
    run = run_create(actor=actor, exercise=finding.exercise, models=[item.model_version],
                     tasks=[item.task_version], request=request,
                     options={"name": f"Reproduce sample {evidence.sample.sample_id} of finding {finding.pk}"[:200],
                              "sample_ids": [evidence.sample.sample_id], "epochs": 1})
    audit_record(actor=actor, action="finding.reproduce", obj=finding,
                 after={"evidence": evidence.pk, "sample": evidence.sample_id, "run": run.pk}, request=request,
                 exercise_id=finding.exercise_id)
    return run


@transaction.atomic
def risk_area_create(*, actor: Any, slug: Any, name: Any, ordering: Any = 0,
                     request: HttpRequest | None = None) -> RiskArea:
    require(actor, "create", RiskArea, "Only admins edit the risk areas.")
    slug = clean_text(slug, field="slug", max_length=60, required=True, single_line=True)
    if not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", slug):
        raise ValidationError({"slug": "Use lower-case letters, digits and single hyphens."})
    if RiskArea.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": "A risk area with this slug exists."})
    area = RiskArea.objects.create(slug=slug, name=clean_text(name, field="name", max_length=120, required=True,
                                                              single_line=True),
                                   ordering=_ordering(ordering))
    audit_record(actor=actor, action="risk_area.create", obj=area,
                 after={"slug": area.slug, "name": area.name, "ordering": area.ordering}, request=request)
    return area


@transaction.atomic
def risk_area_update(*, actor: Any, risk_area: RiskArea, name: Any = None, ordering: Any = None,
                     request: HttpRequest | None = None) -> RiskArea:
    require(actor, "edit", risk_area, "Only admins edit the risk areas.")
    before = {"name": risk_area.name, "ordering": risk_area.ordering}
    if name is not None:
        risk_area.name = clean_text(name, field="name", max_length=120, required=True, single_line=True)
    if ordering is not None:
        risk_area.ordering = _ordering(ordering)
    risk_area.save(update_fields=["name", "ordering"])
    audit_record(actor=actor, action="risk_area.update", obj=risk_area, before=before,
                 after={"name": risk_area.name, "ordering": risk_area.ordering}, request=request)
    return risk_area


def _ordering(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 1_000_000:
        raise ValidationError({"ordering": "Give a whole number from 0 to 1,000,000."})
    return value
