"""The access layer's facts about users and exercises, decided here once and shared by every rule of the
evaluations app (ROLES.md "exercise" scope): who takes part (``exercises_taking_part``, ``user_takes_part``), where
they may act (``exercises_open_to``, ``user_acts_in``: a closed exercise is read-only for everyone), who is invited
(``partner_is_invited``, ``partner_ids_visible_to``) and who may sign off (``may_sign_off``); and the base rules of objects an institute
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


def exercise_is_open(exercise: Exercise) -> bool:
    """A closed (or archived) exercise is read-only for everyone: no new model, task, run or approval."""
    return exercise.status != Exercise.Status.CLOSED and exercise.archived_at is None


def exercises_taking_part(user: Any) -> QuerySet[Exercise]:
    """Exercises the user's institute takes part in, open or closed (none for partners): what they may read."""
    if not access.is_active_user(user) or not access.is_institute_member(user):
        return Exercise.objects.none()
    return Exercise.objects.filter(institutes=user.organisation_id)


def exercise_ids_taking_part(user: Any) -> QuerySet[Any]:
    return exercises_taking_part(user).values("pk")


def institute_visible(user: Any, queryset: QuerySet[Any], *, exercise: str = "exercise") -> QuerySet[Any]:
    """``queryset`` narrowed to what the exercise scope lets ``user`` read: nothing for partner viewers, everything
    for admins, the exercises their institute takes part in for other institute members. ``exercise`` is the path
    from the queryset's model to its exercise (``"run__exercise"`` for a run item)."""
    if not is_institute_member(user):
        return queryset.none()
    if is_admin(user):
        return queryset
    return queryset.filter(**{f"{exercise}__in": exercise_ids_taking_part(user)})


def exercises_open_to(user: Any) -> QuerySet[Exercise]:
    """Exercises the user's institute takes part in and that are open: where its members may add models, tasks
    and runs and decide approvals (the role still decides which of these a user may do)."""
    return exercises_taking_part(user).exclude(status=Exercise.Status.CLOSED).filter(archived_at__isnull=True)


def _listed(through: Any, user: Any, exercise: Exercise | int) -> bool:
    exercise_id = exercise if isinstance(exercise, int) else exercise.pk
    return bool(through.objects.filter(exercise_id=exercise_id, organisation_id=user.organisation_id).exists())


def user_takes_part(user: Any, exercise: Exercise | int) -> bool:
    """True when the user's institute takes part in the exercise (the "exercise" scope of ROLES.md)."""
    if not access.is_active_user(user) or not access.is_institute_member(user):
        return False
    return _listed(Exercise.institutes.through, user, exercise)


def user_acts_in(user: Any, exercise: Exercise) -> bool:
    """True when the user's institute takes part in the exercise and the exercise is open."""
    return exercise_is_open(exercise) and user_takes_part(user, exercise)


def partner_is_invited(user: Any, exercise: Exercise | int) -> bool:
    if not access.is_active_user(user) or not access.is_partner_viewer(user):
        return False
    return _listed(Exercise.partners.through, user, exercise)


def partner_ids_visible_to(user: Any, partner_ids: list[int]) -> list[int]:
    """The invited partners of an exercise a user may see: all of them, except that a partner viewer sees only its
    own organisation (not which other countries are invited)."""
    if access.is_partner_viewer(user):
        return [pk for pk in partner_ids if pk == user.organisation_id]
    return list(partner_ids)


def may_sign_off(user: Any, exercise: Exercise, *, author_id: int | None) -> bool:
    """A sign-off (a run's approval; a finding's later) is given by an approver of an institute taking part in the
    open exercise, never by the author of what is signed off. services/signoff.py counts one per institute."""
    return (access.is_approver(user) and not access.is_admin(user) and user.pk != author_id
            and user_acts_in(user, exercise))


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
        ids = queryset.model.objects.filter(Q(exercises__in=exercise_ids_taking_part(user)) | Q(owner=org)).values("pk")
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
