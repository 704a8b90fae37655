"""Facts about a user and the exercises, shared by every rule of the evaluations app (ROLES.md "exercise"
scope): ``exercises_taking_part(user)``, ``exercise_ids_taking_part(user)``, ``user_takes_part(user, exercise)``,
``partner_is_invited(user, exercise)``, ``exercises_visible_to(user)``; and the base rules of objects an institute
owns in exercises (registered models, evaluation tasks) and of their children (versions, connection tests):

- view: admins see all; institute members see objects of the exercises their institute takes part in (and the
  objects their own institute owns); partner viewers see none of them.
- create / edit / delete (and set_credential, test_connection): only staff and approvers of the owning institute;
  admins cannot.
- versions follow their parent; credentials are never readable by anyone."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from accounts import access
from accounts.access import CREATE, DELETE, EDIT, VIEW, Rule, can, is_admin, is_institute_member, visible_to
from evaluations.models import Exercise


def exercises_taking_part(user: Any) -> QuerySet[Exercise]:
    """Exercises the user's institute takes part in (none for partners)."""
    if not access.is_active_user(user) or not access.is_institute_member(user):
        return Exercise.objects.none()
    return Exercise.objects.filter(institutes=user.organisation_id)


def exercise_ids_taking_part(user: Any) -> QuerySet[Any]:
    return exercises_taking_part(user).values("pk")


def exercises_visible_to(user: Any) -> QuerySet[Exercise]:
    return access.visible_to(user, Exercise.objects.all())


def user_takes_part(user: Any, exercise: Exercise | int) -> bool:
    """True when the user's institute takes part in the exercise (the "exercise" scope of ROLES.md)."""
    if not access.is_active_user(user) or not access.is_institute_member(user):
        return False
    exercise_id = exercise if isinstance(exercise, int) else exercise.pk
    return Exercise.institutes.through.objects.filter(
        exercise_id=exercise_id, organisation_id=user.organisation_id
    ).exists()


def partner_is_invited(user: Any, exercise: Exercise | int) -> bool:
    if not access.is_active_user(user) or not access.is_partner_viewer(user):
        return False
    exercise_id = exercise if isinstance(exercise, int) else exercise.pk
    return Exercise.partners.through.objects.filter(
        exercise_id=exercise_id, organisation_id=user.organisation_id
    ).exists()


# --- Base rules of owned objects (registry and catalogue) ------------------------------------------------

OWNER_ACTIONS = {CREATE, EDIT, DELETE, "set_credential", "test_connection"}


def may_write_owned(user: Any) -> bool:
    return is_institute_member(user) and not is_admin(user) and user.role in ("staff", "approver")


class OwnedInExercisesRule(Rule):
    """RegisteredModel and EvalTask: owner + exercises."""

    def visible(self, user: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if is_admin(user):
            return queryset
        if not is_institute_member(user):
            return queryset.none()
        org = user.organisation_id
        ids = queryset.model.objects.filter(Q(exercises__institutes=org) | Q(owner=org)).values("pk")
        return queryset.filter(pk__in=ids)

    def can(self, user: Any, action: str, obj: Any) -> bool:
        if isinstance(obj, type):
            return action == CREATE and may_write_owned(user)
        if action == VIEW:
            return self.visible(user, type(obj).objects.filter(pk=obj.pk)).exists()
        if action in OWNER_ACTIONS - {CREATE}:
            return may_write_owned(user) and obj.owner_id == user.organisation_id and obj.archived_at is None
        return False


class ChildRule(Rule):
    parent_field = ""
    parent_model: Any = None

    def visible(self, user: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
        parents = visible_to(user, self.parent_model.objects.all()).values("pk")
        return queryset.filter(**{f"{self.parent_field}__in": parents})

    def can(self, user: Any, action: str, obj: Any) -> bool:
        if isinstance(obj, type):
            return False
        parent = getattr(obj, self.parent_field)
        if action == VIEW:
            return can(user, VIEW, parent)
        return False  # versions and connection tests are never edited: a change makes a new row
