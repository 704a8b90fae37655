"""A closed (or archived) exercise is read-only for everyone (ROLES.md): no new model, task, run, import or
approval, for any role; what it holds stays readable to everyone who could read it."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.access import can, visible_to
from evaluations.forms.runs import ImportForm, RunForm
from evaluations.models import Exercise, Run
from evaluations.services.catalogue import task_create_registry
from evaluations.services.exercises import exercise_archive
from evaluations.services.imports import run_import
from evaluations.services.registry import model_create
from evaluations.services.runs import run_approve, run_cancel, run_create, run_reject, run_submit
from tests.support.factories import model_version, task_version

pytestmark = pytest.mark.django_db


def _close(exercise: Exercise) -> None:
    Exercise.objects.filter(pk=exercise.pk).update(status=Exercise.Status.CLOSED)
    exercise.refresh_from_db()


@pytest.fixture
def chosen(exercise, uk_staff):
    return model_version(exercise=exercise, user=uk_staff), task_version(exercise=exercise, user=uk_staff)


def test_no_new_run_in_a_closed_exercise_and_the_form_does_not_offer_it(exercise, uk_staff, chosen):
    _close(exercise)
    mv, tv = chosen
    with pytest.raises(PermissionDenied):
        run_create(actor=uk_staff, exercise=exercise, models=[mv], tasks=[tv], options={})
    assert not can(uk_staff, "create", Run(exercise=exercise))
    assert exercise not in RunForm(user=uk_staff).fields["exercise"].queryset
    assert exercise not in ImportForm(user=uk_staff).fields["exercise"].queryset


def test_no_import_into_a_closed_exercise(exercise, uk_staff):
    _close(exercise)
    with pytest.raises(PermissionDenied):
        run_import(actor=uk_staff, exercise=exercise, upload=SimpleUploadedFile("log.eval", b"PK"))
    assert not Run.objects.exists()


def test_no_new_model_or_task_in_a_closed_exercise(exercise, uk_staff):
    _close(exercise)
    with pytest.raises(ValidationError) as model_error:
        model_create(user=uk_staff, name="M", exercises=[exercise], provider_model="mockllm/model")
    assert "exercises" in model_error.value.message_dict
    with pytest.raises(ValidationError) as task_error:
        task_create_registry(user=uk_staff, name="T", exercises=[exercise], registry_name="arithmetic")
    assert "exercises" in task_error.value.message_dict


def test_a_run_waiting_for_approval_is_frozen_when_its_exercise_closes(exercise, uk_staff, uk_approver,
                                                                          us_approver, admin_user, chosen):
    mv, tv = chosen
    run = run_create(actor=uk_staff, exercise=exercise, models=[mv], tasks=[tv], options={}, submit=True)
    _close(exercise)
    run = Run.objects.select_related("exercise").get(pk=run.pk)
    for approver in (uk_approver, us_approver):
        assert not can(approver, "approve", run)
        with pytest.raises(PermissionDenied):
            run_approve(actor=approver, run=run)
        with pytest.raises(PermissionDenied):
            run_reject(actor=approver, run=run, reason="closed")
    with pytest.raises(PermissionDenied):
        run_cancel(actor=uk_staff, run=run)
    assert not run.approvals.exists()
    assert Run.objects.get(pk=run.pk).state == Run.State.SUBMITTED


def test_an_archived_exercise_is_closed_too(exercise, uk_staff, admin_user, chosen):
    mv, tv = chosen
    run = run_create(actor=uk_staff, exercise=exercise, models=[mv], tasks=[tv], options={})
    exercise_archive(actor=admin_user, exercise=exercise)
    run = Run.objects.select_related("exercise").get(pk=run.pk)
    with pytest.raises(PermissionDenied):
        run_submit(actor=uk_staff, run=run)


def test_a_closed_exercise_and_its_runs_stay_readable(client, sign_in, exercise, uk_staff, us_staff, admin_user,
                                                      partner_viewer, chosen):
    mv, tv = chosen
    run = run_create(actor=uk_staff, exercise=exercise, models=[mv], tasks=[tv], options={})
    _close(exercise)
    for reader in (uk_staff, us_staff, admin_user):
        assert can(reader, "view", Run.objects.select_related("exercise").get(pk=run.pk))
        assert visible_to(reader, Exercise.objects.all()).filter(pk=exercise.pk).exists()
    assert visible_to(partner_viewer, Exercise.objects.all()).filter(pk=exercise.pk).exists()
    sign_in(client, uk_staff)  # the run's own creator: in an open exercise they could cancel it
    assert client.get(f"/runs/{run.pk}/").status_code == 200
    assert client.get(f"/exercises/{exercise.pk}/").status_code == 200
    assert client.post(f"/runs/{run.pk}/cancel/", {}).status_code == 403
    assert Run.objects.get(pk=run.pk).state == Run.State.DRAFT
