"""Sending Celery tasks from services by name: services never import task modules (tasks call services, not the
reverse; import-linter checks it). The name is the task's explicit ``name=``; arguments are IDs (JSON only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from portal.celery import app


def enqueue(name: str, *args: Any, eta: datetime | None = None) -> None:
    """Send the task called ``name`` now (through the registered task when this process has it, so its options
    apply; otherwise by name)."""
    signature = app.signature(name, args=args)
    if eta is not None:
        signature.apply_async(eta=eta)
    else:
        signature.apply_async()


def enqueue_on_commit(name: str, *args: Any, eta: datetime | None = None) -> None:
    """Send the task once the current transaction commits (a rolled back write sends nothing)."""
    transaction.on_commit(lambda: enqueue(name, *args, eta=eta))
