"""Helpers for power planning and trends (issue 13): finished items with real sample rows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from evaluations.models import Run, RunItem, SampleResult
from evaluations.services.runs import run_create
from evaluations.services.trends import trend_baseline_set
from tests.support.factories import model_version, task_version


def finished_run(*, actor: Any, exercise: Any, models: list[Any], task: Any, scores: list[dict[str, list[float]]],
                 name: str = "Earlier run", days_ago: int = 0) -> Run:
    """A succeeded run of ``models`` × ``task``; ``scores[i]`` gives model i's epochs' scores per sample id."""
    run = run_create(actor=actor, exercise=exercise, models=models, tasks=[task], options={"name": name})
    finished = timezone.now() - timedelta(days=days_ago)
    items = {item.model_version_id: item for item in run.items.all()}
    rows = []
    for model, per_sample in zip(models, scores, strict=True):
        item = items[model.pk]
        for sample_id, values in per_sample.items():
            rows += [SampleResult(item=item, sample_id=sample_id, epoch=epoch, score=value, scores={"s": value})
                     for epoch, value in enumerate(values, start=1)]
        RunItem.objects.filter(pk=item.pk).update(state="succeeded", finished_at=finished,
                                                  done_samples=len(per_sample), total_samples=len(per_sample),
                                                  metrics={"match": {"accuracy": 0.5, "stderr": 0.1}})
    SampleResult.objects.bulk_create(rows)
    Run.objects.filter(pk=run.pk).update(state="succeeded", finished_at=finished)
    run.refresh_from_db()
    return run


@pytest.fixture
def make_finished_run():
    return finished_run


GOOD = {f"s{i}": [1.0, 1.0] if i % 10 else [0.0, 1.0] for i in range(40)}  # mean 0.95
BAD = {f"s{i}": [1.0, 0.0] if i % 2 else [0.0, 0.0] for i in range(40)}  # mean 0.25


@pytest.fixture
def pair(exercise, uk_staff):
    return {"model": model_version(exercise=exercise, user=uk_staff, name="Model A"),
            "task": task_version(exercise=exercise, user=uk_staff, name="Quiz")}


@pytest.fixture
def baseline_item(exercise, uk_staff, pair, make_finished_run):
    run = make_finished_run(actor=uk_staff, exercise=exercise, models=[pair["model"]], task=pair["task"],
                            scores=[GOOD], name="Signed-off run", days_ago=5)
    item = run.items.get()
    trend_baseline_set(actor=uk_staff, item=item, reason="the release we signed off")
    return item
