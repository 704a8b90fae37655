"""Celery tasks of search indexing (evaluations/services/search.py). Tasks take IDs only and call one service; they
are idempotent (a second run finds nothing left to index). Every task has an explicit name (the name queued messages
and the beat schedule carry: never change it)."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from evaluations.services import search as search_services


@shared_task(
    name=search_services.INDEX_TASK,
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=20,
)
def samples_search_index_task(item_id: int) -> int:
    return search_services.samples_index(item_id=int(item_id))


@shared_task(
    name=search_services.SWEEP_TASK,
    acks_late=True,  # CELERY_BEAT_SCHEDULE names it
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=5,
)
def samples_search_index_sweep_task() -> int:
    return len(search_services.samples_index_sweep())
