"""Access rules for runs, their items and sample results (ROLES.md, "run" and "samples, transcripts, logs").

Creating a run is asked with an unsaved run of its exercise (``can(user, "create", Run(exercise=exercise))``);
the class (``can(user, "create", Run)``) answers whether the user plans runs at all. Every action but reading
needs the user's institute to take part in the run's exercise and the exercise to be open."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from accounts.access import Rule, is_admin, is_approver, is_institute_member, register
from evaluations.models import Notification, Run, RunItem, SampleResult
from evaluations.models.runs import RunState
from evaluations.rules.common import exercise_ids_taking_part, may_sign_off, user_acts_in, user_takes_part


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
        return queryset.filter(exercise__in=exercise_ids_taking_part(user))

    def can(self, user: Any, action: str, obj: Any) -> bool:
        if not is_institute_member(user):
            return False
        if is_admin(user):
            return action == "view" and not isinstance(obj, type)  # admins read; they never act on runs
        if isinstance(obj, type):
            return action == "create"  # staff and approvers plan runs (in the exercises they act in)
        run: Run = obj
        if action == "view":
            return run.pk is not None and _run_visible(user, run)
        if not user_acts_in(user, run.exercise):
            return False  # other institutes read (admins) or see nothing; a closed exercise is read-only
        if run.pk is None:
            return action == "create"  # a new run (planned or imported) in this exercise
        own = run.created_by_id == user.pk
        if action == "edit":  # while a draft, or submitted (an edit voids the approvals and makes it a draft)
            return own and run.origin == Run.Origin.PORTAL and run.state in (RunState.DRAFT, RunState.SUBMITTED)
        if action == "submit":
            return own and run.origin == Run.Origin.PORTAL
        if action in {"approve", "reject"}:
            return may_sign_off(user, run.exercise, author_id=run.created_by_id)
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
        return queryset.filter(run__exercise__in=exercise_ids_taking_part(user))

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
        return queryset.filter(item__run__exercise__in=exercise_ids_taking_part(user))

    def can(self, user: Any, action: str, obj: Any) -> bool:
        return action == "view" and not isinstance(obj, type) and _run_visible(user, obj.item.run)


@register(Notification)
class NotificationRule(Rule):
    def visible(self, user: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(user=user)

    def can(self, user: Any, action: str, obj: Any) -> bool:
        return not isinstance(obj, type) and action in {"view", "edit"} and obj.user_id == user.pk
