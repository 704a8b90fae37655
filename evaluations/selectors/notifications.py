"""Reads for the user's own notices."""

from __future__ import annotations

from typing import Any

from accounts.access import is_institute_member, visible_to
from evaluations.models import Notification


def notification_unread_count(*, user: Any) -> int:
    """How many of the user's notices are unread (the Notifications link shows it). Zero for partner viewers, who
    have no notices page."""
    if not is_institute_member(user):
        return 0
    return visible_to(user, Notification.objects.filter(read_at__isnull=True)).count()
