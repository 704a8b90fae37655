"""Two-institute approval of runs: who may do what, self-approval, voided approvals, racing approvers."""

from __future__ import annotations

import threading

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from accounts.access import can, visible_to
from evaluations.models import Notification, Run, RunApproval, RunItem
from evaluations.services.runs import (
    InvalidTransition,
    run_approve,
    run_cancel,
    run_create,
    run_reject,
    run_submit,
    run_update,
)
from portal.models import AuditEvent
from tests.support.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_creating_a_run_expands_models_times_tasks_into_pending_items(exercise, uk_staff, mock_model, counting_task):
    from tests.support.factories import model_version, task_version

    second_model = model_version(exercise=exercise, user=uk_staff, name="Second")
    second_task = task_version(exercise=exercise, user=uk_staff, name="second")
    run = run_create(actor=uk_staff, exercise=exercise, models=[mock_model, second_model],
                     tasks=[counting_task, second_task], options={"epochs": 2})
    assert run.state == Run.State.DRAFT
    assert run.items.count() == 4
    assert set(run.items.values_list("state", flat=True)) == {RunItem.State.PENDING}
    assert AuditEvent.objects.filter(action="run.create", object_id=str(run.pk)).exists()


def test_max_connections_above_the_models_own_limit_is_refused(exercise, uk_staff, mock_model, counting_task):
    with pytest.raises(ValidationError) as info:
        run_create(actor=uk_staff, exercise=exercise, models=[mock_model], tasks=[counting_task],
                   options={"max_connections": mock_model.max_connections + 1})
    assert "max_connections" in info.value.message_dict


def test_a_model_of_another_exercise_is_refused(exercise, uk_staff, counting_task, uk_aisi, us_aisi):
    from tests.support.factories import ExerciseFactory, model_version

    other = ExerciseFactory(institutes=[uk_aisi, us_aisi])
    foreign = model_version(exercise=other, user=uk_staff)
    with pytest.raises(ValidationError):
        run_create(actor=uk_staff, exercise=exercise, models=[foreign], tasks=[counting_task], options={})


def test_partner_viewer_and_admin_cannot_create_runs(exercise, partner_viewer, admin_user, mock_model, counting_task):
    for actor in (partner_viewer, admin_user):
        with pytest.raises(PermissionDenied):
            run_create(actor=actor, exercise=exercise, models=[mock_model], tasks=[counting_task], options={})


def test_submit_notifies_the_approvers_of_every_taking_part_institute(uk_approver, us_approver, submitted_run):
    assert submitted_run.state == Run.State.SUBMITTED
    notified = set(Notification.objects.filter(run=submitted_run, kind="approval_needed")
                   .values_list("user__email", flat=True))
    assert notified == {uk_approver.email, us_approver.email}


def test_submit_sends_email_to_approvers_after_commit(draft_run, uk_staff, uk_approver, us_approver,
                                                      django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run_submit(actor=uk_staff, run=draft_run)
    recipients = {address for message in mail.outbox for address in message.to}
    assert {uk_approver.email, us_approver.email} <= recipients


def test_only_the_creator_submits(draft_run, us_staff, uk_approver):
    for actor in (us_staff, uk_approver):
        with pytest.raises(PermissionDenied):
            run_submit(actor=actor, run=draft_run)


def test_a_run_needs_one_approver_of_each_institute_before_it_is_approved(submitted_run, uk_approver, us_approver,
                                                                          django_capture_on_commit_callbacks):
    run_approve(actor=uk_approver, run=submitted_run)
    submitted_run.refresh_from_db()
    assert submitted_run.state == Run.State.SUBMITTED
    assert not RunItem.objects.filter(run=submitted_run).exclude(state=RunItem.State.PENDING).exists()
    with django_capture_on_commit_callbacks(execute=False):
        run_approve(actor=us_approver, run=submitted_run)
    submitted_run.refresh_from_db()
    assert submitted_run.state == Run.State.QUEUED
    assert set(submitted_run.items.values_list("state", flat=True)) == {RunItem.State.QUEUED}
    assert Notification.objects.filter(run=submitted_run, user=submitted_run.created_by, kind="approved").exists()


def test_second_approver_of_the_same_institute_is_refused(submitted_run, uk_approver, uk_aisi):
    colleague = UserFactory(organisation=uk_aisi, role="approver")
    run_approve(actor=uk_approver, run=submitted_run)
    with pytest.raises(InvalidTransition):
        run_approve(actor=colleague, run=submitted_run)
    assert RunApproval.objects.filter(run=submitted_run).count() == 1


def test_an_approver_never_approves_a_run_they_submitted(exercise, uk_approver, mock_model, counting_task):
    run = run_create(actor=uk_approver, exercise=exercise, models=[mock_model], tasks=[counting_task], options={},
                     submit=True)
    assert not can(uk_approver, "approve", run)
    with pytest.raises(PermissionDenied):
        run_approve(actor=uk_approver, run=run)
    with pytest.raises(PermissionDenied):
        run_reject(actor=uk_approver, run=run, reason="mine")


@pytest.mark.parametrize("actor_name", ["uk_staff", "us_staff", "admin_user", "partner_viewer"])
def test_non_approvers_cannot_approve(request, submitted_run, actor_name):
    actor = request.getfixturevalue(actor_name)
    with pytest.raises(PermissionDenied):
        run_approve(actor=actor, run=submitted_run)


def test_an_edit_after_an_approval_voids_it_and_returns_the_run_to_draft(submitted_run, uk_staff, uk_approver,
                                                                         us_approver):
    run_approve(actor=uk_approver, run=submitted_run)
    run = run_update(actor=uk_staff, run=submitted_run, options={"epochs": 3})
    assert run.state == Run.State.DRAFT
    assert run.revision == 2
    assert RunApproval.objects.get(run=run).voided_at is not None
    run_submit(actor=uk_staff, run=run)
    run_approve(actor=us_approver, run=run)
    run.refresh_from_db()
    assert run.state == Run.State.SUBMITTED, "the UK approval of revision 1 must not count for revision 2"
    run_approve(actor=uk_approver, run=run)
    run.refresh_from_db()
    assert run.state == Run.State.QUEUED


def test_approving_a_revision_the_approver_did_not_read_is_refused(submitted_run, uk_approver):
    with pytest.raises(InvalidTransition):
        run_approve(actor=uk_approver, run=submitted_run, revision=submitted_run.revision + 1)


def test_a_run_never_starts_unapproved(draft_run, uk_staff, uk_approver):
    assert draft_run.state == Run.State.DRAFT
    with pytest.raises(InvalidTransition):
        run_approve(actor=uk_approver, run=draft_run)  # a draft cannot be approved
    from evaluations.services.runs import run_start

    with pytest.raises(InvalidTransition):
        run_start(run=draft_run)
    run_submit(actor=uk_staff, run=draft_run)
    with pytest.raises(InvalidTransition):
        run_start(run=draft_run)
    assert set(draft_run.items.values_list("state", flat=True)) == {RunItem.State.PENDING}


def test_reject_needs_a_reason_and_tells_the_submitter(submitted_run, us_approver):
    with pytest.raises(ValidationError):
        run_reject(actor=us_approver, run=submitted_run, reason=" ")
    run = run_reject(actor=us_approver, run=submitted_run, reason="Budget too high")
    assert run.state == Run.State.REJECTED
    assert run.rejection_reason == "Budget too high"
    assert Notification.objects.filter(run=run, kind="rejected", user=run.created_by).exists()
    assert AuditEvent.objects.filter(action="run.reject", object_id=str(run.pk)).exists()


def test_staff_cancel_their_own_run_but_not_another_institutes(submitted_run, us_staff, uk_staff):
    with pytest.raises(PermissionDenied):
        run_cancel(actor=us_staff, run=submitted_run)
    run = run_cancel(actor=uk_staff, run=submitted_run)
    assert run.state == Run.State.CANCELLED


def test_approvers_cancel_any_run_of_their_exercise(submitted_run, us_approver):
    assert run_cancel(actor=us_approver, run=submitted_run).state == Run.State.CANCELLED


def test_partner_viewers_see_no_runs_and_admins_see_all(submitted_run, partner_viewer, admin_user, us_staff):
    assert not visible_to(partner_viewer, Run.objects.all()).exists()
    assert visible_to(admin_user, Run.objects.all()).count() == 1
    assert visible_to(us_staff, Run.objects.all()).count() == 1
    assert not can(admin_user, "approve", submitted_run)
    assert not can(admin_user, "cancel", submitted_run)


def test_an_institute_outside_the_exercise_sees_nothing(submitted_run):
    from tests.support.factories import OrganisationFactory

    outsider = UserFactory(organisation=OrganisationFactory(name="Other AISI"), role="approver")
    assert not visible_to(outsider, Run.objects.all()).exists()
    assert not can(outsider, "approve", submitted_run)


def test_a_recurring_run_gets_a_beat_schedule_once_approved(exercise, uk_staff, uk_approver, us_approver,
                                                            mock_model, counting_task):
    from datetime import timedelta

    from django.utils import timezone
    from django_celery_beat.models import PeriodicTask

    from evaluations.services.runs import run_recurring_fire

    run = run_create(actor=uk_staff, exercise=exercise, models=[mock_model], tasks=[counting_task], submit=True,
                     options={"schedule": "recurring", "cron": "0 3 * * 1",
                              "approval_valid_until": timezone.now() + timedelta(days=30)})
    run_approve(actor=uk_approver, run=run)
    run_approve(actor=us_approver, run=run)
    run.refresh_from_db()
    assert run.state == Run.State.APPROVED
    periodic = PeriodicTask.objects.get(pk=run.periodic_task_id)
    assert periodic.crontab.hour == "3" and periodic.enabled
    execution = run_recurring_fire(run_id=run.pk)
    assert execution is not None and execution.parent_id == run.pk
    assert execution.state == Run.State.QUEUED and execution.items.count() == 1
    Run.objects.filter(pk=run.pk).update(approval_valid_until=timezone.now() - timedelta(seconds=1))
    assert run_recurring_fire(run_id=run.pk) is None
    assert not PeriodicTask.objects.get(pk=periodic.pk).enabled


@pytest.mark.django_db(transaction=True)
def test_two_approvers_racing_make_exactly_one_transition(exercise, uk_staff, uk_approver, us_approver,
                                                          mock_model, counting_task):
    run = run_create(actor=uk_staff, exercise=exercise, models=[mock_model], tasks=[counting_task], options={},
                     submit=True)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def approve(actor):  # type: ignore[no-untyped-def]
        try:
            barrier.wait()
            run_approve(actor=actor, run=Run.objects.get(pk=run.pk))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(a,)) for a in (uk_approver, us_approver)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    run.refresh_from_db()
    assert run.state == Run.State.QUEUED
    assert AuditEvent.objects.filter(action="run.approved", object_id=str(run.pk)).count() == 1
    assert AuditEvent.objects.filter(action="run.start", object_id=str(run.pk)).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_approvers_of_one_institute_racing_record_one_approval(exercise, uk_staff, uk_approver, uk_aisi,
                                                                   us_approver, mock_model, counting_task):
    colleague = UserFactory(organisation=uk_aisi, role="approver")
    run = run_create(actor=uk_staff, exercise=exercise, models=[mock_model], tasks=[counting_task], options={},
                     submit=True)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def approve(actor):  # type: ignore[no-untyped-def]
        try:
            barrier.wait()
            run_approve(actor=actor, run=Run.objects.get(pk=run.pk))
            outcomes.append("ok")
        except InvalidTransition:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(a,)) for a in (uk_approver, colleague)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["ok", "refused"]
    assert RunApproval.objects.filter(run=run, decision="approved").count() == 1


def test_an_approved_run_can_no_longer_be_edited(submitted_run, uk_staff, uk_approver, us_approver,
                                                 django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        run_approve(actor=uk_approver, run=submitted_run)
        run_approve(actor=us_approver, run=submitted_run)
    submitted_run.refresh_from_db()
    assert not can(uk_staff, "edit", submitted_run)
    with pytest.raises(PermissionDenied):
        run_update(actor=uk_staff, run=submitted_run, options={"epochs": 2})
