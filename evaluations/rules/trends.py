"""Access rules for trend baselines (issue 13): read by whoever reads the exercise's runs; chosen by the staff and
approvers of a taking-part institute while the exercise is open (admins read, never choose)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from accounts.access import Rule, is_admin, is_institute_member, register
from evaluations.models import TrendBaseline
from evaluations.rules.common import institute_visible, user_acts_in, user_takes_part


@register(TrendBaseline)
class TrendBaselineRule(Rule):
    def visible(self, user: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return institute_visible(user, queryset)

    def can(self, user: Any, action: str, obj: Any) -> bool:
        if isinstance(obj, type) or not is_institute_member(user):
            return False
        if action == "view":
            return is_admin(user) or user_takes_part(user, obj.exercise_id)
        if action == "create":  # set (or move) the baseline of a pair
            return not is_admin(user) and user_acts_in(user, obj.exercise)
        return False
