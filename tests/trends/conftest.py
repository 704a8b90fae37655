"""Helpers for power planning and trends (issue 13): finished items with real sample rows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from evaluations.models import Run, RunItem, SampleResult
from evaluations.services.runs import run_create


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
