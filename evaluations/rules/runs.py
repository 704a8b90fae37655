"""Access rules for runs, their items and sample results (ROLES.md, "run" and "samples, transcripts, logs")."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from accounts.access import Rule, is_admin, is_approver, is_institute_member, register
from evaluations.models import Notification, Run, RunItem, SampleResult
from evaluations.models.runs import RunState
from evaluations.rules.common import user_takes_part


def _run_visible(user: Any, run: Run) -> bool:
    if not is_institute_member(user):
        return False
    return is_admin(user) or user_takes_part(user, run.exercise_id)


@register(Run)
class RunRule(Rule):
    def visible(self, user: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if not is_institute_member(user):
            return queryset.none()
        if is_admin(user):
            return queryset
        return queryset.filter(exercise__institutes=user.organisation_id).distinct()

    def can(self, user: Any, action: str, obj: Any) -> bool:
        if not is_institute_member(user):
            return False
        if is_admin(user):
            return action == "view" and not isinstance(obj, type)  # admins read; they never act on runs
        if isinstance(obj, type):
            return action == "create"  # staff and approvers; the exercise is checked by run_create
        run: Run = obj
        if action == "view":
            return _run_visible(user, run)
        if not user_takes_part(user, run.exercise_id):
            return False  # admins of other institutes read but never act
        own = run.created_by_id == user.pk
        if action == "create":
            return True
        if action == "edit":  # while a draft, or submitted (an edit voids the approvals and makes it a draft)
            return own and run.origin == Run.Origin.PORTAL and run.state in (RunState.DRAFT, RunState.SUBMITTED)
        if action == "submit":
            return own and run.origin == Run.Origin.PORTAL
        if action in {"approve", "reject"}:
            return is_approver(user) and not own
        if action in {"cancel", "retry"}:
            return own or is_approver(user)
        return False


@register(RunItem)
class RunItemRule(Rule):
    def visible(self, user: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if not is_institute_member(user):
            return queryset.none()
        if is_admin(user):
            return queryset
        return queryset.filter(run__exercise__institutes=user.organisation_id).distinct()

    def can(self, user: Any, action: str, obj: Any) -> bool:
        if isinstance(obj, type):
            return False
        if action == "view":
            return _run_visible(user, obj.run)
        if action in {"cancel", "retry"}:
            return RunRule().can(user, action, obj.run)
        return False


@register(SampleResult)
class SampleResultRule(Rule):
    def visible(self, user: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if not is_institute_member(user):
            return queryset.none()
        if is_admin(user):
            return queryset
        return queryset.filter(item__run__exercise__institutes=user.organisation_id)

    def can(self, user: Any, action: str, obj: Any) -> bool:
        return action == "view" and not isinstance(obj, type) and _run_visible(user, obj.item.run)


@register(Notification)
class NotificationRule(Rule):
    def visible(self, user: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(user=user)

    def can(self, user: Any, action: str, obj: Any) -> bool:
        return not isinstance(obj, type) and action in {"view", "edit"} and obj.user_id == user.pk

