"""A worker killed with SIGKILL mid-task: the message is not lost, a new worker runs the task again,
and its effect happens exactly once (acks_late + idempotent conditional UPDATE)."""

import time

import pytest

from portal.models import WorkerProbe
from portal.services import worker_probe_create
from tests.support.workers import celery_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# The Redis transport hands an unacknowledged message to another consumer only once the broker's
# visibility timeout has passed since delivery. The workers here get a short one (it must stay above the
# hard time limit, which settings enforce); a worker restores overdue messages when it starts.
VISIBILITY_TIMEOUT = 11
SHORT_LIMITS = {
    "CELERY_TASK_TIME_LIMIT": "10",
    "CELERY_TASK_SOFT_TIME_LIMIT": "8",
    "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
}


def test_task_killed_with_its_worker_runs_again_on_a_new_worker_and_applies_its_effect_once(redis_client):
    with celery_worker(extra_env=SHORT_LIMITS) as first:
        probe = worker_probe_create(delay_seconds=4)
        wait_for(lambda: WorkerProbe.objects.filter(pk=probe.pk, attempts=1).exists(), timeout=30,
                 message="the first worker to start the probe")
        delivered_at = time.monotonic()
        first.kill()  # SIGKILL to the whole process group, mid-sleep
        assert first.proc.poll() is not None

    probe.refresh_from_db()
    assert probe.completed_at is None, "the effect happened before the kill: the test proves nothing"
    assert probe.effect_count == 0

    # Start the replacement once the message is overdue, so it is restored on start-up.
    time.sleep(max(0.0, VISIBILITY_TIMEOUT + 1 - (time.monotonic() - delivered_at)))
    with celery_worker(extra_env=SHORT_LIMITS) as second:
        done = wait_for(
            lambda: WorkerProbe.objects.filter(pk=probe.pk, completed_at__isnull=False).first(),
            timeout=40, message="a new worker to run the killed task again",
        )
        # Give any duplicate delivery a chance to show before checking the effect count.
        time.sleep(1)

    done.refresh_from_db()
    assert done.effect_count == 1
    assert done.attempts == 2
    assert done.worker_hostname == second.hostname
