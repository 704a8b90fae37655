"""Reads for regressions over time (issue 13): the finished items of one model version × evaluation version in an
exercise, oldest first, each with its mean score clustered by sample (computed in SQL), its log's metrics, and
the test against the baseline staff chose (evaluations/statistics/trend.py). A fixed number of queries whatever
the number of items or samples."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django.http import Http404

from accounts.access import get_visible_or_404, visible_to
from evaluations.models import (
    Exercise,
    ModelVersion,
    RegisteredModel,
    RunItem,
    SampleResult,
    TaskVersion,
    TrendBaseline,
)
from evaluations.models.runs import ItemState
from evaluations.statistics.trend import Estimate, estimate_from_summary, trend_points

MAX_POINTS = 100  # the newest items shown on a trend
SCORE_METRIC = "score"  # the portal's own series: the first scorer's value, clustered by sample

_ESTIMATES_SQL = """
WITH s (item_id, sample_id, score) AS ({rows}),
per AS (SELECT item_id, sample_id, avg(score) AS m FROM s GROUP BY item_id, sample_id)
SELECT item_id, count(*), avg(m), var_samp(m) FROM per GROUP BY item_id
"""


def item_estimates(*, item_ids: Sequence[int]) -> dict[int, Estimate]:
    """Each item's mean score with its standard error clustered by sample (epochs averaged first). One query."""
    if not item_ids:
        return {}
    rows = SampleResult.objects.filter(item_id__in=list(item_ids), score__isnull=False, error="").order_by(
    ).values_list("item_id", "sample_id", "score")
    sql, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(_ESTIMATES_SQL.format(rows=sql), params)  # nosemgrep: portal-raw-sql-formatting - Django's own SQL of a queryset, its values as parameters
        return {item_id: estimate_from_summary(mean=float(mean), sample_mean_variance=None if var is None
                                               else float(var), n=int(n))
                for item_id, n, mean, var in cursor.fetchall()}


def trend_items(*, user: Any, exercise: Exercise, model_version: ModelVersion,
                task_version: TaskVersion) -> QuerySet[RunItem]:
    return visible_to(user, RunItem.objects.filter(
        run__exercise=exercise, model_version=model_version, task_version=task_version,
        state=ItemState.SUCCEEDED)).select_related("run")


def trend_baseline_of(*, exercise_id: int, model_version_id: int, task_version_id: int) -> TrendBaseline | None:
    return TrendBaseline.objects.select_related("item__run", "set_by").filter(
        exercise_id=exercise_id, model_version_id=model_version_id, task_version_id=task_version_id).first()


def _metric_series(items: list[RunItem]) -> list[str]:
    names: dict[str, None] = {}
    for item in items:
        for scorer, values in (item.metrics or {}).items():
            if isinstance(values, dict):
                for metric, value in values.items():
                    if metric not in {"stderr", "std", "var"} and isinstance(value, int | float):
                        names[f"{scorer}/{metric}"] = None
    return list(names)


def _metric_estimate(item: RunItem, name: str) -> Estimate | None:
    scorer, metric = name.split("/", 1)
    values = (item.metrics or {}).get(scorer) or {}
    value, stderr = values.get(metric), values.get("stderr")
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    se = float(stderr) if isinstance(stderr, int | float) and not isinstance(stderr, bool) else 0.0
    return Estimate(mean=float(value), se=se, n=item.done_samples or 0)


def trend_page(*, user: Any, exercise_id: int, model_version_id: int, task_version_id: int) -> dict[str, Any]:
    """Everything the trend page and its API show: per series (the clustered score, then each of the logs'
    metrics) the points oldest first with 95 % intervals and the test against the baseline."""
    exercise = get_visible_or_404(user, Exercise.objects.all(), pk=exercise_id)
    model_version = ModelVersion.objects.select_related("registered_model").filter(pk=model_version_id).first()
    task_version = TaskVersion.objects.select_related("eval_task").filter(pk=task_version_id).first()
    if model_version is None or task_version is None:
        raise Http404("No such model version or evaluation version.")
    items = list(trend_items(user=user, exercise=exercise, model_version=model_version,
                             task_version=task_version).order_by("-finished_at", "-pk")[:MAX_POINTS])
    items.reverse()
    if not items:  # nothing the user may see of this pair in this exercise: as if it did not exist
        raise Http404("No finished results of this model and evaluation in this exercise.")
    baseline = trend_baseline_of(exercise_id=exercise.pk, model_version_id=model_version.pk,
                                 task_version_id=task_version.pk)
    estimates = item_estimates(item_ids=[i.pk for i in items])
    series = []
    names = [SCORE_METRIC, *_metric_series(items)]
    for name in names:
        pairs = []
        for item in items:
            estimate = estimates.get(item.pk) if name == SCORE_METRIC else _metric_estimate(item, name)
            pairs.append((item, estimate))
        present = [(i, e) for i, e in pairs if e is not None]
        if not present:
            continue
        index = next((n for n, (i, _) in enumerate(present) if baseline and i.pk == baseline.item_id), None)
        points = trend_points([(i.run.name, e) for i, e in present], baseline_index=index)
        rows = []
        for (item, estimate), point in zip(present, points, strict=True):
            low, high = estimate.interval()
            rows.append({"item": item, "run": item.run, "finished_at": item.finished_at, "mean": estimate.mean,
                         "se": estimate.se, "low": low, "high": high, "n": estimate.n, "baseline": point.baseline,
                         "regression": point.regression})
        series.append({"name": name, "label": "Score (clustered by sample)" if name == SCORE_METRIC else name,
                       "rows": rows})
    return {"exercise": exercise, "model_version": model_version, "task_version": task_version, "items": items,
            "baseline": baseline, "series": series}


def trend_pairs_for_model(*, user: Any, model: RegisteredModel) -> list[dict[str, Any]]:
    """The model's (exercise, version, evaluation version) pairs with finished results the user may see, for the
    model page's links to their trends. One query."""
    rows = visible_to(user, RunItem.objects.filter(model_version__registered_model=model,
                                                   state=ItemState.SUCCEEDED, task_version__isnull=False))
    pairs = rows.values("run__exercise_id", "run__exercise__name", "model_version_id", "model_version__number",
                        "task_version_id", "task_version__number", "task_version__eval_task__name").distinct()
    return [dict(row) for row in pairs.order_by("run__exercise__name", "model_version__number",
                                                "task_version__eval_task__name", "task_version__number")]


def regression_check_data(*, item: RunItem) -> tuple[TrendBaseline, Estimate, Estimate] | None:
    """The baseline of a newly finished item's pair and both clustered estimates, or None (no baseline, the item
    is the baseline, or either has no scores)."""
    if not item.model_version_id or not item.task_version_id:
        return None
    baseline = trend_baseline_of(exercise_id=item.run.exercise_id, model_version_id=item.model_version_id,
                                 task_version_id=item.task_version_id)
    if baseline is None or baseline.item_id == item.pk:
        return None
    estimates = item_estimates(item_ids=[baseline.item_id, item.pk])
    if baseline.item_id not in estimates or item.pk not in estimates:
        return None
    return baseline, estimates[baseline.item_id], estimates[item.pk]

