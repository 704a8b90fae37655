"""Data for the home page tests (issue 12): something waiting for each role, made through the services so the
audit trail and notices are real; ``copies`` repeats it (query-count tests use two sizes)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from evaluations.models import Run
from evaluations.services import findings as finding_services
from evaluations.services.runs import run_create, run_reject, run_submit
from tests.findings.factories import finding_data, finished_run, risk_area
from tests.support.factories import model_version, task_version


def home_data(*, exercise: Any, uk_staff: Any, us_staff: Any, uk_approver: Any, us_approver: Any, admin: Any,
              partner: Any, copies: int = 1, start: int = 0) -> None:
    from accounts.services import invitation_create

    risk_area()
    model = model_version(exercise=exercise, user=uk_staff, name=f"Home model {start}")
    task = task_version(exercise=exercise, user=uk_staff, name=f"home task {start}")
    for n in range(start, start + copies):
        # uk_staff: a rejected run to fix, a draft to submit, a finished run to read (with unread notices)
        rejected = run_submit(actor=uk_staff, run=run_create(actor=uk_staff, exercise=exercise, models=[model],
                                                              tasks=[task], options={"name": f"Rejected run {n}"}))
        run_reject(actor=us_approver, run=rejected, reason="Use a sample limit of 20 for the first pass.")
        run_create(actor=uk_staff, exercise=exercise, models=[model], tasks=[task], options={"name": f"Draft run {n}"})
        done = finished_run(exercise=exercise, user=uk_staff, name=f"Finished run {n}")
        Run.objects.filter(pk=done.pk).update(finished_at=timezone.now())
        # waiting for UK AISI's decision: a run and a finding by US AISI staff
        run_submit(actor=us_staff, run=run_create(actor=us_staff, exercise=exercise, models=[model], tasks=[task],
                                                  options={"name": f"US run to approve {n}"}))
        us_finished = finished_run(exercise=exercise, user=us_staff, name=f"US finished run {n}")
        finding = finding_services.finding_create(actor=us_staff, exercise=exercise,
                                                  data=finding_data(us_finished, title=f"Finding to sign off {n}"))
        finding_services.finding_submit(actor=us_staff, finding=finding)
        # released to the partner
        released = finding_services.finding_create(actor=uk_staff, exercise=exercise,
                                                   data=finding_data(done, title=f"Released finding {n}"))
        finding_services.finding_submit(actor=uk_staff, finding=released)
        finding_services.finding_sign_off(actor=uk_approver, finding=released)
        finding_services.finding_sign_off(actor=us_approver, finding=released)
        released.refresh_from_db()
        finding_services.finding_release(actor=uk_approver, finding=released, partners=[partner.pk])
        # admin: a pending invitation
        invitation_create(actor=admin, email=f"invitee{n}@example.org", organisation=partner,
                          role="partner_viewer")
