"""Writes for exercises (admins only; ROLES.md). Audited with the exercise's id."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts import access
from accounts.models import Organisation, User
from evaluations.models import Exercise
from evaluations.selectors.exercises import exercises_user_may_add_to
from portal.audit import audit_record
from portal.limits import text_check


def exercise_snapshot(exercise: Exercise) -> dict[str, Any]:
    return {
        "name": exercise.name,
        "description": exercise.description,
        "status": exercise.status,
        "starts_on": exercise.starts_on,
        "ends_on": exercise.ends_on,
        "institutes": sorted(exercise.institutes.values_list("pk", flat=True)),
        "partners": sorted(exercise.partners.values_list("pk", flat=True)),
        "archived": exercise.archived_at is not None,
    }


def _check_members(institutes: list[Organisation], partners: list[Organisation]) -> None:
    errors: dict[str, str] = {}
    if len({o.pk for o in institutes}) < 2:
        errors["institutes"] = "A joint exercise needs at least two taking-part institutes."
    if any(o.kind != Organisation.Kind.INSTITUTE for o in institutes):
        errors["institutes"] = "Only institutes can take part."
    if any(o.kind != Organisation.Kind.PARTNER for o in partners):
        errors["partners"] = "Only partner organisations can be invited."
    if errors:
        raise ValidationError(errors)


def exercise_create(
    *, actor: User, name: str, institutes: list[Organisation], partners: list[Organisation] | None = None,
    description: str = "", starts_on: date | None = None, ends_on: date | None = None,
    status: str = Exercise.Status.PLANNING, request: HttpRequest | None = None,
) -> Exercise:
    access.require(actor, access.CREATE, Exercise, "Only admins create exercises.")
    partners = partners or []
    _check_members(institutes, partners)
    text_check(description, field="description", label="The description")
    exercise = Exercise(name=name.strip(), description=description, starts_on=starts_on, ends_on=ends_on, status=status)
    exercise.full_clean()
    with transaction.atomic():
        exercise.save()
        exercise.institutes.set(institutes)
        exercise.partners.set(partners)
        audit_record(actor=actor, action="exercise.create", obj=exercise, after=exercise_snapshot(exercise),
                     request=request, exercise_id=exercise.pk)
    return exercise


def exercise_update(
    *, actor: User, exercise: Exercise, request: HttpRequest | None = None, **fields: Any
) -> Exercise:
    access.require(actor, access.EDIT, exercise, "Only admins edit exercises.")
    before = exercise_snapshot(exercise)
    institutes = fields.pop("institutes", None)
    partners = fields.pop("partners", None)
    _check_members(
        list(institutes) if institutes is not None else list(exercise.institutes.all()),
        list(partners) if partners is not None else list(exercise.partners.all()),
    )
    if "description" in fields:
        text_check(fields["description"], field="description", label="The description")
    for key in ("name", "description", "starts_on", "ends_on", "status"):
        if key in fields:
            setattr(exercise, key, fields[key])
    exercise.full_clean()
    with transaction.atomic():
        exercise.save()
        if institutes is not None:
            exercise.institutes.set(institutes)
        if partners is not None:
            exercise.partners.set(partners)
        audit_record(actor=actor, action="exercise.update", obj=exercise, before=before,
                     after=exercise_snapshot(exercise), request=request, exercise_id=exercise.pk)
    return exercise


def exercise_archive(*, actor: User, exercise: Exercise, request: HttpRequest | None = None) -> Exercise:
    """Archive (the D of ROLES.md): closed and hidden from default lists; nothing is deleted."""
    access.require(actor, access.DELETE, exercise, "Only admins archive exercises.")
    before = exercise_snapshot(exercise)
    with transaction.atomic():
        Exercise.objects.filter(pk=exercise.pk, archived_at__isnull=True).update(
            archived_at=timezone.now(), status=Exercise.Status.CLOSED
        )
        exercise.refresh_from_db()
        audit_record(actor=actor, action="exercise.archive", obj=exercise, before=before,
                     after=exercise_snapshot(exercise), request=request, exercise_id=exercise.pk)
    return exercise


def exercises_chosen_validate(*, user: Any, exercises: list[Any]) -> list[Exercise]:
    """The exercises a registered model or an evaluation task is put in (instances or ids): at least one, each
    an open exercise the user's institute takes part in. Raises ValidationError on ``exercises``."""
    ids = [e.pk if isinstance(e, Exercise) else int(e) for e in exercises or []]
    if not ids:
        raise ValidationError({"exercises": ["Choose at least one exercise."]})
    allowed = list(exercises_user_may_add_to(user).filter(pk__in=ids))
    if len(allowed) != len(set(ids)):
        raise ValidationError({"exercises": ["Choose exercises your institute takes part in."]})
    return allowed
