"""Writes for regressions over time (issue 13): the baseline staff choose for a model version × evaluation version
in an exercise (audited), and the check of a newly finished item against it, which notifies the run's planner
and the exercise's staff when the item is significantly below (one-sided test, evaluations/statistics/trend.py).
The check runs after the item's transaction commits and never fails the item."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest

from accounts.access import require
from accounts.models import User
from evaluations.models import Notification, RunItem, TrendBaseline
from evaluations.models.runs import ItemState
from evaluations.selectors.trends import regression_check_data
from evaluations.services.notifications import notify
from evaluations.statistics.trend import regression_test
from portal.audit import audit_record
from portal.limits import text_check

logger = logging.getLogger(__name__)


@transaction.atomic
def trend_baseline_set(*, actor: Any, item: RunItem, reason: str = "",
                       request: HttpRequest | None = None) -> TrendBaseline:
    """Make a succeeded item the baseline of its model version × evaluation version in its exercise (replacing
    the one before)."""
    item = RunItem.objects.select_related("run__exercise").get(pk=item.pk)
    exercise = item.run.exercise
    require(actor, "create", TrendBaseline(exercise=exercise),
            "Only staff and approvers of an institute taking part in this open exercise choose baselines.")
    if item.state != ItemState.SUCCEEDED or not item.model_version_id or not item.task_version_id:
        raise ValidationError({"item": "Choose a succeeded item of a registered model and evaluation as the "
                                       "baseline"})
    reason = text_check(reason, field="reason", label="The reason")
    current = TrendBaseline.objects.select_for_update().filter(
        exercise=exercise, model_version_id=item.model_version_id, task_version_id=item.task_version_id).first()
    before = {"item": current.item_id} if current else None
    if current is None:
        baseline = TrendBaseline.objects.create(exercise=exercise, model_version_id=item.model_version_id,
                                                task_version_id=item.task_version_id, item=item, reason=reason,
                                                set_by=actor)
    else:
        current.item, current.reason, current.set_by = item, reason, actor
        current.save(update_fields=["item", "reason", "set_by", "set_at"])
        baseline = current
    audit_record(actor=actor, action="trend.baseline_set", obj=baseline, before=before,
                 after={"item": item.pk, "run": item.run_id, "model_version": item.model_version_id,
                        "task_version": item.task_version_id, "reason": reason},
                 request=request, exercise_id=exercise.pk)
    return baseline


def _recipients(item: RunItem) -> list[Any]:
    staff = User.objects.filter(organisation__in=item.run.exercise.institutes.values("pk"), is_active=True,
                                role__in=[User.Role.STAFF, User.Role.APPROVER])
    return [item.run.created_by, *staff.exclude(pk=item.run.created_by_id).order_by("pk")]


@transaction.atomic
def item_regression_check(*, item_id: int) -> bool:
    """Test a finished item against its pair's baseline; notify when it is significantly below. True when a
    notice was sent. Idempotent: an item is reported once."""
    item = RunItem.objects.select_related("run__exercise", "run__created_by", "model_version",
                                          "task_version__eval_task").filter(pk=item_id).first()
    if item is None or item.state != ItemState.SUCCEEDED:
        return False
    data = regression_check_data(item=item)
    if data is None:
        return False
    baseline, base, new = data
    result = regression_test(baseline=base, new=new)
    if not result.significant:
        return False
    marker = f"(item {item.pk})"
    if Notification.objects.filter(run=item.run, kind=Notification.Kind.REGRESSION, text__contains=marker).exists():
        return False
    text = (f"{item.model_name} on {item.task_name} scored {new.mean * 100:.1f} in {item.run.name} {marker}, "
            f"significantly below its baseline {base.mean * 100:.1f} (run {baseline.item.run_id}): lower by "
            f"{-result.difference * 100:.1f} points, one-sided p = {result.p_value:.3g}.")
    notify(users=_recipients(item), run=item.run, kind=Notification.Kind.REGRESSION, text=text)
    audit_record(actor=None, actor_email="worker", action="trend.regression", obj=item.run,
                 after={"item": item.pk, "baseline_item": baseline.item_id, "difference": result.difference,
                        "p_value": result.p_value}, exercise_id=item.run.exercise_id)
    return True


def item_regression_check_on_commit(*, item_id: int) -> None:
    """After the caller's transaction commits: the check, whose failure is logged and never reaches the item."""

    def check() -> None:
        try:
            item_regression_check(item_id=item_id)
        except Exception:
            logger.exception("regression check of item %s failed", item_id)

    transaction.on_commit(check)
