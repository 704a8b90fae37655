"""The audit trail's count stops at a cap (issue 13, "Speed": an exact COUNT(*) read every event the reader may see),
in the page and in the API, and still counts only what the reader may see (portal.pagination.CappedPaginator)."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from rest_framework.test import APIClient

from portal.audit import audit_record
from portal.pagination import CappedPaginator
from tests.support.helpers import sign_in

pytestmark = pytest.mark.django_db

CAP = 5


@pytest.fixture
def low_cap(monkeypatch):
    monkeypatch.setattr(CappedPaginator, "cap", CAP)


@pytest.fixture
def events(uk_staff, us_staff, uk_approver, exercise):
    """8 events of the UK staff member in the exercise, 2 of the US staff member outside any exercise."""
    mine = [
        audit_record(actor=uk_staff, action="test.mine", after={"n": n}, exercise_id=exercise.pk)
        for n in range(8)
    ]
    theirs = [audit_record(actor=us_staff, action="test.theirs", after={"n": n}) for n in range(2)]
    return mine, theirs


def _ids(html: str) -> int:
    return len(re.findall(r"<code>test\.(?:mine|theirs)</code>", html))


def test_the_page_counts_up_to_the_cap_and_says_more_match(low_cap, events, uk_approver):
    client = sign_in(Client(), uk_approver)
    html = client.get("/audit/").content.decode()
    assert "More than 5 events match" in html and "download these events as CSV" in html
    assert _ids(html) == CAP  # 50 a page: the pages reach the newest 5


def test_the_page_counts_exactly_below_the_cap(low_cap, events, uk_staff, us_staff):
    html = sign_in(Client(), us_staff).get("/audit/").content.decode()  # only their own 2 events
    assert "More than" not in html and _ids(html) == 2


def test_the_api_says_when_the_count_is_capped_and_pages_reach_the_newest_events(
    low_cap, events, uk_approver, us_staff
):
    mine, _theirs = events
    client = sign_in(APIClient(), uk_approver)
    body = client.get("/api/v1/audit-events/", {"page_size": 2, "action": "test.mine"}).json()
    assert body["count"] == CAP and body["count_capped"] is True
    seen, page = [], body
    while True:
        seen += [row["id"] for row in page["results"]]
        if not page["next"]:
            break
        page = client.get(page["next"]).json()
    assert seen == [event.pk for event in reversed(mine)][:CAP]
    # another reader: only their own events are counted, exactly
    theirs = sign_in(APIClient(), us_staff).get("/api/v1/audit-events/").json()
    assert theirs["count"] == 2 and theirs["count_capped"] is False
    assert {row["action"] for row in theirs["results"]} == {"test.theirs"}


def test_without_the_low_cap_every_event_is_counted(events, uk_approver):
    body = sign_in(APIClient(), uk_approver).get("/api/v1/audit-events/", {"action": "test.mine"}).json()
    assert body["count"] == 8 and body["count_capped"] is False
