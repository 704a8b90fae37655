"""Access rule for the audit trail's events (ROLES.md). It lives here, not in accounts, because an approver's view
depends on the exercises their institute takes part in (accounts imports nothing from evaluations)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from accounts import access
from accounts.access import Rule, register
from evaluations.rules.common import exercise_ids_taking_part
from portal.models import AuditEvent


@register(AuditEvent)
class AuditEventRule(Rule):
    """Admins: V all. Approvers: V events of exercises their institute takes part in, and their own.
    Staff: V their own actions. Partner viewers: none. Nobody edits or deletes (the database refuses)."""

    def visible(self, user: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if access.is_admin(user):
            return queryset
        if access.is_approver(user):
            return queryset.filter(Q(actor=user.pk) | Q(exercise_id__in=exercise_ids_taking_part(user)))
        if access.is_institute_member(user):
            return queryset.filter(actor=user.pk)
        return queryset.none()

    def can(self, user: Any, action: str, obj: Any) -> bool:
        if isinstance(obj, type):  # the audit trail's pages and endpoints: institute members only
            return action == access.VIEW and access.is_institute_member(user)
        if action != access.VIEW:
            return False
        return self.visible(user, AuditEvent.objects.filter(pk=obj.pk)).exists()
