"""Reads for runs: visible runs and samples with filters, queue positions, and comparisons of items."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from django.db.models import Q, QuerySet

from accounts.access import visible_to
from evaluations.models import Run, RunItem, SampleResult
from evaluations.models.runs import ItemState
from evaluations.selectors.dispatch import WAITING_WINDOW, dispatch_order


def run_list(*, user: Any, exercise_id: int | None = None, state: str | None = None,
             q: str | None = None) -> QuerySet[Run]:
    runs = visible_to(user, Run.objects.select_related("exercise", "created_by", "owner"))
    if exercise_id:
        runs = runs.filter(exercise_id=exercise_id)
    if state:
        runs = runs.filter(state=state)
    if q:
        runs = runs.filter(name__icontains=q)
    return runs.order_by("-created_at")


def sample_list(*, user: Any, run: Run, item_id: int | None = None, score: str | None = None,
                error: str | None = None, text: str | None = None) -> QuerySet[SampleResult]:
    """``score``: "correct" (> 0), "incorrect" (== 0 or none), or a number; ``error``: "yes"/"no"."""
    samples = visible_to(user, SampleResult.objects.filter(item__run=run)).select_related("item")
    if item_id:
        samples = samples.filter(item_id=item_id)
    if score:
        if score == "correct":
            samples = samples.filter(score__gt=0)
        elif score == "incorrect":
            samples = samples.filter(Q(score__lte=0) | Q(score__isnull=True))
        else:
            try:
                samples = samples.filter(score=float(score))
            except ValueError:
                samples = samples.none()
    if error in {"yes", "true", "1"}:
        samples = samples.exclude(error="")
    elif error in {"no", "false", "0"}:
        samples = samples.filter(error="")
    if text:
        samples = samples.filter(Q(input_text__icontains=text) | Q(output__icontains=text)
                                 | Q(explanation__icontains=text) | Q(sample_id=text))
    return samples.order_by("item_id", "sample_id", "epoch")


def _mean_ci(values: list[float]) -> dict[str, Any]:
    n = len(values)
    if n == 0:
        return {"n": 0, "mean": None, "stderr": None, "ci95": None}
    mean = sum(values) / n
    if n < 2:
        return {"n": n, "mean": mean, "stderr": None, "ci95": None}
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    se = math.sqrt(var / n)
    return {"n": n, "mean": mean, "stderr": se, "ci95": [mean - 1.96 * se, mean + 1.96 * se]}


def items_compare(*, items: list[RunItem]) -> dict[str, Any]:
    """Per item: mean score with a 95% confidence interval (normal approximation, sample standard error);
    per pair against the first item: the paired difference on the (sample id, epoch) both items share."""
    scores: dict[int, dict[tuple[str, int], float]] = {}
    for item in items:
        rows = SampleResult.objects.filter(item=item, score__isnull=False).values_list("sample_id", "epoch", "score")
        scores[item.pk] = {(sid, epoch): float(value) for sid, epoch, value in rows if value is not None}
    result: dict[str, Any] = {"items": [], "differences": []}
    for item in items:
        result["items"].append({
            "id": item.pk, "run": item.run_id, "model": item.model_label, "task": item.task_label,
            "metrics": item.metrics, "score": _mean_ci(list(scores[item.pk].values())),
        })
    if items:
        base = items[0]
        for other in items[1:]:
            shared = sorted(set(scores[base.pk]) & set(scores[other.pk]))
            diffs = [scores[other.pk][k] - scores[base.pk][k] for k in shared]
            result["differences"].append({"base": base.pk, "item": other.pk, "shared_samples": len(shared),
                                          "difference": _mean_ci(diffs)})
    return result


def queue_positions(*, items: Iterable[RunItem]) -> dict[int, int]:
    """1-based place of each queued item among ``items`` in the dispatcher's order (items already sent to a
    worker come first, at place 1). Two queries at most whatever the number of items (none when no item given
    is queued): compute it once for a page, not per item."""
    queued = [item for item in items if item.state == ItemState.QUEUED]
    positions = {item.pk: 1 for item in queued if item.enqueued_at is not None}
    wanted = {item.pk for item in queued if item.enqueued_at is None}
    if not wanted:
        return positions
    ahead = RunItem.objects.filter(state=ItemState.QUEUED, enqueued_at__isnull=False).count()
    waiting = list(RunItem.objects.filter(state=ItemState.QUEUED, enqueued_at__isnull=True)
                   .select_related("run").only("pk", "queued_at", "run", "run__owner")
                   .order_by("queued_at", "pk")[:WAITING_WINDOW])
    for index, other in enumerate(dispatch_order(waiting)):
        if other.pk in wanted:
            positions[other.pk] = ahead + index + 1
    return positions
