from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from evaluations.services.runs import run_create
from tests.support.factories import FIXTURE_TASKS, model_version, task_version


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


@pytest.fixture(scope="session")
def inspect_log(tmp_path_factory) -> Path:
    """A real Inspect .eval log, made by running the fixture task with Inspect in a separate process."""
    log_dir = tmp_path_factory.mktemp("logs")
    code = (
        "import sys; from inspect_ai import eval; "
        f"logs = eval('{FIXTURE_TASKS}@counting', task_args={{'samples': 4}}, model='mockllm/model', "
        f"log_dir={str(log_dir)!r}, display='none'); "
        "assert logs[0].status == 'success', logs[0].status"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=180, env={
        **os.environ, "HF_HUB_OFFLINE": "1", "INSPECT_LOG_LEVEL": "warning"})
    (log,) = list(log_dir.glob("*.eval"))
    return log


@pytest.fixture
def finished_run(submitted_run, inspect_log, settings, tmp_path):
    """A succeeded run whose one item holds a real Inspect log (in MEDIA_ROOT) and its ingested samples."""
    import shutil

    from evaluations.models import Run, RunItem
    from evaluations.services.execution import samples_ingest

    settings.MEDIA_ROOT = tmp_path / "media"
    item = submitted_run.items.get()
    target = Path(settings.MEDIA_ROOT) / "run-logs" / str(submitted_run.pk) / str(item.pk) / "log.eval"
    target.parent.mkdir(parents=True)
    shutil.copy(inspect_log, target)
    samples_ingest(item_id=item.pk, log_path=str(target))
    RunItem.objects.filter(pk=item.pk).update(state="succeeded", log_path=str(target.relative_to(settings.MEDIA_ROOT)),
                                              done_samples=4, total_samples=4, metrics={"match": {"accuracy": 1.0}})
    Run.objects.filter(pk=submitted_run.pk).update(state="succeeded")
    submitted_run.refresh_from_db()
    return submitted_run
