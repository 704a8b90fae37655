"""Recompute the audit trail's hash chain and check it against the anchors exported outside the database
(``portal/anchors.py``); report the first broken or missing row (exit status 1)."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from portal.anchors import anchor_location, audit_anchor_read, audit_anchors_list
from portal.audit import audit_chain_verify


class Command(BaseCommand):
    help = (
        "Verify the audit trail's hash chain and that every exported anchor (chain head) is still in it. "
        "Exit status 1 names the first broken or missing row."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--no-anchors", action="store_true",
            help="Check the chain only (a tail deleted from the end of the trail then goes unnoticed).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        anchors = []
        if not options["no_anchors"]:
            try:
                anchors = audit_anchors_list()
            except Exception as exc:  # the storage's own error (OSError, botocore's ClientError, ...)
                self.stderr.write(
                    f"Audit anchors cannot be read from {anchor_location()}: {exc}. "
                    "Check AUDIT_ANCHOR_PATH or the log storage, or pass --no-anchors to check the chain alone."
                )
                sys.exit(1)
        result = audit_chain_verify(anchors=anchors)
        if not result.ok:
            self.stderr.write(f"Audit trail BROKEN at event id {result.broken_id}: {result.reason}")
            if result.anchor_name:
                try:
                    anchor = audit_anchor_read(name=result.anchor_name)
                except Exception as exc:  # the message above stands on its own
                    anchor = {"error": str(exc)}
                self.stderr.write(
                    f"The anchor was exported at {anchor.get('exported_at', '?')} "
                    f"(event time {anchor.get('event_created_at', '?')}, hash {anchor.get('hash', '?')})."
                )
            sys.exit(1)
        self.stdout.write(f"Audit trail intact: {result.checked} events verified.")
        if options["no_anchors"]:
            self.stdout.write("Anchors not checked (--no-anchors).")
        elif anchors:
            self.stdout.write(
                f"{result.anchors_checked} anchors in {anchor_location()} match the trail "
                f"(newest: event id {anchors[-1].event_id})."
            )
        else:
            self.stdout.write(
                f"No anchors in {anchor_location()} yet: deleting events from the end of the trail would go "
                "unnoticed until beat exports one (portal.audit_anchor_export)."
            )
