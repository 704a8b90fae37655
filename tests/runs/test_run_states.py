"""What a run's state is called and which actions each person is offered, in every state: one table (below) that
evaluations.rules.runs must give and that the run page and its polled partial must show. Also: notices that
asked for an approval stop looking current once the run moves on, and queue positions are distinct."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from evaluations.models import Notification, Run, RunItem
from evaluations.rules.runs import RunFacts, item_state_label, run_actions_available, run_state_label
from evaluations.services.runs import run_approve, run_reject, run_submit, run_update
from tests.support.factories import UserFactory

pytestmark = pytest.mark.django_db

ACTORS = ("creator", "colleague", "other_staff", "own_approver", "other_approver", "admin")

# state -> (run label, item label, {actor: actions offered}); the creator is UK staff, "own_approver" a UK
# approver, "other_*" of US AISI, "colleague" another UK staff member. Actors not listed are offered nothing.
TABLE: dict[str, tuple[str, str, dict[str, set[str]]]] = {
    "draft": ("Draft", "Not submitted", {
        "creator": {"edit", "submit", "cancel"}, "own_approver": {"cancel"}, "other_approver": {"cancel"}}),
    "submitted": ("Waiting for approval", "Waiting for approval", {
        "creator": {"edit", "cancel"}, "own_approver": {"approve", "reject", "cancel"},
        "other_approver": {"approve", "reject", "cancel"}}),
    "submitted, UK approved": ("Waiting for approval", "Waiting for approval", {
        "creator": {"edit", "cancel"}, "own_approver": {"reject", "cancel"},
        "other_approver": {"approve", "reject", "cancel"}}),
    "approved": ("Approved (scheduled)", "Approved, not started", {
        "creator": {"cancel"}, "own_approver": {"cancel"}, "other_approver": {"cancel"}}),
    "queued": ("Queued", "Queued", {"creator": {"cancel"}, "own_approver": {"cancel"}, "other_approver": {"cancel"}}),
    "running": ("Running", "Running", {
        "creator": {"cancel"}, "own_approver": {"cancel"}, "other_approver": {"cancel"}}),
    "cancelling": ("Cancelling", "Stopping", {}),
    "succeeded": ("Succeeded", "Succeeded", {}),
    "partially_succeeded": ("Partially succeeded", "Failed", {
        "creator": {"retry"}, "own_approver": {"retry"}, "other_approver": {"retry"}}),
    "failed": ("Failed", "Failed", {"creator": {"retry"}, "own_approver": {"retry"}, "other_approver": {"retry"}}),
    "cancelled": ("Cancelled", "Cancelled", {
        "creator": {"retry"}, "own_approver": {"retry"}, "other_approver": {"retry"}}),
    "rejected": ("Rejected", "Not run: rejected", {}),
}


@pytest.fixture
def actors(uk_staff, uk_aisi, us_staff, uk_approver, us_approver, admin_user):
    colleague = UserFactory(email="uk.colleague@example.org", organisation=uk_aisi, role="staff")
    return {"creator": uk_staff, "colleague": colleague, "other_staff": us_staff, "own_approver": uk_approver,
            "other_approver": us_approver, "admin": admin_user}


def _run_in(case: str, draft_run: Run, actors: dict) -> Run:  # type: ignore[type-arg]
    """The draft run (one item) brought into the case's state: by the services where the state is a decision,
    by direct updates for what the scheduler and workers write."""
    run, now = draft_run, timezone.now()
    if case != "draft":
        run_submit(actor=actors["creator"], run=run)
    if case == "submitted, UK approved":
        run_approve(actor=actors["own_approver"], run=run)
    if case == "rejected":
        run_reject(actor=actors["other_approver"], run=run, reason="Too many samples")
    item_state = {"queued": "queued", "running": "running", "cancelling": "running", "succeeded": "succeeded",
                  "partially_succeeded": "failed", "failed": "failed", "cancelled": "cancelled"}.get(case)
    run_state = {"cancelling": "running"}.get(case, case)
    if case in {"approved", "queued", "running", "cancelling", "succeeded", "partially_succeeded", "failed",
                "cancelled"}:
        Run.objects.filter(pk=run.pk).update(state=run_state, schedule="at", run_at=now + timedelta(hours=1))
    if item_state:
        RunItem.objects.filter(run=run).update(
            state=item_state, queued_at=now, started_at=now if item_state != "queued" else None,
            cancel_requested_at=now if case == "cancelling" else None)
    run.refresh_from_db()
    return run


ACTION = re.compile(r'data-action="([a-z]+)"')
RUN_STATUS = re.compile(r'Status: <strong class="[^"]*">([^<]+)</strong>')
ITEM_STATUS = re.compile(r'<td class="govuk-table__cell"><strong class="govuk-tag[^"]*">([^<]+)</strong>')


@pytest.mark.parametrize("case", list(TABLE))
def test_each_state_has_one_label_and_offers_each_person_only_what_they_can_do_now(case, draft_run, actors,
                                                                                   sign_in):
    run = _run_in(case, draft_run, actors)
    run_label, item_label, offered = TABLE[case]
    item = run.items.get()
    assert run_state_label(state=run.state, stopping=case == "cancelling").text == run_label
    assert item_state_label(state=item.state, run_state=run.state,
                            stopping=item.cancel_requested_at is not None).text == item_label
    approved = frozenset({actors["own_approver"].organisation_id}) if case == "submitted, UK approved" else frozenset()
    facts = RunFacts(approved_institutes=approved, retryable_items=item.state in ("failed", "cancelled"),
                     stopping=case == "cancelling")
    client = Client()  # one client: each new one loads the middleware again (whitenoise scans every static file)
    for name in ACTORS:
        user, expected = actors[name], offered.get(name, set())
        assert {a.name for a in run_actions_available(user=user, run=run, facts=facts)} == expected, (case, name)
        sign_in(client, user)
        for url in (f"/runs/{run.pk}/", f"/runs/{run.pk}/items/"):  # the page, and the partial htmx polls
            body = client.get(url).content.decode()
            assert set(ACTION.findall(body)) == expected, (case, name, url)
            assert RUN_STATUS.findall(body) == [run_label], (case, name, url)
            assert ITEM_STATUS.findall(body) == [item_label], (case, name, url)


def test_the_polled_partial_drops_cancel_and_stops_polling_once_the_run_ends(draft_run, actors, sign_in):
    run = _run_in("running", draft_run, actors)
    client = sign_in(Client(), actors["creator"])
    before = client.get(f"/runs/{run.pk}/items/").content.decode()
    assert 'data-action="cancel"' in before and "every 2s" in before
    Run.objects.filter(pk=run.pk).update(state="succeeded")
    RunItem.objects.filter(run=run).update(state="succeeded", finished_at=timezone.now())
    after = client.get(f"/runs/{run.pk}/items/").content.decode()
    assert 'data-action="cancel"' not in after and "every 2s" not in after and "Succeeded" in after


def test_an_approval_notice_is_settled_when_the_institute_approves_and_outdated_when_the_run_moves_on(
        draft_run, actors, sign_in, uk_aisi):
    second_uk_approver = UserFactory(email="uk.approver2@example.org", organisation=uk_aisi, role="approver")
    run_submit(actor=actors["creator"], run=draft_run)
    unread = Notification.objects.filter(run=draft_run, kind="approval_needed", read_at__isnull=True)
    assert set(unread.values_list("user__email", flat=True)) == {
        "uk.approver@example.org", "uk.approver2@example.org", "us.approver@example.org"}
    run_approve(actor=actors["own_approver"], run=draft_run)
    assert set(unread.values_list("user__email", flat=True)) == {"us.approver@example.org"}, \
        "UK approved: nothing waits for UK approvers any more"
    run_reject(actor=actors["other_approver"], run=draft_run, reason="Wrong model")
    assert not unread.exists()
    page = sign_in(Client(), second_uk_approver).get("/notifications/").content.decode()
    assert "No longer needed" in page and "The run is rejected now" in page


def test_editing_a_submitted_run_settles_its_approval_notices(submitted_run, actors):
    run_update(actor=actors["creator"], run=submitted_run, options={"limit": 2})
    assert not Notification.objects.filter(run=submitted_run, kind="approval_needed", read_at__isnull=True).exists()


def test_queue_positions_are_distinct_and_an_item_sent_to_a_worker_is_starting(exercise, uk_staff, actors,
                                                                               mock_model, counting_task, sign_in):
    from evaluations.services.runs import run_create
    from tests.support.factories import task_version

    other_task = task_version(exercise=exercise, user=uk_staff, name="second")
    run = run_create(actor=uk_staff, exercise=exercise, models=[mock_model], tasks=[counting_task, other_task],
                     options={"name": "Two items"})
    sent_run = run_create(actor=uk_staff, exercise=exercise, models=[mock_model], tasks=[counting_task],
                          options={"name": "Sent"})
    now = timezone.now()
    Run.objects.filter(pk__in=[run.pk, sent_run.pk]).update(state="queued")
    RunItem.objects.filter(run=sent_run).update(state="queued", queued_at=now - timedelta(minutes=1),
                                                enqueued_at=now)
    RunItem.objects.filter(run=run).update(state="queued", queued_at=now)
    client = sign_in(Client(), uk_staff)
    body = client.get(f"/runs/{run.pk}/").content.decode()
    assert "Position 2 in the queue" in body and "Position 3 in the queue" in body
    assert "Position 1 in the queue" not in body
    sent_page = client.get(f"/runs/{sent_run.pk}/").content.decode()
    assert "Starting" in sent_page and "in the queue" not in sent_page


def test_a_confirmation_page_for_an_action_not_possible_now_says_so_without_a_button(draft_run, actors, sign_in):
    run = _run_in("submitted, UK approved", draft_run, actors)
    body = sign_in(Client(), actors["own_approver"]).get(f"/runs/{run.pk}/approve/").content.decode()
    assert "This cannot be done now" in body and "your institute has already approved" in body
    assert ">Approve</button>" not in body
    other = sign_in(Client(), actors["other_approver"]).get(f"/runs/{run.pk}/approve/").content.decode()
    assert ">Approve</button>" in other and "This cannot be done now" not in other


def test_the_api_says_each_status_in_the_words_of_the_page(draft_run, actors):
    from rest_framework.test import APIClient

    run = _run_in("rejected", draft_run, actors)
    client = APIClient()
    client.force_authenticate(actors["creator"])
    body = client.get(f"/api/v1/runs/{run.pk}/").json()
    assert body["status"] == "rejected" and body["status_label"] == "Rejected"
    assert body["items"][0]["status_label"] == "Not run: rejected"
