from __future__ import annotations

import pytest

from evaluations.services import findings as services
from tests.findings.factories import finding_data, finished_run, risk_area


@pytest.fixture
def cyber(db):
    return risk_area()


@pytest.fixture
def run(exercise, uk_staff, cyber):
    return finished_run(exercise=exercise, user=uk_staff)


@pytest.fixture
def draft(exercise, uk_staff, run):
    return services.finding_create(actor=uk_staff, exercise=exercise, data=finding_data(run))


@pytest.fixture
def in_review(draft, uk_staff):
    return services.finding_submit(actor=uk_staff, finding=draft)


@pytest.fixture
def signed_off(in_review, uk_approver, us_approver):
    services.finding_sign_off(actor=uk_approver, finding=in_review)
    services.finding_sign_off(actor=us_approver, finding=in_review)
    in_review.refresh_from_db()
    return in_review


@pytest.fixture
def released(signed_off, uk_approver, partner_ca):
    services.finding_release(actor=uk_approver, finding=signed_off, partners=[partner_ca.pk])
    signed_off.refresh_from_db()
    return signed_off
