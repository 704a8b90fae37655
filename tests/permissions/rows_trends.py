"""Matrix rows for power planning and trends (issue 13): the run form's power partial, the trend page, choosing a
baseline, the power API and the trends API (reading a trend, choosing a baseline). Row format: see matrix.py.

Objects (``add_trends``), made by uk_staff: ``ctx.trend_item`` (a succeeded item with scored samples in
``ctx.exercise``) and ``ctx.uk_only_trend_item`` (the same in ``ctx.uk_only_exercise``: the US does not see it).
Partner viewers get 404 from all of it (accounts/gates.py); admins read, never choose a baseline (403)."""

from __future__ import annotations

from typing import Any

from tests.permissions.matrix import Row, context_extension
from tests.permissions.rows_runs import EA, VA, E, V


@context_extension
def add_trends(ctx: Any) -> None:
    from evaluations.models import Run, RunItem, SampleResult
    from evaluations.services.runs import run_create
    from tests.support.factories import model_version, task_version

    uk_staff = ctx.users["uk_staff"]

    def finished(exercise: Any, name: str) -> RunItem:
        model = model_version(exercise=exercise, user=uk_staff, name=f"{name} model")
        task = task_version(exercise=exercise, user=uk_staff, name=f"{name} task")
        run = run_create(actor=uk_staff, exercise=exercise, models=[model], tasks=[task], options={"name": name})
        item = run.items.get()
        SampleResult.objects.bulk_create([SampleResult(item=item, sample_id=str(n), epoch=1, score=n % 2)
                                          for n in range(4)])
        RunItem.objects.filter(pk=item.pk).update(state="succeeded", done_samples=4)
        Run.objects.filter(pk=run.pk).update(state="succeeded")
        item.refresh_from_db()
        return item

    ctx.trend_item = finished(ctx.exercise, "Trend run")
    ctx.uk_only_trend_item = finished(ctx.uk_only_exercise, "UK-only trend run")


def _trend(name: str) -> Any:
    def query(ctx: Any) -> str:
        item = getattr(ctx, name)
        return f"exercise={item.run.exercise_id}&model={item.model_version_id}&task={item.task_version_id}"

    return query


ROWS: list[Any] = [
    Row(route="runs/power/", query=lambda ctx: f"task_versions={ctx.trend_item.task_version_id}&limit=10",
        expect=V(200), note="the run form's power plan (htmx)"),
    Row(route="trends/", query=_trend("trend_item"), expect=V(200)),
    Row(route="trends/", query=_trend("uk_only_trend_item"), expect=E(200, 404, 200, 404, admin=200),
        note="US not in the exercise"),
    Row(route="trends/baseline/", method="POST", data=lambda ctx: {"item": ctx.trend_item.pk},
        expect=E(302, 302, 302, 302), note="staff and approvers of the exercise; admins 403"),
    Row(route="trends/baseline/", method="POST", data=lambda ctx: {"item": ctx.uk_only_trend_item.pk},
        expect=E(302, 404, 302, 404), note="US not in the exercise"),
    Row(route="api/v1/trends/", query=_trend("trend_item"), expect=VA(200)),
    Row(route="api/v1/trends/", query=_trend("uk_only_trend_item"), expect=EA(200, 404, 200, 404, admin=200),
        note="US not in the exercise"),
    Row(route="api/v1/trends/baseline/", method="POST", data=lambda ctx: {"item": ctx.trend_item.pk},
        expect=EA(200, 200, 200, 200), note="staff and approvers of the exercise; admins 403"),
    Row(route="api/v1/trends/baseline/", method="POST", data=lambda ctx: {"item": ctx.uk_only_trend_item.pk},
        expect=EA(200, 404, 200, 404), note="US not in the exercise"),
    Row(route="api/v1/power/", query=lambda ctx: f"tasks={ctx.trend_item.task_version_id}", expect=VA(200)),
    Row(route="api/v1/power/", query=lambda ctx: f"tasks={ctx.uk_only_trend_item.task_version_id}",
        expect=EA(200, 404, 200, 404, admin=200), note="an evaluation the US may not see"),
]
