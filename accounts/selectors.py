"""Reads for the accounts area."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Q, QuerySet

from portal.models import AuditEvent


def audit_events_filter(
    *, queryset: QuerySet[AuditEvent], action: str = "", actor: str = "", exercise_id: int | None = None,
    object_type: str = "", object_id: str = "", date_from: date | None = None, date_to: date | None = None,
    exercise_ids: list[int] | None = None,
) -> QuerySet[AuditEvent]:
    """Filter an (already access-scoped) audit queryset (``exercise_ids``: from ``audit_exercise_ids``)."""
    if action:
        queryset = queryset.filter(action__startswith=action) if action.endswith(".") else queryset.filter(action=action)
    if actor:
        if actor.isascii() and actor.isdigit() and len(actor) <= 18:
            queryset = queryset.filter(actor_id=int(actor))
        else:
            queryset = queryset.filter(actor_email__iexact=actor)
    if exercise_id is not None:
        queryset = queryset.filter(exercise_id=exercise_id)
    if exercise_ids is not None:
        queryset = queryset.filter(exercise_id__in=exercise_ids)
    if object_type:
        queryset = queryset.filter(object_type=object_type)
    if object_id:
        queryset = queryset.filter(object_id=object_id)
    if date_from:
        queryset = queryset.filter(created_at__date__gte=date_from)
    if date_to:
        queryset = queryset.filter(created_at__date__lte=date_to)
    return queryset


def audit_exercise_ids(*, user: Any, value: str) -> list[int] | None:
    """The exercises an audit filter's ``exercise`` names, among those the user may see: an id (digits), or a name
    (the page's filter shows names; case and surrounding spaces ignored). None for an empty value; a
    ``ValidationError`` naming ``exercise`` when nothing the user may see matches."""
    from django.apps import apps
    from django.core.exceptions import ValidationError

    from accounts.access import visible_to

    value = value.strip()
    if not value:
        return None
    Exercise = apps.get_model("evaluations", "Exercise")  # by name: accounts imports nothing of evaluations
    exercises = visible_to(user, Exercise.objects.all())
    if value.isascii() and value.isdigit() and len(value) <= 18:
        ids = list(exercises.filter(pk=int(value)).values_list("pk", flat=True))
    else:
        ids = list(exercises.filter(name__iexact=value).values_list("pk", flat=True))
    if not ids:
        raise ValidationError({"exercise": "Give the id or the name of an exercise you may see."})
    return ids


def users_for_admin(*, queryset: QuerySet[Any], q: str = "", organisation_id: int | None = None) -> QuerySet[Any]:
    queryset = queryset.select_related("organisation")
    if q:
        queryset = queryset.filter(Q(email__icontains=q) | Q(full_name__icontains=q))
    if organisation_id:
        queryset = queryset.filter(organisation_id=organisation_id)
    return queryset


def invitation_list_pending(*, user: Any) -> QuerySet[Any]:
    """Invitations not yet accepted, revoked or expired, oldest expiry first (the admins' home page)."""
    from django.utils import timezone

    from accounts.access import visible_to
    from accounts.models import Invitation

    return visible_to(user, Invitation.objects.select_related("organisation", "created_by")).filter(
        accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()).order_by("expires_at", "pk")


# --- The audit trail in words (issue 12) -------------------------------------------------------------------------

# object_type -> (model path, url name with the pk, noun)
AUDIT_OBJECTS: dict[str, tuple[str, str, str]] = {
    "evaluations.run": ("evaluations.Run", "run-detail", "run"),
    "evaluations.registeredmodel": ("evaluations.RegisteredModel", "model-detail", "model"),
    "evaluations.evaltask": ("evaluations.EvalTask", "task-detail", "evaluation"),
    "evaluations.exercise": ("evaluations.Exercise", "exercise_detail", "exercise"),
    "evaluations.finding": ("evaluations.Finding", "finding-detail", "finding"),
    "evaluations.runitem": ("evaluations.RunItem", "", "run item"),
    "evaluations.evidenceflag": ("evaluations.EvidenceFlag", "", "flag"),
    "evaluations.riskarea": ("evaluations.RiskArea", "", "risk area"),
    "evaluations.release": ("evaluations.Release", "", "release"),
    "accounts.invitation": ("accounts.Invitation", "", "invitation"),
    "accounts.organisation": ("accounts.Organisation", "manage_organisation_edit", "organisation"),
    "accounts.user": ("accounts.User", "manage_user_edit", "person"),
    "accounts.apitoken": ("accounts.ApiToken", "", "API token"),
}

# action -> what the actor did, "{obj}" being the object's noun and name
AUDIT_VERBS: dict[str, str] = {
    "run.create": "planned {obj}", "run.update": "changed {obj}", "run.submit": "submitted {obj} for approval",
    "run.approve": "approved {obj}", "run.approved": "{obj} was approved by every institute taking part",
    "run.reject": "rejected {obj}", "run.cancel": "cancelled {obj}", "run.start": "{obj} started",
    "run.finish": "{obj} finished", "run.item_retry": "retried an item of {obj}",
    "run.import": "imported an Inspect log as {obj}", "run.execution_create": "started a scheduled execution of {obj}",
    "model.create": "registered {obj}", "model.update": "changed {obj}", "model.archive": "archived {obj}",
    "model.credential_set": "set the API key of {obj}", "model.credential_clear": "removed the API key of {obj}",
    "model.test_connection": "tested the connection to {obj}",
    "task.create": "added {obj}", "task.update": "changed {obj}", "task.archive": "archived {obj}",
    "exercise.create": "created {obj}", "exercise.update": "changed {obj}", "exercise.archive": "archived {obj}",
    "finding.create": "drafted {obj}", "finding.update": "changed {obj}", "finding.submit": "submitted {obj} for review",
    "finding.sign_off": "signed off {obj}", "finding.signed_off": "{obj} was signed off by every institute",
    "finding.request_changes": "asked for changes to {obj}", "finding.release": "released {obj} to partners",
    "finding.withdraw": "withdrew {obj}", "finding.comment": "commented on {obj}",
    "finding.reproduce": "planned a run to reproduce {obj}",
    "evidence_flag.create": "flagged a sample", "evidence_flag.delete": "removed a flag from a sample",
    "risk_area.create": "added {obj}", "risk_area.update": "changed {obj}",
    "invitation.create": "invited someone", "invitation.revoke": "revoked {obj}", "invitation.accept": "accepted {obj}",
    "invitation.refused": "an invitation link was refused", "invitation_refused": "an invitation link was refused",
    "organisation.create": "created {obj}", "organisation.update": "changed {obj}",
    "user.role_change": "changed the role of {obj}",
    "token.create": "created {obj}", "token.revoke": "revoked {obj}", "token.write": "made a change with {obj}",
    "mfa.authenticator_added": "added a sign-in authenticator", "mfa.authenticator_removed": "removed a sign-in authenticator",
    "auth.login_failed": "failed to sign in", "auth.login_throttled": "was refused sign-in: too many failed attempts",
    "credentials.rotate": "re-encrypted the stored credentials with a new key",
}

_HIDDEN_KEYS = {"password", "api_key", "token", "secret", "token_hash", "extra_headers"}


def _display(value: Any) -> str:
    if value is None or value == "":
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_display(v) for v in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_display(v)}" for k, v in value.items()) or "none"
    text = str(value)
    return text if len(text) <= 120 else text[:117] + "…"


def audit_changes(before: Any, after: Any) -> list[dict[str, str]]:
    """The fields an event changed, each with its value before and after (``before`` empty for a creation)."""
    before = before if isinstance(before, dict) else {}
    after = after if isinstance(after, dict) else {}
    rows = []
    keys = list(dict.fromkeys([*before, *after]))
    keys.sort(key=lambda k: k != "state")  # the state first: ROLES.md asks for it before and after
    for key in keys:
        if key in _HIDDEN_KEYS:
            continue
        old, new = before.get(key), after.get(key)
        if key in before and key in after and old == new:
            continue
        if not before and new in (None, "", [], {}):
            continue  # a creation: only what was set
        rows.append({"field": key.replace("_", " "), "before": _display(old) if key in before else "",
                     "after": _display(new) if key in after else ""})
    return rows


def audit_event_rows(*, user: Any, events: list[AuditEvent]) -> list[dict[str, Any]]:
    """The events as sentences: who did what to which object (linked where the reader may see it), in which exercise
    (by name), with the state before and after. One query per kind of object on the page, whatever its length."""
    from django.apps import apps
    from django.urls import NoReverseMatch, reverse

    from accounts.access import visible_to

    Exercise = apps.get_model("evaluations", "Exercise")  # by name: accounts imports nothing of evaluations

    wanted: dict[str, set[int]] = {}
    for event in events:
        if event.object_type in AUDIT_OBJECTS and str(event.object_id).isdigit():
            wanted.setdefault(event.object_type, set()).add(int(event.object_id))
    found: dict[tuple[str, int], Any] = {}
    for object_type, ids in wanted.items():
        model = apps.get_model(AUDIT_OBJECTS[object_type][0])
        for obj in visible_to(user, model.objects.filter(pk__in=ids)):
            found[(object_type, obj.pk)] = obj
    exercises = {e.pk: e.name for e in visible_to(user, Exercise.objects.filter(
        pk__in={e.exercise_id for e in events if e.exercise_id}))}
    rows = []
    for event in events:
        noun = AUDIT_OBJECTS.get(event.object_type, ("", "", event.object_type.split(".")[-1]))[2]
        obj = found.get((event.object_type, int(event.object_id))) if str(event.object_id).isdigit() else None
        name = getattr(obj, "name", None) or getattr(obj, "title", None) or getattr(obj, "email", None) if obj else None
        label = f"{noun} {event.object_id}" if event.object_id else noun
        if name and name != str(event.object_id):
            label = f"{label} ({name})"
        url = ""
        if obj is not None and AUDIT_OBJECTS[event.object_type][1]:
            try:
                url = reverse(AUDIT_OBJECTS[event.object_type][1], args=[obj.pk])
            except NoReverseMatch:
                url = ""
        verb = AUDIT_VERBS.get(event.action)
        after = event.after if isinstance(event.after, dict) else {}
        if verb is None:
            verb = f"{event.action.replace('.', ': ').replace('_', ' ')}" + (" {obj}" if event.object_id else "")
        before_obj, _, after_obj = verb.partition("{obj}")
        who = event.actor_email or "The portal"
        if event.action.startswith(("auth.", "invitation.refused", "invitation_refused")):
            who = "Someone" if not event.actor_id else who
            if after.get("email"):
                after_obj = f"{after_obj} as {after['email']}"
            if after.get("reason") and event.action == "auth.login_failed":
                after_obj = f"{after_obj} ({after['reason']})"
        rows.append({
            "event": event, "who": who if before_obj or "{obj}" not in verb else "", "before_obj": before_obj, "obj_label": label if "{obj}" in verb else "",
            "after_obj": after_obj, "url": url, "exercise": exercises.get(event.exercise_id or 0, ""),
            "exercise_id": event.exercise_id, "changes": audit_changes(event.before, event.after),
            "system": not event.actor_email and not event.action.startswith("auth."),
        })
    return rows
