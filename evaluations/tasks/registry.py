"""Celery tasks of the model registry. Tasks take IDs only and call services; every task has an explicit name
(the name queued messages carry: never change it)."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from evaluations.services import registry as registry_services


# The name is the one Celery derived when this task lived in evaluations/tasks.py: queued messages carry it.
@shared_task(name=registry_services.CONNECTION_TEST_TASK, bind=True, acks_late=True,
             autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5, soft_time_limit=120,
             time_limit=registry_services.CONNECTION_TEST_TIME_LIMIT)
def model_connection_test(self, connection_test_id: int) -> None:  # type: ignore[no-untyped-def]
    registry_services.connection_test_execute(test_id=connection_test_id)
