"""``manage.py worker_selftest``: succeeds with a real worker, exits 1 without one."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from portal.models import WorkerProbe
from tests.support.workers import celery_worker
from tests.support.workers import test_database_url as worker_database_url

BASE_DIR = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def run_selftest(env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "manage.py", "worker_selftest", "--timeout", str(timeout)],
                          cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=timeout + 60)


def test_worker_selftest_reports_the_worker_that_completed_the_probe(redis_client):
    with celery_worker() as worker:
        result = run_selftest(worker.env, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "worker_selftest: OK" in result.stdout
    assert worker.hostname in result.stdout
    probe = WorkerProbe.objects.get()
    assert probe.effect_count == 1
    assert probe.worker_hostname == worker.hostname


def test_worker_selftest_exits_1_when_no_worker_completes_the_probe(redis_client):
    # The test database, broker and queue a worker would use, but no worker runs.
    env = {**os.environ, "DATABASE_URL": worker_database_url(), "REDIS_URL": settings.REDIS_URL,
           "CELERY_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE}
    try:
        result = run_selftest(env, timeout=2)
    finally:
        from portal.celery import app

        app.control.purge()  # drop the undelivered probe message so later worker tests start clean
    assert result.returncode == 1
    assert "no worker completed probe" in result.stderr
    assert WorkerProbe.objects.get().completed_at is None
