"""Celery tasks of the evaluations app (autodiscovered). Tasks take IDs only and call services.
Run tasks live in tasks_runs and are re-exported here."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from evaluations.tasks_runs import (  # noqa: F401
    run_item_execute,
    run_items_dispatch_task,
    run_items_reconcile_task,
    run_recurring_fire_task,
    run_start_task,
)


@shared_task(bind=True, acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5,
             soft_time_limit=120, time_limit=180)
def model_connection_test(self, connection_test_id: int) -> None:  # type: ignore[no-untyped-def]
    from evaluations.services.registry import connection_test_execute

    connection_test_execute(test_id=connection_test_id)
