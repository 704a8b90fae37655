"""Notices to people about runs and findings: in the portal at once, by e-mail once the transaction commits."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from evaluations.models import Finding, Notification, Run

logger = logging.getLogger(__name__)


def notify(*, users: Iterable[Any], run: Run | None, kind: str, text: str, finding: Finding | None = None) -> None:
    """In-portal notices now; e-mails once the transaction commits (a rolled back action sends nothing).
    A notice is about a run or a finding (its link goes to the finding's page)."""
    recipients = list(dict.fromkeys(users))
    Notification.objects.bulk_create([Notification(user=u, run=run, finding=finding, kind=kind, text=text)
                                      for u in recipients])
    emails = [u.email for u in recipients if u.email]
    if not emails:
        return
    link = str(settings.SITE_URL)
    if finding is not None:
        link = f"{settings.SITE_URL}/findings/{finding.pk}/"
    elif run is not None:
        link = f"{settings.SITE_URL}/runs/{run.pk}/"

    def send() -> None:
        for email in emails:
            try:
                send_mail(subject=f"Joint Testing Portal: {text[:80]}", message=f"{text}\n\n{link}\n",
                          from_email=None, recipient_list=[email])
            except Exception:  # an e-mail outage never undoes the action
                logger.exception("notification e-mail to %s failed", email)

    transaction.on_commit(send)


@transaction.atomic
def notifications_mark_all_read(*, actor: Any) -> int:
    return Notification.objects.filter(user=actor, read_at__isnull=True).update(read_at=timezone.now())
