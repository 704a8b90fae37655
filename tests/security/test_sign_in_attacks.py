"""The attacks on signing in (issue 14, abuse suite): session fixation, CSRF on the API with a session, and open
redirects through ``next`` on every page that takes one (sign-in, its MFA step, re-authentication, sign-out, the
admin's sign-in)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from django.conf import settings
from django.test import Client

from tests.support.factories import DEFAULT_PASSWORD
from tests.support.helpers import TEST_TOTP_SECRET, enrol_totp, sign_in, totp_code

# --- Session fixation ------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_signing_in_gives_a_new_session_key_and_the_planted_one_stays_anonymous(uk_staff):
    enrol_totp(uk_staff)
    attacker = Client()
    attacker.get("/accounts/login/")
    session = attacker.session
    session["planted"] = "by the attacker"
    session.save()
    planted = session.session_key
    assert planted

    victim = Client()
    victim.cookies[settings.SESSION_COOKIE_NAME] = planted  # the attacker fixed the victim's session cookie
    response = victim.post("/accounts/login/", {"login": uk_staff.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/accounts/2fa/authenticate/"
    after_password = victim.cookies[settings.SESSION_COOKIE_NAME].value
    # Halfway (password passed, code not yet) nobody is signed in on that session: not the attacker either.
    assert attacker.get("/api/v1/me/").status_code == 401
    response = victim.post("/accounts/2fa/authenticate/", {"code": totp_code(TEST_TOTP_SECRET)})
    assert response.status_code == 302
    signed_in = victim.cookies[settings.SESSION_COOKIE_NAME].value
    assert signed_in not in (planted, after_password)
    assert victim.get("/api/v1/me/").json()["email"] == uk_staff.email

    # The attacker's copy of the planted key is worth nothing.
    assert attacker.get("/api/v1/me/").status_code == 401
    assert attacker.get("/profile/").status_code == 302


@pytest.mark.django_db
def test_signing_out_ends_the_session_on_the_server(uk_staff):
    client = sign_in(Client(), uk_staff)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert client.post("/accounts/logout/").status_code == 302
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = key
    assert replay.get("/api/v1/me/").status_code == 401



# --- CSRF on the API ------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_api_with_a_session_needs_the_csrf_header_and_a_bearer_token_does_not(uk_staff):
    from tests.support.helpers import bearer_headers

    client = sign_in(Client(enforce_csrf_checks=True), uk_staff)
    body = json.dumps({"scope": "read", "name": "csrf"})
    refused = client.post("/api/v1/tokens/", body, content_type="application/json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    client.get("/profile/")  # a page sets the CSRF cookie, as a browser gets it
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    accepted = client.post("/api/v1/tokens/", body, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 201
    bearer = Client(enforce_csrf_checks=True).get("/api/v1/me/", **bearer_headers(uk_staff, scope="read"))
    assert bearer.status_code == 200


# --- Open redirect ---------------------------------------------------------------------------------------------

EVIL = ("https://evil.example/steal", "//evil.example/steal", "/\\evil.example/steal", "https:evil.example",
        "\\\\evil.example", "javascript:alert(1)", "data:text/html,<script>alert(1)</script>",
        "http://testserver@evil.example/", "/%2F%2Fevil.example", "%2F%2Fevil.example", " //evil.example")


def _stays_here(response: Any) -> bool:
    """The redirect (if any) stays on the portal as a browser reads it: browsers strip surrounding blanks and
    control characters and treat a backslash as a slash, so "/\\evil" and " //evil" leave the site. A
    percent-encoded slash ("/%2F%2Fevil") is a path on this host."""
    location = response.get("Location", "")
    if not location:
        return True
    as_browser = location.strip(" \t\n\r\x00\x0b\x0c").replace("\\", "/")
    parts = urlsplit(as_browser)
    return not parts.scheme and not parts.netloc and not as_browser.startswith("//")


@pytest.mark.django_db
@pytest.mark.parametrize("target", EVIL)
def test_sign_in_ignores_a_next_that_leaves_the_portal(uk_staff, target):
    enrol_totp(uk_staff)
    client = Client()
    query = urlencode({"next": target})
    login = client.post(f"/accounts/login/?{query}",
                        {"login": uk_staff.email, "password": DEFAULT_PASSWORD, "next": target})
    assert login.status_code == 302 and _stays_here(login), login.get("Location")
    mfa = client.post(f"/accounts/2fa/authenticate/?{query}", {"code": totp_code(TEST_TOTP_SECRET), "next": target})
    assert mfa.status_code == 302 and _stays_here(mfa), mfa.get("Location")
    assert client.get("/api/v1/me/").json()["email"] == uk_staff.email  # and the sign-in did complete


@pytest.mark.django_db
@pytest.mark.parametrize("target", EVIL)
def test_re_authentication_sign_out_and_the_admin_sign_in_ignore_a_next_that_leaves(uk_staff, target):
    import time

    client = sign_in(Client(), uk_staff, authenticated_at=time.time() - 3600)
    query = urlencode({"next": target})
    reauth = client.post(f"/accounts/reauthenticate/?{query}", {"password": DEFAULT_PASSWORD, "next": target})
    assert reauth.status_code == 302 and _stays_here(reauth), reauth.get("Location")
    admin = client.get(f"/django-admin/login/?{query}")
    assert _stays_here(admin), admin.get("Location")
    logout = client.post(f"/accounts/logout/?{query}", {"next": target})
    assert logout.status_code == 302 and _stays_here(logout), logout.get("Location")


