"""Reads of exercises, always through the access layer (who takes part is its fact, evaluations.rules.common)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from accounts.access import is_admin, visible_to
from accounts.models import Organisation
from evaluations.models import Exercise
from evaluations.rules.common import exercises_open_to, partner_ids_visible_to


def exercise_list(*, user: Any, include_archived: bool = False, status: str = "", q: str = "") -> QuerySet[Exercise]:
    qs = visible_to(user, Exercise.objects.prefetch_related("institutes", "partners"))
    if not include_archived:
        qs = qs.filter(archived_at__isnull=True)
    if status:
        qs = qs.filter(status=status)
    if q:
        qs = qs.filter(name__icontains=q)
    return qs.order_by("-created_at", "-id")


def exercise_partners(*, user: Any, exercise: Exercise) -> list[Organisation]:
    """The invited partners the user may see (a partner viewer: only its own organisation)."""
    partners = list(exercise.partners.all())
    shown = set(partner_ids_visible_to(user, [p.pk for p in partners]))
    return [p for p in partners if p.pk in shown]


def exercises_user_may_add_to(user: Any) -> QuerySet[Exercise]:
    """Exercises an institute member may register models and tasks in, or plan runs in: the open exercises their
    institute takes part in (admins: none, they never write to the registry or act on runs)."""
    if is_admin(user):
        return Exercise.objects.none()
    return exercises_open_to(user)
