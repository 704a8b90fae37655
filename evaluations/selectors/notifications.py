"""Reads for the user's own notices: the notifications page and the unread count on its link.

Institute members and partner viewers have notices (partners: a finding released to their organisation, or
withdrawn). Each notice links only to what its reader may see now: a run or finding they see, and for a partner
viewer only the current release page of a finding released to them (a withdrawn one links nowhere)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet
from django.urls import reverse

from accounts.access import is_institute_member, is_partner_viewer, visible_to
from evaluations.models import Finding, Notification, Run


def notification_reader(user: Any) -> bool:
    """Who has a notifications page: institute members and partner viewers (anyone else: 404)."""
    return is_institute_member(user) or is_partner_viewer(user)


def notification_list(*, user: Any) -> QuerySet[Notification]:
    """The user's own notices, newest first."""
    return visible_to(user, Notification.objects.select_related("run"))


def notification_unread_count(*, user: Any) -> int:
    """How many of the user's notices are unread (the Notifications link shows it)."""
    if not notification_reader(user):
        return 0
    return visible_to(user, Notification.objects.filter(read_at__isnull=True)).count()


def notification_links(*, user: Any, notices: Sequence[Notification]) -> dict[int, str]:
    """Notice id -> the page it links to, for the notices whose run or finding the user may see now (two queries
    at most, whatever the number of notices). A partner viewer's finding notices link to the finding's current
    release; a run notice never links for them (they see no run)."""
    from evaluations.selectors.findings import partner_current_releases

    run_ids = {n.run_id for n in notices if n.run_id}
    finding_ids = {n.finding_id for n in notices if n.finding_id}
    runs: set[int] = set()
    findings: set[int] = set()
    if run_ids and is_institute_member(user):
        runs = set(visible_to(user, Run.objects.filter(pk__in=run_ids)).values_list("pk", flat=True))
    if finding_ids and is_partner_viewer(user):
        findings = set(partner_current_releases(user=user).filter(finding_id__in=finding_ids)
                       .values_list("finding_id", flat=True))
    elif finding_ids and is_institute_member(user):
        findings = set(visible_to(user, Finding.objects.filter(pk__in=finding_ids)).values_list("pk", flat=True))
    links: dict[int, str] = {}
    for notice in notices:
        if notice.finding_id in findings:
            links[notice.pk] = reverse("finding-detail", args=[notice.finding_id])
        elif notice.run_id in runs:
            links[notice.pk] = reverse("run-detail", args=[notice.run_id])
    return links
