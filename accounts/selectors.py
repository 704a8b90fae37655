"""Reads for the accounts area."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Q, QuerySet

from portal.models import AuditEvent


def audit_events_filter(
    *, queryset: QuerySet[AuditEvent], action: str = "", actor: str = "", exercise_id: int | None = None,
    object_type: str = "", object_id: str = "", date_from: date | None = None, date_to: date | None = None,
) -> QuerySet[AuditEvent]:
    """Filter an (already access-scoped) audit queryset."""
    if action:
        queryset = queryset.filter(action__startswith=action) if action.endswith(".") else queryset.filter(action=action)
    if actor:
        if actor.isdigit() and len(actor) <= 18:
            queryset = queryset.filter(actor_id=int(actor))
        else:
            queryset = queryset.filter(actor_email__iexact=actor)
    if exercise_id is not None:
        queryset = queryset.filter(exercise_id=exercise_id)
    if object_type:
        queryset = queryset.filter(object_type=object_type)
    if object_id:
        queryset = queryset.filter(object_id=object_id)
    if date_from:
        queryset = queryset.filter(created_at__date__gte=date_from)
    if date_to:
        queryset = queryset.filter(created_at__date__lte=date_to)
    return queryset


def users_for_admin(*, queryset: QuerySet[Any], q: str = "", organisation_id: int | None = None) -> QuerySet[Any]:
    queryset = queryset.select_related("organisation")
    if q:
        queryset = queryset.filter(Q(email__icontains=q) | Q(full_name__icontains=q))
    if organisation_id:
        queryset = queryset.filter(organisation_id=organisation_id)
    return queryset
