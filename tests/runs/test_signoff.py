"""services/signoff.py, the generic rule of two-institute sign-off (runs now, findings next): one approver of each
taking-part institute, never the author, never in a closed exercise."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from evaluations.models import Exercise
from evaluations.services.signoff import AlreadySignedOff, signoff_approvers, signoff_decide
from tests.support.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_the_first_institute_signs_off_and_the_second_completes(exercise, uk_approver, us_approver, uk_staff):
    first = signoff_decide(exercise=exercise, approved_institutes=set(), actor=uk_approver, author_id=uk_staff.pk)
    assert (first.institute_id, first.complete) == (uk_approver.organisation_id, False)
    second = signoff_decide(exercise=exercise, approved_institutes={first.institute_id}, actor=us_approver,
                            author_id=uk_staff.pk)
    assert (second.institute_id, second.complete) == (us_approver.organisation_id, True)


def test_a_second_approver_of_an_institute_that_signed_off_is_refused(exercise, uk_aisi, uk_approver, uk_staff):
    colleague = UserFactory(organisation=uk_aisi, role="approver")
    with pytest.raises(AlreadySignedOff):
        signoff_decide(exercise=exercise, approved_institutes={uk_aisi.pk}, actor=colleague, author_id=uk_staff.pk)


@pytest.mark.parametrize("actor_name", ["uk_staff", "admin_user", "partner_viewer"])
def test_only_approvers_of_a_taking_part_institute_sign_off(request, exercise, uk_approver, actor_name):
    actor = request.getfixturevalue(actor_name)
    with pytest.raises(PermissionDenied):
        signoff_decide(exercise=exercise, approved_institutes=set(), actor=actor, author_id=uk_approver.pk)


def test_the_author_never_signs_off_and_nobody_does_in_a_closed_exercise(exercise, uk_approver, us_approver):
    with pytest.raises(PermissionDenied):
        signoff_decide(exercise=exercise, approved_institutes=set(), actor=uk_approver, author_id=uk_approver.pk)
    Exercise.objects.filter(pk=exercise.pk).update(status=Exercise.Status.CLOSED)
    exercise.refresh_from_db()
    with pytest.raises(PermissionDenied):
        signoff_decide(exercise=exercise, approved_institutes=set(), actor=us_approver, author_id=uk_approver.pk)


def test_the_approvers_asked_are_those_of_every_taking_part_institute(exercise, uk_approver, us_approver,
                                                                      uk_staff, partner_viewer):
    assert set(signoff_approvers(exercise=exercise)) == {uk_approver, us_approver}
    assert set(signoff_approvers(exercise=exercise, exclude=uk_approver)) == {us_approver}
