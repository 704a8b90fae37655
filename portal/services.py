"""Portal-wide writes."""

from __future__ import annotations

import time
import uuid

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from portal.models import WorkerProbe
from portal.queue import enqueue_on_commit

WORKER_PROBE_TASK = "portal.tasks.worker_probe"  # portal.tasks.worker_probe's name=


def worker_probe_create(*, delay_seconds: float = 0) -> WorkerProbe:
    """Create a probe row and enqueue its task once the row is committed."""
    with transaction.atomic():
        probe = WorkerProbe.objects.create(delay_seconds=delay_seconds)
        enqueue_on_commit(WORKER_PROBE_TASK, str(probe.pk))
    return probe


def worker_probe_execute(*, probe_id: str | uuid.UUID, hostname: str) -> bool:
    """Run a probe: idempotent. Returns True when this call applied the effect.

    The effect (``effect_count += 1``) is a conditional UPDATE on ``completed_at IS NULL``, so a
    redelivered message after a killed worker, or two workers given the same message, apply it once."""
    updated = WorkerProbe.objects.filter(pk=probe_id).update(attempts=F("attempts") + 1, worker_hostname=hostname)
    if not updated:
        return False  # the row is gone: nothing to do
    probe = WorkerProbe.objects.get(pk=probe_id)
    if probe.completed_at is not None:
        return False
    if probe.delay_seconds:
        time.sleep(probe.delay_seconds)
    return bool(
        WorkerProbe.objects.filter(pk=probe_id, completed_at__isnull=True).update(
            effect_count=F("effect_count") + 1, completed_at=timezone.now()
        )
    )
