"""``python manage.py worker_selftest [--timeout N]``: proves web → broker → worker → database works."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.models import WorkerProbe
from portal.services import worker_probe_create


class Command(BaseCommand):
    help = "Enqueue a WorkerProbe task and wait for a Celery worker to complete it (exit status 1 on timeout)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for a worker (default 30)")

    def handle(self, *args: Any, **options: Any) -> None:
        timeout: float = options["timeout"]
        started = time.monotonic()
        probe = worker_probe_create()
        self.stdout.write(f"worker_selftest: probe {probe.pk} enqueued; waiting up to {timeout:g}s for a worker")
        deadline = started + timeout
        while time.monotonic() < deadline:
            done = WorkerProbe.objects.filter(pk=probe.pk, completed_at__isnull=False).first()
            if done is not None:
                elapsed = time.monotonic() - started
                self.stdout.write(self.style.SUCCESS(
                    f"worker_selftest: OK - probe {done.pk} completed by {done.worker_hostname} "
                    f"in {elapsed:.2f}s (attempts={done.attempts}, effect_count={done.effect_count})"
                ))
                return
            time.sleep(0.1)
        raise CommandError(
            f"worker_selftest: no worker completed probe {probe.pk} within {timeout:g}s "
            "- is a Celery worker running on this broker and queue?",
            returncode=1,
        )
