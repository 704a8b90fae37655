"""Sending queued run items to the workers: fairly (round-robin over institutes, then over their runs), within
each model version's connection limit and the portal's limit of items in flight (RUNS_MAX_ITEMS_IN_FLIGHT).
Serialised by a PostgreSQL advisory lock; safe to call any time. Beside every message a marker goes to Redis, so
the reconciler (services.runs.run_items_reconcile) knows which messages a Redis data loss took away."""

from __future__ import annotations

import logging
from collections import defaultdict

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from evaluations.models import RunItem
from evaluations.models.runs import ItemState, RunState
from evaluations.selectors.dispatch import WAITING_WINDOW, dispatch_order
from portal.queue import enqueue, enqueue_on_commit

logger = logging.getLogger(__name__)

# The tasks this module sends (their explicit name= in evaluations/tasks/runs.py).
DISPATCH_TASK = "evaluations.run_items_dispatch"
EXECUTE_TASK = "evaluations.run_item_execute"
_DISPATCH_LOCK_KEY = 0x52554E44  # pg_advisory_xact_lock key serialising the dispatcher


def dispatch_on_commit() -> None:
    """Run the dispatcher once the current transaction commits."""
    enqueue_on_commit(DISPATCH_TASK)


def _item_connections(item: RunItem) -> int:
    ceiling = item.model_version.max_connections if item.model_version else 1
    return max(1, min(item.run.max_connections or ceiling, ceiling))


def run_items_dispatch() -> list[int]:
    """Send the next queued items to the workers, fairly, within each model version's connection limit and
    the portal's limit of items in flight. Serialised by an advisory lock; safe to call any time."""

    max_in_flight = settings.RUNS_MAX_ITEMS_IN_FLIGHT
    sent: list[int] = []
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_DISPATCH_LOCK_KEY])
        in_flight = list(RunItem.objects.filter(
            Q(state=ItemState.RUNNING) | Q(state=ItemState.QUEUED, enqueued_at__isnull=False)
        ).select_related("run", "model_version"))
        used: dict[int | None, int] = defaultdict(int)
        for item in in_flight:
            used[item.model_version_id] += _item_connections(item)
        free = max_in_flight - len(in_flight)
        if free <= 0:
            return sent
        waiting = list(RunItem.objects.filter(state=ItemState.QUEUED, enqueued_at__isnull=True,
                                              run__state__in=[RunState.QUEUED, RunState.RUNNING])
                       .select_related("run", "model_version").order_by("queued_at", "pk")[:WAITING_WINDOW])
        now = timezone.now()
        for item in dispatch_order(waiting):
            if len(sent) >= free:
                break
            need = _item_connections(item)
            limit = item.model_version.max_connections if item.model_version else need
            if used[item.model_version_id] + need > limit:
                continue
            if RunItem.objects.filter(pk=item.pk, state=ItemState.QUEUED, enqueued_at__isnull=True).update(
                    enqueued_at=now):
                used[item.model_version_id] += need
                sent.append(item.pk)
        ids = list(sent)
        transaction.on_commit(lambda: _send(ids))
    return sent


def _marker(item_id: int) -> str:
    return f"runs:enqueued:{item_id}"


def _send(item_ids: list[int]) -> None:
    """Send the items' messages and leave a marker beside them in Redis: if Redis loses its data, the marker goes
    with the messages, and the reconciler knows to send them again."""
    for pk in item_ids:
        enqueue(EXECUTE_TASK, pk)
        try:
            cache.set(_marker(pk), 1, timeout=settings.CELERY_VISIBILITY_TIMEOUT)
        except Exception:  # the message went out; without a marker the reconciler merely sends it again
            logger.warning("could not mark item %s as enqueued", pk)


def lost_messages(item_ids: list[int]) -> list[int]:
    """Of the items sent to the workers, those whose marker is gone from Redis (their message went with it)."""
    if not item_ids:
        return []
    try:
        present = cache.get_many([_marker(pk) for pk in item_ids])
    except Exception:  # Redis unreachable: nothing can be sent anyway
        return []
    return [pk for pk in item_ids if _marker(pk) not in present]
