import pytest

from portal.models import WorkerProbe
from portal.services import worker_probe_create
from tests.support.workers import celery_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_real_worker_process_runs_a_task_that_writes_to_the_database(redis_client):
    with celery_worker() as worker:
        probe = worker_probe_create()
        done = wait_for(
            lambda: WorkerProbe.objects.filter(pk=probe.pk, completed_at__isnull=False).first(),
            timeout=30, message="the worker to complete the probe",
        )
    assert done.effect_count == 1
    assert done.attempts == 1
    assert done.worker_hostname == worker.hostname
