"""Throttled sign-in and MFA attempts are audited too (issue 12): after the rate limit starts refusing, every
refused attempt lands in the audit trail, not only the first five failures."""

from __future__ import annotations

import pytest

from portal.models import AuditEvent
from tests.support.factories import DEFAULT_PASSWORD, UserFactory
from tests.support.helpers import enrol_totp, totp_code

pytestmark = pytest.mark.django_db


def test_every_sign_in_refused_by_the_rate_limit_is_audited(client, uk_aisi):
    user = UserFactory(organisation=uk_aisi)  # a fresh address: the limits live in Redis for the whole run
    for _ in range(5):
        client.post("/accounts/login/", {"login": user.email, "password": "wrong-password-123"})
    assert AuditEvent.objects.filter(action="auth.login_failed", actor_email=user.email).count() == 5
    for _ in range(3):
        refused = client.post("/accounts/login/", {"login": user.email, "password": DEFAULT_PASSWORD})
        assert b"Too many failed login attempts" in refused.content
    throttled = AuditEvent.objects.filter(action="auth.login_throttled", actor_email=user.email)
    assert throttled.count() == 3
    assert throttled.first().after["step"] == "password"


def test_every_mfa_code_refused_by_the_rate_limit_is_audited(client, uk_aisi):
    user = UserFactory(organisation=uk_aisi)
    enrol_totp(user)
    client.post("/accounts/login/", {"login": user.email, "password": DEFAULT_PASSWORD})
    wrong = "000000" if totp_code() != "000000" else "111111"
    for _ in range(8):
        client.post("/accounts/2fa/authenticate/", {"code": wrong})
    failed = AuditEvent.objects.filter(action="auth.login_failed", actor_email=user.email).count()
    throttled = AuditEvent.objects.filter(action="auth.login_throttled", actor_email=user.email)
    assert failed + throttled.count() == 8
    assert throttled.exists() and throttled.first().after["step"] == "MFA code"
