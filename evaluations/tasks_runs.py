"""Celery tasks for runs. Tasks take ids only and call services; they are idempotent."""

from __future__ import annotations

import contextlib

from celery import shared_task
from django.db import InterfaceError, OperationalError


@shared_task(name="evaluations.run_item_execute", bind=True, acks_late=True,
             autoretry_for=(OperationalError, InterfaceError), retry_backoff=True, max_retries=20)
def run_item_execute(self, item_id: int) -> str | None:  # type: ignore[no-untyped-def]
    from evaluations.services.runs_execution import item_execute

    return item_execute(item_id=int(item_id), hostname=str(self.request.hostname or ""))


@shared_task(name="evaluations.run_items_dispatch", acks_late=True,
             autoretry_for=(OperationalError, InterfaceError), retry_backoff=True, max_retries=20)
def run_items_dispatch_task() -> int:
    from evaluations.services.runs import run_items_dispatch

    return len(run_items_dispatch())


@shared_task(name="evaluations.run_items_reconcile", acks_late=True,
             autoretry_for=(OperationalError, InterfaceError), retry_backoff=True, max_retries=5)
def run_items_reconcile_task() -> dict[str, int]:
    from evaluations.services.runs import run_items_reconcile

    return run_items_reconcile()


@shared_task(name="evaluations.run_start", acks_late=True,
             autoretry_for=(OperationalError, InterfaceError), retry_backoff=True, max_retries=20)
def run_start_task(run_id: int) -> None:
    from evaluations.models import Run
    from evaluations.services.runs import InvalidTransition, run_start

    run = Run.objects.filter(pk=run_id, state=Run.State.APPROVED).first()
    if run is None:
        return
    with contextlib.suppress(InvalidTransition):
        run_start(run=run)


@shared_task(name="evaluations.run_recurring_fire", acks_late=True,
             autoretry_for=(OperationalError, InterfaceError), retry_backoff=True, max_retries=20)
def run_recurring_fire_task(run_id: int) -> int | None:
    from evaluations.services.runs import run_recurring_fire

    execution = run_recurring_fire(run_id=int(run_id))
    return execution.pk if execution else None
