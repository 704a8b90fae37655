"""``manage.py create_api_token --email EMAIL --scope read|write [--days N]``: prints a new token once."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from accounts.services import DEFAULT_TOKEN_DAYS, api_token_create


class Command(BaseCommand):
    help = "Create an API token for a user and print it once (it is stored hashed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--scope", required=True, choices=["read", "write"])
        parser.add_argument("--days", type=int, default=DEFAULT_TOKEN_DAYS)
        parser.add_argument("--name", default="created with manage.py create_api_token")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(email__iexact=options["email"].strip()).first()
        if user is None or not user.is_active:
            raise CommandError(f"No active user with email {options['email']}.")
        try:
            created = api_token_create(user=user, scope=options["scope"], days=options["days"], name=options["name"])
        except (PermissionDenied, ValidationError) as exc:
            raise CommandError(f"Cannot create the token: {exc}") from None
        self.stdout.write(created.plain)
