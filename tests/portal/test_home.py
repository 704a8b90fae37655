"""The signed-in home page (issue 12): what waits for each role, the empty states, the unread count on the
Notifications link, and a number of queries that does not grow with the data."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.support.home_data import home_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(exercise, uk_staff, us_staff, uk_approver, us_approver, admin_user, partner_ca):
    def make(copies: int = 1, start: int = 0) -> None:
        home_data(exercise=exercise, uk_staff=uk_staff, us_staff=us_staff, uk_approver=uk_approver,
                  us_approver=us_approver, admin=admin_user, partner=partner_ca, copies=copies, start=start)
    return make


def _home(client, sign_in, user) -> str:
    sign_in(client, user)
    response = client.get("/")
    assert response.status_code == 200
    return response.content.decode()


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_staff_home_lists_runs_to_fix_and_finished_runs_and_the_unread_count(client, sign_in, uk_staff, data):
    data()
    text = _text(_home(client, sign_in, uk_staff))
    assert "Waiting for you" in text
    assert "Change and resubmit Rejected run 0" in text
    assert "Use a sample limit of 20 for the first pass." in text
    assert "Submit Draft run 0 for approval" in text
    assert "Read the results of Finished run 0" in text
    assert "Recent runs in your exercises" in text
    assert "Runs to approve or reject" not in text  # staff decide nothing
    assert re.search(r"Notifications\s*\d+\s*unread", text), "the Notifications link shows the unread count"


def test_staff_home_when_nothing_waits_says_so_and_offers_to_plan_a_run(client, sign_in, uk_staff, exercise):
    text = _text(_home(client, sign_in, uk_staff))
    assert "Nothing is waiting for you." in text
    assert "Plan a run" in text
    assert "No runs yet in your exercises." in text
    assert "unread" not in text


def test_approver_home_counts_runs_and_findings_waiting_for_their_institute(client, sign_in, uk_approver, data):
    data()
    text = _text(_home(client, sign_in, uk_approver))
    assert "Waiting for UK AISI’s decision" in text
    assert "Runs to approve or reject: 1" in text
    assert "US run to approve 0" in text
    assert "Findings to sign off: 1" in text
    assert "Finding to sign off 0" in text
    assert "Released finding 0" not in text  # already signed off by UK AISI


def test_approver_home_leaves_out_what_their_institute_already_decided(client, sign_in, us_approver, uk_approver,
                                                                       data):
    from evaluations.models import Finding, Run
    from evaluations.services.findings import finding_sign_off
    from evaluations.services.runs import run_approve

    data()
    before = _text(_home(client, sign_in, uk_approver))
    assert "Runs to approve or reject: 1" in before and "Findings to sign off: 1" in before
    run_approve(actor=us_approver, run=Run.objects.get(name="US run to approve 0"))
    finding_sign_off(actor=us_approver, finding=Finding.objects.get(title="Finding to sign off 0"))
    text = _text(_home(client, sign_in, us_approver))
    assert "Runs to approve or reject: 0" in text
    assert "No run is waiting for US AISI’s approval." in text
    assert "Findings to sign off: 0" in text
    still = _text(_home(client, sign_in, uk_approver))  # UK AISI has not decided yet
    assert "Runs to approve or reject: 1" in still and "Findings to sign off: 1" in still


def test_approver_home_empty(client, sign_in, uk_approver, exercise):
    text = _text(_home(client, sign_in, uk_approver))
    assert "Runs to approve or reject: 0" in text
    assert "No finding is waiting for UK AISI’s sign-off." in text


def test_admin_home_shows_pending_invitations_and_worker_health(client, sign_in, admin_user, data):
    data()
    text = _text(_home(client, sign_in, admin_user))
    assert "Waiting to be accepted: 1" in text
    assert "invitee0@example.org" in text
    assert "Health of workers" in text
    assert "Running 0 items" in text
    assert "Waiting for you" not in text


def test_admin_home_empty(client, sign_in, admin_user):
    text = _text(_home(client, sign_in, admin_user))
    assert "No invitation is waiting to be accepted." in text
    assert "No runs yet in your exercises." in text


def test_partner_home_lists_what_was_released_to_them(client, sign_in, partner_viewer, data):
    data()
    text = _text(_home(client, sign_in, partner_viewer))
    assert "Released finding 0" in text
    assert "High severity, Joint Exercise Alpha" in text
    assert "Finding to sign off" not in text
    assert "Nothing has been released" not in text


def test_partner_home_says_nothing_has_been_released_yet_and_what_happens_next(client, sign_in, partner_viewer,
                                                                                exercise):
    text = _text(_home(client, sign_in, partner_viewer))
    assert "Nothing has been released to your organisation yet" in text
    assert "When both institutes have signed off a finding, they can release it to you." in text


def test_other_partner_sees_nothing_released_to_the_first(client, sign_in, other_partner_viewer, data):
    data()
    text = _text(_home(client, sign_in, other_partner_viewer))
    assert "Nothing has been released to your organisation yet" in text
    assert "Released finding" not in text


def test_worker_health_page_is_for_admins_only(client, sign_in, admin_user, uk_staff):
    sign_in(client, uk_staff)
    assert client.get("/home/workers/").status_code == 403
    sign_in(client, admin_user)
    response = client.get("/home/workers/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert b"Database" in response.content and b"Broker" in response.content


def _queries(client, url="/") -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize("actor", ["uk_staff", "uk_approver", "admin_user", "partner_viewer"])
def test_the_home_page_does_not_grow_queries_with_data(client, sign_in, request, actor, data):
    user = request.getfixturevalue(actor)
    sign_in(client, user)
    data(copies=1)
    small = _queries(client)
    data(copies=5, start=1)
    assert _queries(client) == small
