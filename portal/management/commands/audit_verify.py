"""Recompute the audit trail's hash chain; report the first broken or missing row (exit status 1)."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand

from portal.audit import audit_chain_verify


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain. Exit status 1 names the first broken or missing row."

    def handle(self, *args: Any, **options: Any) -> None:
        result = audit_chain_verify()
        if result.ok:
            self.stdout.write(f"Audit trail intact: {result.checked} events verified.")
            return
        self.stderr.write(f"Audit trail BROKEN at event id {result.broken_id}: {result.reason}")
        sys.exit(1)
