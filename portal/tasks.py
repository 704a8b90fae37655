"""Portal-wide Celery tasks. Tasks take IDs only and call services."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from portal import anchors, services


@shared_task(name=services.WORKER_PROBE_TASK, bind=True, acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=10)
def worker_probe(self, probe_id: str) -> None:  # type: ignore[no-untyped-def]
    services.worker_probe_execute(probe_id=probe_id, hostname=str(self.request.hostname or ""))


@shared_task(name=anchors.ANCHOR_EXPORT_TASK, acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def audit_anchor_export() -> None:
    """Beat: export the audit chain head outside the database (idempotent: nothing new, nothing written)."""
    anchors.audit_anchor_export()
