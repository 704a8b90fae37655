"""``manage.py seed_demo [--json]``: the demo organisations, exercise and accounts (idempotent; CONTRACT.md)."""

from __future__ import annotations

import json
import secrets
from typing import Any

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from allauth.mfa.utils import decrypt
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from accounts.models import Organisation, User
from evaluations.demo import seed_comparison, seed_evaluations, seed_findings
from evaluations.models import Exercise
from portal.audit import audit_record

ORGANISATIONS = [
    ("UK AISI", Organisation.Kind.INSTITUTE, "GB"),
    ("US AISI", Organisation.Kind.INSTITUTE, "US"),
    ("Partner Institute CA", Organisation.Kind.PARTNER, "CA"),
]
ACCOUNTS = [
    ("uk.staff@example.org", "UK AISI", User.Role.STAFF, False),
    ("us.staff@example.org", "US AISI", User.Role.STAFF, False),
    ("uk.approver@example.org", "UK AISI", User.Role.APPROVER, False),
    ("us.approver@example.org", "US AISI", User.Role.APPROVER, False),
    ("admin@example.org", "UK AISI", User.Role.STAFF, True),
    ("partner.viewer@example.org", "Partner Institute CA", User.Role.PARTNER_VIEWER, False),
]
EXERCISE_NAME = "Demo Joint Exercise"


class Command(BaseCommand):
    help = "Create the demo organisations, exercise and accounts (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print one JSON object and nothing else.")

    def handle(self, *args: Any, **options: Any) -> None:
        password = settings.DEMO_PASSWORD
        printed_password = password or secrets.token_urlsafe(12)
        accounts_out: list[dict[str, Any]] = []
        with transaction.atomic():
            orgs = {}
            for name, kind, country in ORGANISATIONS:
                orgs[name], _ = Organisation.objects.get_or_create(
                    name=name, defaults={"kind": kind, "country_code": country}
                )
            exercise, created = Exercise.objects.get_or_create(
                name=EXERCISE_NAME,
                defaults={"description": "A demonstration exercise of the UK and US institutes, with Canada invited.",
                          "status": Exercise.Status.ACTIVE},
            )
            exercise.institutes.add(orgs["UK AISI"], orgs["US AISI"])
            exercise.partners.add(orgs["Partner Institute CA"])
            admin = None
            for email, org_name, role, is_admin in ACCOUNTS:
                user, _ = User.objects.get_or_create(email=email, defaults={"organisation": orgs[org_name]})
                user.organisation = orgs[org_name]
                user.role = role
                user.is_portal_admin = is_admin
                user.is_staff = is_admin
                user.is_active = True
                user.set_password(printed_password)
                user.save()
                EmailAddress.objects.update_or_create(
                    user=user, email=email, defaults={"verified": True, "primary": True}
                )
                totp_secret = None
                if settings.DEBUG:
                    # Keep an enrolled secret across runs, so a browser test's authenticator stays valid.
                    existing = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
                    if existing is not None:
                        totp_secret = decrypt(existing.data["secret"])
                    else:
                        totp_secret = generate_totp_secret()
                        TOTP.activate(user, totp_secret)
                accounts_out.append({"email": email, "organisation": org_name, "role": role,
                                     "totp_secret": totp_secret})
                if is_admin:
                    admin = user
            if created:
                audit_record(actor=admin, action="exercise.create", obj=exercise, exercise_id=exercise.pk,
                             after={"name": exercise.name, "seeded": True})
        self._seed_evaluations(exercise=exercise, created_by=admin)
        url = settings.SITE_URL
        if options["json"]:
            # totp_secret is null outside DEBUG (no TOTP is enrolled then).
            payload = {"url": url, "password": printed_password, "accounts": accounts_out}
            self.stdout.write(json.dumps(payload))
            return
        self.stdout.write(f"Demo data ready at {url}")
        self.stdout.write(f"Password for every demo account: {printed_password}"
                          + ("" if password else " (random: set DEMO_PASSWORD to choose one)"))
        for account in accounts_out:
            line = f"  {account['email']:<30} {account['organisation']:<22} {account['role']}"
            if account["totp_secret"]:
                line += f"  TOTP secret {account['totp_secret']}"
            self.stdout.write(line)

    def _seed_evaluations(self, *, exercise: Exercise, created_by: User | None) -> None:
        evaluations = seed_evaluations(exercise=exercise, created_by=created_by)
        seed_findings(exercise=exercise, evaluations=evaluations)
        seed_comparison(exercise=exercise, evaluations=evaluations)

