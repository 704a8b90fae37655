"""Reads for power planning (issue 13): the variance components of each planned evaluation, estimated in SQL from
the earlier finished items of the same evaluation version (else of other versions of the same evaluation) that
the user may see, and the plan of a run (formulas: evaluations/statistics/power.py, docs/runs.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection

from accounts.access import visible_to
from evaluations.models import RunItem, SampleResult, TaskVersion
from evaluations.models.runs import ItemState
from evaluations.statistics.power import ALPHA, POWER, Components, components_from_summary, plan

# One query for every planned evaluation: per item and sample the mean of the epochs and their variance; per item
# the variance of the sample means (weighted by its degrees of freedom when pooled); per pair of items of one run
# on the same evaluation version (two models) the covariance of their sample means on the shared samples.
_COMPONENTS_SQL = """
WITH s (item_id, sample_id, score, tv, et, run_id, mv) AS ({rows}),
per AS (
    SELECT et, tv, item_id, run_id, mv, sample_id, avg(score) AS m, var_samp(score) AS w, count(*) AS c
    FROM s GROUP BY et, tv, item_id, run_id, mv, sample_id
),
per_item AS (
    SELECT et, tv, item_id, count(*) AS n, var_samp(m) AS vm, avg(w) AS w, avg(c) AS k FROM per
    GROUP BY et, tv, item_id
),
var AS (
    SELECT et, tv, count(*) AS items, max(n) AS max_n,
           sum(vm * (n - 1)) AS vm_ss, sum(n - 1) FILTER (WHERE vm IS NOT NULL) AS vm_df,
           sum(w * n) FILTER (WHERE w IS NOT NULL) AS w_sum, sum(n) FILTER (WHERE w IS NOT NULL) AS w_n,
           avg(k) AS k
    FROM per_item GROUP BY et, tv
),
pair AS (
    SELECT a.tv, covar_samp(a.m, b.m) AS cv, count(*) AS np FROM per a
    JOIN per b ON a.run_id = b.run_id AND a.tv = b.tv AND a.sample_id = b.sample_id AND a.item_id < b.item_id
                  AND a.mv IS DISTINCT FROM b.mv
    GROUP BY a.tv, a.item_id, b.item_id
),
cor AS (
    SELECT tv, sum(cv * (np - 1)) FILTER (WHERE cv IS NOT NULL) AS cv_ss,
           sum(np - 1) FILTER (WHERE cv IS NOT NULL) AS cv_df, sum(np) AS pairs
    FROM pair GROUP BY tv
)
SELECT var.et, var.tv, var.items, var.max_n, var.vm_ss, var.vm_df, var.w_sum, var.w_n, var.k,
       cor.cv_ss, cor.cv_df, cor.pairs
FROM var LEFT JOIN cor ON cor.tv = var.tv
"""

_FIELDS = ("et", "tv", "items", "max_n", "vm_ss", "vm_df", "w_sum", "w_n", "k", "cv_ss", "cv_df", "pairs")


def _pool(rows: list[dict[str, Any]], source: str) -> Components:
    def total(key: str) -> float:
        return float(sum(r[key] or 0 for r in rows))

    vm_df, w_n, cv_df = total("vm_df"), total("w_n"), total("cv_df")
    items = int(total("items"))
    k_values = [float(r["k"]) for r in rows if r["k"] is not None]
    return components_from_summary(
        sample_mean_variance=total("vm_ss") / vm_df if vm_df else None,
        within=total("w_sum") / w_n if w_n else None,
        epochs=sum(k_values) / len(k_values) if k_values else None,
        covariance=total("cv_ss") / cv_df if cv_df else None, pairs=int(total("pairs")), items=items,
        source=source)


def power_components(*, user: Any, task_versions: Sequence[TaskVersion]) -> dict[int, tuple[Components, int | None]]:
    """Per planned evaluation version: its variance components and the most samples an earlier item had (the
    dataset size when the version does not record one). One SQL query whatever the number of evaluations."""
    if not task_versions:
        return {}
    eval_task_ids = sorted({tv.eval_task_id for tv in task_versions})
    items = visible_to(user, RunItem.objects.filter(state=ItemState.SUCCEEDED,
                                                    task_version__eval_task_id__in=eval_task_ids))
    rows_qs = SampleResult.objects.filter(item__in=items, score__isnull=False, error="").order_by().values_list(
        "item_id", "sample_id", "score", "item__task_version_id", "item__task_version__eval_task_id",
        "item__run_id", "item__model_version_id")
    rows_sql, params = rows_qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(_COMPONENTS_SQL.format(rows=rows_sql), params)  # nosemgrep: portal-raw-sql-formatting - Django's own SQL of a queryset, its values as parameters
        rows = [dict(zip(_FIELDS, row, strict=True)) for row in cursor.fetchall()]
    result: dict[int, tuple[Components, int | None]] = {}
    for tv in task_versions:
        own = [r for r in rows if r["tv"] == tv.pk]
        siblings = [r for r in rows if r["et"] == tv.eval_task_id]
        components = _pool(own, "task_version") if own else _pool(siblings, "task") if siblings else _pool([], "")
        observed = max((int(r["max_n"]) for r in own), default=None)
        result[tv.pk] = (components, observed)
    return result


def planned_samples(*, task_version: TaskVersion, limit: int | None, sample_ids: Sequence[str] | None,
                    observed: int | None) -> int | None:
    """The samples a run will score on this evaluation: the ids given, else the limit, never more than the dataset
    (its recorded size, else the most an earlier item had); None when nothing says how many."""
    size = task_version.sample_count or observed
    wanted = len(sample_ids) if sample_ids else limit
    if wanted and size:
        return min(wanted, size)
    return wanted or size


def power_plan_build(*, user: Any, task_versions: Sequence[TaskVersion], model_count: int, limit: int | None = None,
                     sample_ids: Sequence[str] | None = None, epochs: int = 1,
                     difference: float | None = None) -> dict[str, Any]:
    """The plan of a run, JSON-ready: one entry per evaluation (in the order given), with the minimum detectable
    difference in points and, for a typed ``difference`` (points), the samples needed."""
    components = power_components(user=user, task_versions=task_versions)
    evaluations = []
    for tv in task_versions:
        comp, observed = components[tv.pk]
        samples = planned_samples(task_version=tv, limit=limit, sample_ids=sample_ids, observed=observed)
        entry = plan(comp, samples=samples, epochs=epochs, difference_points=difference)
        dataset = tv.sample_count or observed
        entry.update({"task_version": tv.pk, "name": str(tv), "dataset_samples": dataset,
                      "needs_more_than_dataset": bool(entry["samples_needed"] and dataset
                                                      and entry["samples_needed"] > dataset)})
        evaluations.append(entry)
    return {"alpha": ALPHA, "power": POWER, "models": model_count, "pairs": model_count * (model_count - 1) // 2,
            "epochs": epochs, "difference": difference, "evaluations": evaluations}


MAX_PLANNED = 100  # evaluations (and models) one plan covers, as a run's choice


def power_plan_preview(*, user: Any, task_version_ids: Sequence[int], model_version_ids: Sequence[int],
                       limit: int | None = None, sample_ids: Sequence[str] | None = None, epochs: int = 1,
                       difference: float | None = None) -> dict[str, Any]:
    """The plan for evaluation and model versions named by id (the run form before saving, the API): Http404
    when the user may not see one of them. Three queries."""
    from django.http import Http404

    from evaluations.models import ModelVersion

    task_ids = list(dict.fromkeys(task_version_ids))[:MAX_PLANNED]
    model_ids = list(dict.fromkeys(model_version_ids))[:MAX_PLANNED]
    tasks = {tv.pk: tv for tv in visible_to(user, TaskVersion.objects.filter(pk__in=task_ids)).select_related(
        "eval_task")}
    models = visible_to(user, ModelVersion.objects.filter(pk__in=model_ids)).count() if model_ids else 0
    if len(tasks) != len(task_ids) or models != len(model_ids):
        raise Http404("No such evaluation or model version.")
    return power_plan_build(user=user, task_versions=[tasks[pk] for pk in task_ids], model_count=len(model_ids),
                            limit=limit, sample_ids=sample_ids, epochs=epochs, difference=difference)
