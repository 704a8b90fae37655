"""Celery tasks for runs. Tasks take ids only and call services; they are idempotent. Every task has an explicit
name (the name queued messages and django-celery-beat rows carry: never change it)."""

from __future__ import annotations

import contextlib

from celery import shared_task
from django.db import InterfaceError, OperationalError

from evaluations.models import Run
from evaluations.services import dispatch, execution
from evaluations.services import runs as run_services


@shared_task(name=dispatch.EXECUTE_TASK, bind=True, acks_late=True,
             autoretry_for=(OperationalError, InterfaceError), retry_backoff=True, max_retries=20)
def run_item_execute(self, item_id: int) -> str | None:  # type: ignore[no-untyped-def]
    return execution.item_execute(item_id=int(item_id), hostname=str(self.request.hostname or ""))


@shared_task(name=dispatch.DISPATCH_TASK, acks_late=True,
             autoretry_for=(OperationalError, InterfaceError), retry_backoff=True, max_retries=20)
def run_items_dispatch_task() -> int:
    return len(dispatch.run_items_dispatch())


@shared_task(name="evaluations.run_items_reconcile", acks_late=True,  # CELERY_BEAT_SCHEDULE names it
             autoretry_for=(OperationalError, InterfaceError), retry_backoff=True, max_retries=5)
def run_items_reconcile_task() -> dict[str, int]:
    return run_services.run_items_reconcile()


@shared_task(name=run_services.START_TASK, acks_late=True,
             autoretry_for=(OperationalError, InterfaceError), retry_backoff=True, max_retries=20)
def run_start_task(run_id: int) -> None:
    run = Run.objects.filter(pk=run_id, state=Run.State.APPROVED).first()
    if run is None:
        return
    with contextlib.suppress(run_services.InvalidTransition):
        run_services.run_start(run=run)


@shared_task(name=run_services.RECURRING_FIRE_TASK, acks_late=True,
             autoretry_for=(OperationalError, InterfaceError), retry_backoff=True, max_retries=20)
def run_recurring_fire_task(run_id: int) -> int | None:
    execution_run = run_services.run_recurring_fire(run_id=int(run_id))
    return execution_run.pk if execution_run else None
