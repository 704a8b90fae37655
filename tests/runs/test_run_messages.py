"""Success messages say what happened and what happens next (issue 12)."""

from __future__ import annotations

import pytest

from evaluations.selectors.runs import run_action_message
from evaluations.services.runs import run_approve, run_reject

pytestmark = pytest.mark.django_db


def test_the_first_approval_says_which_institute_still_has_to_approve(submitted_run, uk_approver, us_approver):
    run_approve(actor=uk_approver, run=submitted_run)
    message = run_action_message(run=submitted_run, action="approve", actor=uk_approver)
    assert message == (f"You approved run {submitted_run.pk} ({submitted_run.name}) for UK AISI. "
                       "It now needs US AISI’s approval.")


def test_the_last_approval_says_the_run_is_queued(submitted_run, uk_approver, us_approver):
    run_approve(actor=uk_approver, run=submitted_run)
    run_approve(actor=us_approver, run=submitted_run)
    message = run_action_message(run=submitted_run, action="approve", actor=us_approver)
    assert message.endswith("Every institute has approved it: it is queued to run now.")


def test_submit_and_reject_messages_name_who_is_next(submitted_run, uk_approver):
    assert "It needs the approval of UK AISI and US AISI." in run_action_message(
        run=submitted_run, action="submit", actor=submitted_run.created_by)
    run_reject(actor=uk_approver, run=submitted_run, reason="Too many samples.")
    message = run_action_message(run=submitted_run, action="reject", actor=uk_approver)
    assert f"{submitted_run.created_by.email} has been told your reason" in message
