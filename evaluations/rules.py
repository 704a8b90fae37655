"""Access rules for exercises (ROLES.md). Imported from EvaluationsConfig.ready().

Helpers other rules reuse: ``exercises_visible_to(user)``, ``exercise_ids_taking_part(user)``,
``user_takes_part(user, exercise)``, ``partner_is_invited(user, exercise)``."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from accounts import access
from accounts.access import Rule, register
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


@register(Exercise)
class ExerciseRule(Rule):
    """Admins: V C E D all. Institute members: V where their institute takes part. Partner viewers: V where
    their organisation is invited. Nobody else sees anything."""

    def visible(self, user: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if access.is_admin(user):
            return queryset
        if access.is_institute_member(user):
            return queryset.filter(pk__in=Exercise.objects.filter(institutes=user.organisation_id).values("pk"))
        if access.is_partner_viewer(user):
            return queryset.filter(pk__in=Exercise.objects.filter(partners=user.organisation_id).values("pk"))
        return queryset.none()

    def can(self, user: Any, action: str, obj: Any) -> bool:
        if action == access.CREATE:
            return access.is_admin(user)
        if isinstance(obj, type):
            return False
        if action == access.VIEW:
            return self.visible(user, Exercise.objects.filter(pk=obj.pk)).exists()
        if action in (access.EDIT, access.DELETE):
            return access.is_admin(user)
        return False
