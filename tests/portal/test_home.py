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


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def home(client, sign_in, request, data):
    """``home(actor, with_data=True)``: the text of the actor's home page (an actor fixture's name), after the
    demo-like data of ``home_data`` was made (or on an empty portal with only the exercise)."""
    def text_of(actor: str, *, with_data: bool = True) -> str:
        user = request.getfixturevalue(actor)
        if with_data:
            data()
        sign_in(client, user)
        response = client.get("/")
        assert response.status_code == 200
        return _text(response.content.decode())
    return text_of


# (actor, with data?, texts the page holds, texts it must not hold)
HOME_PAGES = [
    ("uk_staff", True, ["Waiting for you", "Change and resubmit Rejected run 0",
                        "Use a sample limit of 20 for the first pass.", "Submit Draft run 0 for approval",
                        "Read the results of Finished run 0", "Recent runs in your exercises"],
     ["Runs to approve or reject"]),  # staff decide nothing
    ("uk_staff", False, ["Nothing is waiting for you.", "Plan a run", "No runs yet in your exercises."], ["unread"]),
    ("uk_approver", True, ["Waiting for UK AISI’s decision", "Runs to approve or reject: 1", "US run to approve 0",
                           "Findings to sign off: 1", "Finding to sign off 0"],
     ["Released finding 0"]),  # already signed off by UK AISI
    ("uk_approver", False, ["Runs to approve or reject: 0", "No finding is waiting for UK AISI’s sign-off."], []),
    ("admin_user", True, ["Waiting to be accepted: 1", "invitee0@example.org", "Health of workers",
                          "Running 0 items"], ["Waiting for you"]),
    ("admin_user", False, ["No invitation is waiting to be accepted.", "No runs yet in your exercises."], []),
    ("partner_viewer", True, ["Released finding 0", "High severity, Joint Exercise Alpha"],
     ["Finding to sign off", "Nothing has been released"]),
    ("partner_viewer", False, ["Nothing has been released to your organisation yet",
                               "When both institutes have signed off a finding, they can release it to you."], []),
    ("other_partner_viewer", True, ["Nothing has been released to your organisation yet"],
     ["Released finding"]),  # what was released to the first partner only
]


@pytest.mark.parametrize(("actor", "with_data", "shown", "not_shown"), HOME_PAGES,
                         ids=[f"{a}-{'data' if d else 'empty'}" for a, d, _, _ in HOME_PAGES])
def test_each_role_home_page_says_what_waits_for_them_or_that_nothing_does(home, actor, with_data, shown,
                                                                            not_shown):
    text = home(actor, with_data=with_data)
    for expected in shown:
        assert expected in text
    for unexpected in not_shown:
        assert unexpected not in text


@pytest.mark.parametrize("actor", ["uk_staff", "partner_viewer"])
def test_the_notifications_link_shows_the_unread_count(home, actor):
    assert re.search(r"Notifications\s*\d+\s*unread", home(actor)), "the Notifications link shows the unread count"


def test_approver_home_leaves_out_what_their_institute_already_decided(home, us_approver):
    from evaluations.models import Finding, Run
    from evaluations.services.findings import finding_sign_off
    from evaluations.services.runs import run_approve

    before = home("uk_approver")
    assert "Runs to approve or reject: 1" in before and "Findings to sign off: 1" in before
    run_approve(actor=us_approver, run=Run.objects.get(name="US run to approve 0"))
    finding_sign_off(actor=us_approver, finding=Finding.objects.get(title="Finding to sign off 0"))
    text = home("us_approver", with_data=False)
    assert "Runs to approve or reject: 0" in text
    assert "No run is waiting for US AISI’s approval." in text
    assert "Findings to sign off: 0" in text
    still = home("uk_approver", with_data=False)  # UK AISI has not decided yet
    assert "Runs to approve or reject: 1" in still and "Findings to sign off: 1" in still


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
