"""Reads shared by several evaluation areas."""

from __future__ import annotations

from typing import Any

from accounts.access import is_active_user, is_admin, is_institute_member
from evaluations.models import Exercise


def exercise_ids_for(user: Any) -> set[int]:
    """Ids of the exercises whose objects the user may see as institute staff: those their institute takes part
    in (admins: all). Partner viewers and anonymous users: none."""
    if not is_active_user(user):
        return set()
    if is_admin(user):
        return set(Exercise.objects.values_list("pk", flat=True))
    if is_institute_member(user):
        return set(Exercise.objects.filter(institutes=user.organisation_id).values_list("pk", flat=True))
    return set()


def exercises_user_may_add_to(user: Any) -> Any:
    """Exercises an institute member may register models and tasks in: those their institute takes part in."""
    if not is_active_user(user) or not is_institute_member(user) or is_admin(user):
        return Exercise.objects.none()
    return Exercise.objects.filter(institutes=user.organisation_id).exclude(status=Exercise.Status.CLOSED)
