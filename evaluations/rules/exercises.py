"""Access rules for exercises (ROLES.md)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from accounts import access
from accounts.access import Rule, register
from evaluations.models import Exercise
from evaluations.rules.common import exercise_ids_taking_part


@register(Exercise)
class ExerciseRule(Rule):
    """Admins: V C E D all. Institute members: V where their institute takes part. Partner viewers: V where
    their organisation is invited. Nobody else sees anything."""

    def visible(self, user: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if access.is_admin(user):
            return queryset
        if access.is_institute_member(user):
            return queryset.filter(pk__in=exercise_ids_taking_part(user))
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
