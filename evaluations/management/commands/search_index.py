"""Index for search every sample left unindexed (docs/search.md): normally a worker's task does it after each
ingestion and beat's sweep catches what a lost task left; this does it at once, in this process (after a restore,
or where no worker runs)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from evaluations.services.search import samples_index_all


class Command(BaseCommand):
    help = (
        "Fill the search vector of every sample that has none (items still queued or running are left alone)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--include-running", action="store_true", help="also the samples of items still queued or running"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        items, rows = samples_index_all(finished_only=not options["include_running"])
        self.stdout.write(self.style.SUCCESS(f"Indexed {rows} sample(s) of {items} item(s)."))
