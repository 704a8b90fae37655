from __future__ import annotations

import pytest

from evaluations.services.runs import run_create
from tests.runs.factories import model_version, task_version


@pytest.fixture
def mock_model(exercise, uk_staff):
    return model_version(exercise=exercise, user=uk_staff)


@pytest.fixture
def counting_task(exercise, uk_staff):
    return task_version(exercise=exercise, user=uk_staff, args={"samples": 3})


@pytest.fixture
def draft_run(exercise, uk_staff, mock_model, counting_task):
    return run_create(actor=uk_staff, exercise=exercise, models=[mock_model], tasks=[counting_task],
                      options={"name": "Draft run", "limit": 3})


@pytest.fixture
def submitted_run(draft_run, uk_staff):
    from evaluations.services.runs import run_submit

    return run_submit(actor=uk_staff, run=draft_run)
