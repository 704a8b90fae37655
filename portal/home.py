"""Reads for the signed-in home page (issue 12): what waits for the user, by role, from the domain selectors.

Every list is cut to a few rows and loaded with its relations, so the page does the same number of queries whatever
the amount of data (tests/portal/test_home.py)."""

from __future__ import annotations

from typing import Any

from django.urls import NoReverseMatch, reverse

from accounts.access import can, is_admin, is_approver, is_institute_member, is_partner_viewer
from accounts.selectors import invitation_list_pending
from evaluations.models import Run
from evaluations.selectors.findings import (
    finding_list_awaiting_sign_off,
    finding_list_changes_requested,
    partner_current_releases,
)
from evaluations.selectors.runs import (
    HOME_LIST_SIZE,
    run_item_health,
    run_list_awaiting_decision,
    run_list_finished_recently,
    run_list_recent,
    run_list_to_fix,
)

# Page names another branch may add; the home page links to the first that exists.
PARTNER_FINDINGS_URLS = ("partner-findings", "finding-list")
FINDING_DETAIL_URLS = ("partner-finding-detail", "finding-detail")


def url_first(names: tuple[str, ...], *args: Any) -> str:
    for name in names:
        try:
            return reverse(name, args=args)
        except NoReverseMatch:
            continue
    return ""


def _counted(queryset: Any) -> dict[str, Any]:
    rows = list(queryset[:HOME_LIST_SIZE])
    count = queryset.count()  # always asked, so the number of queries does not depend on the data
    return {"rows": rows, "count": count, "more": count - len(rows)}


def home_for(*, user: Any) -> dict[str, Any]:
    """The sections of the home page the user sees (each key present only for roles it applies to)."""
    if is_partner_viewer(user):
        releases = partner_current_releases(user=user)
        counted = _counted(releases)
        rows = [{"title": r.snapshot["title"], "exercise": r.snapshot["exercise"]["name"],
                 "severity": r.snapshot["severity"], "released_at": r.released_at, "version": r.version,
                 "url": url_first(FINDING_DETAIL_URLS, r.finding_id)} for r in counted["rows"]]
        return {"role": "partner", "released": {**counted, "rows": rows},
                "findings_url": url_first(PARTNER_FINDINGS_URLS)}
    if not is_institute_member(user):
        return {"role": "none"}
    home: dict[str, Any] = {"role": "admin" if is_admin(user) else "approver" if is_approver(user) else "staff"}
    if is_admin(user):
        home["invitations"] = _counted(invitation_list_pending(user=user))
        home["workers"] = run_item_health(user=user)
    else:
        to_fix = run_list_to_fix(user=user)
        finished = run_list_finished_recently(user=user)
        sent_back = finding_list_changes_requested(user=user)
        home["waiting"] = {"to_fix": to_fix, "finished": finished, "findings": sent_back,
                           "empty": not (to_fix or finished or sent_back)}
        home["may_plan"] = can(user, "create", Run)
    if is_approver(user) and not is_admin(user):
        findings = _counted(finding_list_awaiting_sign_off(user=user))
        for finding in findings["rows"]:
            finding.home_url = url_first(("finding-detail",), finding.pk)
        home["decisions"] = {"runs": _counted(run_list_awaiting_decision(user=user)), "findings": findings}
    home["recent_runs"] = run_list_recent(user=user)
    return home
