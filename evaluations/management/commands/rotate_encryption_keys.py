"""Re-encrypt every stored model credential under the newest key in FIELD_ENCRYPTION_KEYS.

Rotation: put a new key first in FIELD_ENCRYPTION_KEYS (keep the old ones after it), run this command, then the
old keys can be removed."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from evaluations.crypto import CredentialDecryptionError
from evaluations.services.registry import credentials_rotate


class Command(BaseCommand):
    help = "Re-encrypt every model credential with the newest key in FIELD_ENCRYPTION_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            count = credentials_rotate()
        except CredentialDecryptionError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {count} credential(s) with the newest key."))
