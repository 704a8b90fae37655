from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from evaluations.models import Run, RunItem, SampleResult
from tests.support.factories import model_version, task_version


def make_items(*, exercise, user, names: list[str], samples: int, scores, task=None, epochs: int = 1,
               metadata=None) -> list[RunItem]:
    """Finished items of one evaluation version, one per model name; ``scores(model_index, sample, epoch)`` gives
    a sample's ``scores`` JSON (or ``(scores, error)``)."""
    tv = task or task_version(exercise=exercise, user=user)
    run = Run.objects.create(exercise=exercise, created_by=user, owner_id=user.organisation_id, name="Compared",
                             state=Run.State.SUCCEEDED)
    items = []
    for index, name in enumerate(names):
        mv = model_version(exercise=exercise, user=user, name=name, provider_model=f"mockllm/{index}")
        item = RunItem.objects.create(run=run, model_version=mv, task_version=tv, model_label=mv.provider_model,
                                      task_label="counting", state=RunItem.State.SUCCEEDED, done_samples=samples)
        rows = []
        for sample in range(samples):
            for epoch in range(1, epochs + 1):
                value = scores(index, sample, epoch)
                value, error = value if isinstance(value, tuple) else (value, "")
                rows.append(SampleResult(item=item, sample_id=f"s{sample}", epoch=epoch, scores=value, error=error,
                                         metadata=(metadata(sample) if metadata else {})))
        SampleResult.objects.bulk_create(rows)
        items.append(item)
    return items


@pytest.fixture
def api_as():
    def make(user):
        client = APIClient()
        client.force_authenticate(user)
        return client
    return make
