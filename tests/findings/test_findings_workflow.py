"""The findings workflow: every role on every action in every state (through the API), the two-institute sign-off,
voiding by edits, release rules, racing sign-offs and releases, closed exercises, notifications."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.test import Client

from evaluations.models import Finding, FindingSignOff, Notification, Release
from evaluations.models.findings import FindingState
from evaluations.services import findings as services
from evaluations.services.findings import InvalidTransition
from portal.models import AuditEvent
from tests.findings.factories import finding_data, finished_run
from tests.support.factories import UserFactory
from tests.support.helpers import bearer_headers

pytestmark = pytest.mark.django_db

ROLES = ["uk_staff", "us_staff", "uk_approver", "us_approver", "admin_user", "partner_viewer"]
ACTIONS = ["edit", "submit", "request-changes", "sign-off", "release", "withdraw", "comment"]
OK = "ok"


def expected(role: str, action: str, state: str) -> int | str:
    """The workflow table (ROLES.md): the finding is written by uk_staff (UK AISI)."""
    if role == "partner_viewer":
        return 404  # a partner never sees a Finding, only release snapshots
    if role == "admin_user":
        return 403  # admins read findings; they never act on them
    approver = role.endswith("approver")
    uk = role.startswith("uk")
    if action == "edit":
        return OK if uk else 403
    if action == "submit":
        return (OK if state == "draft" else 409) if uk else 403
    if action == "request-changes":
        if role == "uk_staff":
            return 403  # the author
        return OK if state in ("in_review", "signed_off") else 409
    if action == "sign-off":
        if not approver:
            return 403
        return OK if state == "in_review" else 409
    if action == "release":
        if not approver:
            return 403
        return OK if state == "signed_off" else 409
    if action == "withdraw":
        if not approver:
            return 403
        return OK if state == "released" else 409
    assert action == "comment"
    return OK


def call(client: Any, finding: Finding, action: str, headers: dict[str, str], partner_id: int) -> int:
    base = f"/api/v1/findings/{finding.pk}/"
    if action == "edit":
        response = client.patch(base, {"title": "A better title"}, content_type="application/json", **headers)
    elif action == "comment":
        response = client.post(base + "comments/", {"body": "Looks right."}, content_type="application/json",
                               **headers)
    else:
        body = {"request-changes": {"reason": "Say which model."}, "release": {"partners": [partner_id]}}.get(action, {})
        response = client.post(base + f"{action}/", body, content_type="application/json", **headers)
    return response.status_code


@pytest.mark.parametrize("state", ["draft", "in_review", "signed_off", "released"])
def test_workflow_table_each_role_each_action(request, client, state, partner_ca, uk_staff, us_staff, uk_approver,
                                              us_approver, admin_user, partner_viewer, sign_in):
    finding = request.getfixturevalue({"draft": "draft", "in_review": "in_review", "signed_off": "signed_off",
                                       "released": "released"}[state])
    assert finding.state == state
    # Write-scoped tokens (no re-authentication asked); a partner viewer may only hold a read token, so they act
    # through a signed-in browser session instead.
    headers = {role: bearer_headers(request.getfixturevalue(role)) for role in ROLES if role != "partner_viewer"}
    headers["partner_viewer"] = {}
    partner_client = sign_in(Client(), partner_viewer)
    wrong = {}
    for role in ROLES:
        for action in ACTIONS:
            with transaction.atomic():
                sid = transaction.savepoint()
                status = call(partner_client if role == "partner_viewer" else client, finding, action,
                              headers[role], partner_ca.pk)
                transaction.savepoint_rollback(sid)
            want = expected(role, action, state)
            ok = status in (200, 201) if want == OK else status == want
            if not ok:
                wrong[(role, action)] = (want, status)
            Finding.objects.get(pk=finding.pk)  # still there
    assert not wrong, wrong


def test_a_finding_goes_draft_review_signed_off_released(released, uk_staff):
    assert released.state == FindingState.RELEASED
    actions = list(AuditEvent.objects.filter(object_id=str(released.pk), object_type="evaluations.finding").order_by("id")
                   .values_list("action", flat=True))
    assert actions == ["finding.create", "finding.submit", "finding.sign_off", "finding.sign_off",
                       "finding.signed_off", "finding.release"]
    submit = AuditEvent.objects.get(action="finding.submit", object_id=str(released.pk))
    assert submit.before == {"state": "draft"} and submit.after["state"] == "in_review"


def test_two_approvers_of_the_same_institute_do_not_make_a_sign_off(in_review, uk_approver, uk_aisi, us_approver):
    colleague = UserFactory(organisation=uk_aisi, role="approver")
    services.finding_sign_off(actor=uk_approver, finding=in_review)
    with pytest.raises(InvalidTransition):
        services.finding_sign_off(actor=colleague, finding=in_review)
    in_review.refresh_from_db()
    assert in_review.state == FindingState.IN_REVIEW
    assert FindingSignOff.objects.filter(finding=in_review).count() == 1
    services.finding_sign_off(actor=us_approver, finding=in_review)
    in_review.refresh_from_db()
    assert in_review.state == FindingState.SIGNED_OFF


def test_the_author_cannot_sign_off_their_own_finding(exercise, uk_approver, us_approver, run):
    finding = services.finding_create(actor=uk_approver, exercise=exercise, data=finding_data(run))
    services.finding_submit(actor=uk_approver, finding=finding)
    with pytest.raises(PermissionDenied):
        services.finding_sign_off(actor=uk_approver, finding=finding)
    services.finding_sign_off(actor=us_approver, finding=finding)
    finding.refresh_from_db()
    assert finding.state == FindingState.IN_REVIEW, "the UK sign-off is still missing"
    assert not FindingSignOff.objects.filter(approver=uk_approver).exists()


def test_an_edit_after_a_sign_off_voids_it_and_the_old_revision_no_longer_counts(in_review, uk_staff, uk_approver,
                                                                                  us_approver):
    services.finding_sign_off(actor=uk_approver, finding=in_review)
    edited = services.finding_update(actor=uk_staff, finding=in_review, data={"severity": "critical"})
    assert edited.state == FindingState.IN_REVIEW
    assert edited.revision == 2
    assert FindingSignOff.objects.get(finding=in_review).voided_at is not None
    services.finding_sign_off(actor=us_approver, finding=edited)
    edited.refresh_from_db()
    assert edited.state == FindingState.IN_REVIEW, "the UK sign-off of revision 1 must not count for revision 2"
    services.finding_sign_off(actor=uk_approver, finding=edited)
    edited.refresh_from_db()
    assert edited.state == FindingState.SIGNED_OFF
    event = AuditEvent.objects.get(action="finding.update", object_id=str(in_review.pk))
    assert event.before["severity"] == "high" and event.after["severity"] == "critical"
    assert event.after["sign_offs_voided"] == 1


def test_an_edit_of_a_signed_off_finding_sends_it_back_to_review(signed_off, uk_staff, uk_approver, partner_ca):
    edited = services.finding_update(actor=uk_staff, finding=signed_off, data={"title": "Sharper title"})
    assert edited.state == FindingState.IN_REVIEW
    assert not FindingSignOff.objects.filter(finding=signed_off, voided_at__isnull=True).exists()
    with pytest.raises(InvalidTransition):
        services.finding_release(actor=uk_approver, finding=edited, partners=[partner_ca.pk])


def test_an_edit_of_a_released_finding_keeps_the_live_release_until_released_again(released, uk_staff, uk_approver,
                                                                                    us_approver, partner_ca):
    edited = services.finding_update(actor=uk_staff, finding=released, data={"title": "Revised title"})
    assert edited.state == FindingState.IN_REVIEW
    live = Release.objects.get(finding=released)
    assert live.withdrawn_at is None and live.snapshot["title"] == "Model explains lock picking"
    services.finding_sign_off(actor=uk_approver, finding=edited)
    services.finding_sign_off(actor=us_approver, finding=edited)
    second = services.finding_release(actor=us_approver, finding=edited, partners=[partner_ca.pk])
    assert second.version == 2 and second.snapshot["title"] == "Revised title"


def test_release_of_a_finding_that_is_not_signed_off_is_refused(in_review, uk_approver, us_approver, partner_ca):
    with pytest.raises(InvalidTransition):
        services.finding_release(actor=uk_approver, finding=in_review, partners=[partner_ca.pk])
    services.finding_sign_off(actor=uk_approver, finding=in_review)  # one institute of two
    with pytest.raises(InvalidTransition):
        services.finding_release(actor=us_approver, finding=in_review, partners=[partner_ca.pk])
    assert not Release.objects.exists()


def test_release_to_a_partner_not_invited_is_refused_naming_partners(signed_off, uk_approver, partner_other, uk_aisi):
    for partners in ([partner_other.pk], [uk_aisi.pk], [], "all", [999999]):
        with pytest.raises(ValidationError) as info:
            services.finding_release(actor=uk_approver, finding=signed_off, partners=partners)
        assert "partners" in info.value.message_dict
    signed_off.refresh_from_db()
    assert signed_off.state == FindingState.SIGNED_OFF
    assert not Release.objects.exists()


def test_request_changes_needs_a_reason_returns_to_draft_and_voids_sign_offs(in_review, us_staff, uk_approver):
    services.finding_sign_off(actor=uk_approver, finding=in_review)
    with pytest.raises(ValidationError) as info:
        services.finding_request_changes(actor=us_staff, finding=in_review, reason="  ")
    assert "reason" in info.value.message_dict
    finding = services.finding_request_changes(actor=us_staff, finding=in_review, reason="Name the model version.")
    assert finding.state == FindingState.DRAFT
    assert finding.changes_requested_reason == "Name the model version."
    assert not FindingSignOff.objects.filter(finding=finding, voided_at__isnull=True).exists()
    assert Notification.objects.filter(finding=finding, user=finding.author, kind="changes_requested").exists()
    event = AuditEvent.objects.get(action="finding.request_changes")
    assert event.before == {"state": "in_review"} and event.after["reason"] == "Name the model version."


def test_withdraw_hides_at_once_keeps_the_snapshot_and_can_be_released_again(released, uk_approver, partner_ca):
    (release,) = services.finding_withdraw(actor=uk_approver, finding=released)
    assert release.withdrawn_at is not None and release.snapshot["title"]
    released.refresh_from_db()
    assert released.state == FindingState.SIGNED_OFF
    event = AuditEvent.objects.get(action="finding.withdraw")
    assert event.after["withdrawn"] == [{"version": 1, "sha256": release.sha256}]
    with pytest.raises(InvalidTransition):
        services.finding_withdraw(actor=uk_approver, finding=released)
    again = services.finding_release(actor=uk_approver, finding=released, partners=[partner_ca.pk])
    assert again.version == 2


def test_a_closed_exercise_is_read_only_for_findings_but_a_release_can_still_be_withdrawn(
        released, draft, exercise, uk_staff, us_staff, uk_approver, run):
    from django.utils import timezone

    exercise.status = exercise.Status.CLOSED
    exercise.archived_at = timezone.now()
    exercise.save()
    for attempt in (
        lambda: services.finding_create(actor=uk_staff, exercise=exercise, data=finding_data(run)),
        lambda: services.finding_update(actor=uk_staff, finding=draft, data={"title": "x"}),
        lambda: services.finding_submit(actor=uk_staff, finding=draft),
        lambda: services.finding_comment_create(actor=us_staff, finding=draft, body="hi"),
        lambda: services.evidence_flag_create(actor=us_staff, sample=run.items.get().samples.first()),
    ):
        with pytest.raises(PermissionDenied):
            attempt()
    services.finding_withdraw(actor=uk_approver, finding=released)
    assert not Release.objects.filter(withdrawn_at__isnull=True).exists()


def test_notifications_of_each_step_reach_the_right_people(draft, uk_staff, us_staff, uk_approver, us_approver,
                                                           partner_viewer, other_partner_viewer, partner_ca,
                                                           django_capture_on_commit_callbacks):
    def who(kind: str) -> set[str]:
        return set(Notification.objects.filter(finding=draft, kind=kind).values_list("user__email", flat=True))

    with django_capture_on_commit_callbacks(execute=True):
        services.finding_submit(actor=uk_staff, finding=draft)
    assert who("sign_off_needed") == {uk_approver.email, us_approver.email}
    assert who("finding_submitted") == {us_staff.email}
    assert {a for m in mail.outbox for a in m.to} >= {uk_approver.email, us_approver.email, us_staff.email}
    assert all(f"/findings/{draft.pk}/" in m.body for m in mail.outbox)
    services.finding_sign_off(actor=uk_approver, finding=draft)
    assert uk_staff.email in who("signed_off")
    services.finding_sign_off(actor=us_approver, finding=draft)
    services.finding_release(actor=us_approver, finding=draft, partners=[partner_ca.pk])
    assert who("released") == {partner_viewer.email, uk_staff.email}
    services.finding_withdraw(actor=us_approver, finding=draft)
    assert who("withdrawn") == {partner_viewer.email, uk_staff.email}
    assert not Notification.objects.filter(user=other_partner_viewer).exists()


def test_a_mention_by_email_or_local_part_notifies_members_taking_part_only(draft, us_staff, uk_approver,
                                                                           us_approver, partner_viewer):
    comment = services.finding_comment_create(
        actor=us_staff, finding=draft,
        body="@uk.approver please look; cc @us.approver@example.org and @partner.viewer, @nobody.")
    assert set(comment.mentions.values_list("email", flat=True)) == {uk_approver.email, us_approver.email}
    notified = set(Notification.objects.filter(kind="mentioned").values_list("user__email", flat=True))
    assert notified == {uk_approver.email, us_approver.email}


def test_reproduce_creates_a_draft_run_of_the_same_versions_and_sample(draft, us_staff):
    from evaluations.models import Run

    evidence = draft.evidence.get()
    run = services.finding_reproduce(actor=us_staff, evidence=evidence)
    assert run.state == Run.State.DRAFT
    assert run.sample_ids == [evidence.sample.sample_id]
    item = run.items.get()
    assert item.model_version_id == evidence.sample.item.model_version_id
    assert item.task_version_id == evidence.sample.item.task_version_id
    assert run.created_by == us_staff


@pytest.mark.django_db(transaction=True)
def test_racing_sign_offs_of_both_institutes_make_exactly_one_transition(exercise, uk_staff, uk_approver,
                                                                         us_approver):
    run = finished_run(exercise=exercise, user=uk_staff)
    finding = services.finding_create(actor=uk_staff, exercise=exercise, data=finding_data(run))
    services.finding_submit(actor=uk_staff, finding=finding)
    errors = _race([lambda: services.finding_sign_off(actor=uk_approver, finding=Finding.objects.get(pk=finding.pk)),
                    lambda: services.finding_sign_off(actor=us_approver, finding=Finding.objects.get(pk=finding.pk))])
    assert errors == []
    finding.refresh_from_db()
    assert finding.state == FindingState.SIGNED_OFF
    assert AuditEvent.objects.filter(action="finding.signed_off", object_id=str(finding.pk)).count() == 1


@pytest.mark.django_db(transaction=True)
def test_racing_sign_offs_of_one_institute_record_one(exercise, uk_staff, uk_approver, uk_aisi):
    colleague = UserFactory(organisation=uk_aisi, role="approver")
    run = finished_run(exercise=exercise, user=uk_staff)
    finding = services.finding_create(actor=uk_staff, exercise=exercise, data=finding_data(run))
    services.finding_submit(actor=uk_staff, finding=finding)
    errors = _race([lambda: services.finding_sign_off(actor=uk_approver, finding=Finding.objects.get(pk=finding.pk)),
                    lambda: services.finding_sign_off(actor=colleague, finding=Finding.objects.get(pk=finding.pk))])
    assert len(errors) == 1 and isinstance(errors[0], InvalidTransition)
    assert FindingSignOff.objects.filter(finding=finding).count() == 1


@pytest.mark.django_db(transaction=True)
def test_racing_releases_make_exactly_one_release(exercise, uk_staff, uk_approver, us_approver, partner_ca):
    run = finished_run(exercise=exercise, user=uk_staff)
    finding = services.finding_create(actor=uk_staff, exercise=exercise, data=finding_data(run))
    services.finding_submit(actor=uk_staff, finding=finding)
    services.finding_sign_off(actor=uk_approver, finding=finding)
    services.finding_sign_off(actor=us_approver, finding=finding)
    errors = _race([
        lambda: services.finding_release(actor=uk_approver, finding=Finding.objects.get(pk=finding.pk),
                                         partners=[partner_ca.pk]),
        lambda: services.finding_release(actor=us_approver, finding=Finding.objects.get(pk=finding.pk),
                                         partners=[partner_ca.pk]),
    ])
    assert len(errors) == 1 and isinstance(errors[0], InvalidTransition)
    assert Release.objects.filter(finding=finding).count() == 1
    assert AuditEvent.objects.filter(action="finding.release", object_id=str(finding.pk)).count() == 1


def _race(calls: list[Any]) -> list[BaseException]:
    barrier = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def run(fn: Any) -> None:
        try:
            barrier.wait()
            fn()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(fn,)) for fn in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return errors
