"""MFA for everyone, the Django admin behind the same login, re-authentication and login rate limits."""

from __future__ import annotations

import time

import pytest
from django.test import Client, RequestFactory

from accounts.models import ApiToken
from accounts.reauth import recently_authenticated
from tests.support.factories import DEFAULT_PASSWORD, UserFactory
from tests.support.helpers import TEST_TOTP_SECRET, enrol_totp, sign_in, sign_in_password_only, totp_code

pytestmark = pytest.mark.django_db

DATA_URLS = ["/", "/exercises/", "/profile/", "/audit/", "/manage/users/", "/api/v1/me/", "/api/v1/exercises/",
             "/django-admin/"]


def test_a_password_only_session_without_mfa_reaches_only_mfa_setup_and_sign_out(client, uk_staff, exercise):
    sign_in_password_only(client, uk_staff)
    for url in ["/exercises/", "/profile/", f"/exercises/{exercise.pk}/", "/audit/", "/django-admin/"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/2fa/totp/activate/"), url
    api = client.get("/api/v1/exercises/")
    assert api.status_code == 403
    assert "multi-factor" in api.json()["detail"]
    assert client.get("/accounts/2fa/").status_code == 200
    assert client.post("/accounts/logout/").status_code == 302


def test_a_session_of_a_user_with_mfa_that_skipped_the_challenge_is_signed_out(client, uk_staff):
    enrol_totp(uk_staff)
    sign_in_password_only(client, uk_staff)
    response = client.get("/exercises/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert client.get("/api/v1/me/").status_code == 401  # the session is gone


def test_password_alone_never_reaches_data_and_the_totp_challenge_completes_the_sign_in(client, uk_staff, exercise):
    enrol_totp(uk_staff)
    response = client.post("/accounts/login/", {"login": uk_staff.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/accounts/2fa/authenticate/"
    for url in DATA_URLS[1:]:
        assert client.get(url).status_code in (302, 401), url
    assert client.get("/api/v1/exercises/").status_code == 401
    response = client.post("/accounts/2fa/authenticate/", {"code": totp_code(TEST_TOTP_SECRET)})
    assert response.status_code == 302
    assert client.get("/api/v1/me/").json()["email"] == uk_staff.email
    assert client.get(f"/exercises/{exercise.pk}/").status_code == 200


def test_a_wrong_totp_code_does_not_sign_in_and_is_audited(client, uk_staff):
    from portal.models import AuditEvent

    enrol_totp(uk_staff)
    client.post("/accounts/login/", {"login": uk_staff.email, "password": DEFAULT_PASSWORD})
    response = client.post("/accounts/2fa/authenticate/", {"code": "000000" if totp_code() != "000000" else "111111"})
    assert response.status_code == 200
    assert client.get("/api/v1/me/").status_code == 401
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert event.actor_email == uk_staff.email and event.after["reason"] == "wrong MFA code"


def test_a_burst_of_wrong_passwords_locks_that_account_but_not_another_from_the_same_ip(client, uk_aisi, us_aisi):
    # Fresh addresses: the limits live in Redis for the whole run (keyed by email and IP).
    uk_staff = UserFactory(organisation=uk_aisi)
    us_staff = UserFactory(organisation=us_aisi)
    enrol_totp(uk_staff)
    enrol_totp(us_staff)
    for _ in range(5):
        response = client.post("/accounts/login/", {"login": uk_staff.email, "password": "wrong-password-123"})
        assert response.status_code == 200
    refused = client.post("/accounts/login/", {"login": uk_staff.email, "password": DEFAULT_PASSWORD})
    assert refused.status_code in (200, 429)
    assert b"Too many failed login attempts" in refused.content
    other = Client()
    response = other.post("/accounts/login/", {"login": us_staff.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/accounts/2fa/authenticate/"


def test_login_failures_are_audited(client, uk_aisi):
    from portal.models import AuditEvent

    uk_staff = UserFactory(organisation=uk_aisi)
    client.post("/accounts/login/", {"login": uk_staff.email, "password": "wrong-password-123"})
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert event.actor_email == uk_staff.email
    assert "password" not in str(event.after).lower() or event.after == {"email": uk_staff.email,
                                                                        "reason": "bad credentials"}


def test_the_django_admin_uses_the_portal_sign_in(client):
    response = client.get("/django-admin/login/?next=/django-admin/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_django_admin_is_for_portal_admins_only(client, uk_staff, admin_user):
    sign_in(client, uk_staff)
    response = client.get("/django-admin/")
    assert response.status_code == 302
    assert client.get(response["Location"]).status_code == 403
    admin_user.is_staff = True
    admin_user.save()
    admin_client = sign_in(Client(), admin_user)
    assert admin_client.get("/django-admin/").status_code == 200
    assert admin_client.get("/django-admin/accounts/user/").status_code == 200
    assert admin_client.get("/django-admin/accounts/user/add/").status_code == 403  # read-only


def test_creating_a_token_from_a_stale_session_asks_for_re_authentication(client, uk_staff):
    sign_in(client, uk_staff, authenticated_at=time.time() - 3600)
    response = client.post("/profile/tokens/", {"scope": "read", "days": 30})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/reauthenticate/")
    api = client.post("/api/v1/tokens/", {"scope": "read"}, content_type="application/json")
    assert api.status_code == 403 and "Re-authentication required" in api.json()["detail"]
    assert not ApiToken.objects.exists()
    # Re-authenticating with the password makes the session recent again.
    response = client.post("/accounts/reauthenticate/", {"password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    assert client.post("/api/v1/tokens/", {"scope": "read"}, content_type="application/json").status_code == 201


def test_a_fresh_session_creates_a_token_without_re_authenticating(client, uk_staff):
    sign_in(client, uk_staff)
    response = client.post("/profile/tokens/", {"scope": "write", "days": 30, "name": "ci"})
    assert response.status_code == 200 and b"jtp_" in response.content


def test_a_bearer_token_request_is_never_asked_to_re_authenticate(uk_staff):
    from accounts.services import api_token_create

    request = RequestFactory().post("/api/v1/anything/")
    request.auth = api_token_create(user=uk_staff, scope="write").token
    assert recently_authenticated(request)


def test_a_token_cannot_be_created_without_an_mfa_verified_session(client, uk_staff):
    from accounts.services import api_token_create

    sign_in_password_only(client, uk_staff)
    assert client.post("/api/v1/tokens/", {"scope": "read"}, content_type="application/json").status_code == 403
    assert client.post("/profile/tokens/", {"scope": "read", "days": 5}).status_code == 302
    plain = api_token_create(user=uk_staff, scope="write").plain
    with_token = Client().post("/api/v1/tokens/", {"scope": "read"}, content_type="application/json",
                               HTTP_AUTHORIZATION=f"Bearer {plain}")
    assert with_token.status_code == 403
    assert ApiToken.objects.count() == 1


def test_every_new_user_gets_the_same_treatment_regardless_of_role(client, partner_ca):
    viewer = UserFactory(organisation=partner_ca, role="partner_viewer")
    sign_in_password_only(client, viewer)
    assert client.get("/exercises/").status_code == 302
