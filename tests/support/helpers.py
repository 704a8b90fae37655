"""Helpers shared by tests."""

from __future__ import annotations

import time
from typing import Any

TEST_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # base32; every test user enrolled by sign_in shares it


def enrol_totp(user: Any, secret: str = TEST_TOTP_SECRET) -> Any:
    """Make ``user`` able to sign in through the real login: a verified primary email address (as accepting an
    invitation gives) and a TOTP authenticator with ``secret`` (idempotent). Returns the Authenticator."""
    from allauth.account.models import EmailAddress
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP

    EmailAddress.objects.get_or_create(user=user, email=user.email, defaults={"verified": True, "primary": True})
    existing = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    if existing is not None:
        return existing
    return TOTP.activate(user, secret).instance


def totp_code(secret: str = TEST_TOTP_SECRET, offset: int = 0) -> str:
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    counter = int(time.time()) // 30 + offset
    return format_hotp_value(hotp_value(secret, counter))


def sign_in(client: Any, user: Any, *, authenticated_at: float | None = None) -> Any:
    """Log ``user`` into the Django test ``client`` as a browser session that has completed MFA.

    It enrols a TOTP authenticator for the user, logs in, and writes the session state allauth writes
    after a password + TOTP login (its ``account_authentication_methods`` records). ``authenticated_at``
    (a Unix time) back-dates those records, to test re-authentication."""
    from allauth.account.internal.flows.login import (
        _AUTHENTICATION_METHODS_USER_SESSION_KEY,
        AUTHENTICATION_METHODS_SESSION_KEY,
    )

    authenticator = enrol_totp(user)
    client.force_login(user, backend="allauth.account.auth_backends.AuthenticationBackend")
    at = time.time() if authenticated_at is None else authenticated_at
    session = client.session
    session[_AUTHENTICATION_METHODS_USER_SESSION_KEY] = str(user.pk)
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        {"method": "password", "at": at, "email": user.email},
        {"method": "mfa", "at": at, "id": authenticator.pk, "type": "totp"},
    ]
    session.save()
    return client


def sign_in_password_only(client: Any, user: Any, *, just_set_password: bool = False) -> Any:
    """A session that has a password login but no MFA record (what MFA must refuse). ``just_set_password``
    records it as a fresh re-authentication, as accepting an invitation does (so MFA enrolment needs no
    password prompt)."""
    from allauth.account.internal.flows.login import (
        _AUTHENTICATION_METHODS_USER_SESSION_KEY,
        AUTHENTICATION_METHODS_SESSION_KEY,
    )

    client.force_login(user, backend="allauth.account.auth_backends.AuthenticationBackend")
    if just_set_password:
        session = client.session
        session[_AUTHENTICATION_METHODS_USER_SESSION_KEY] = str(user.pk)
        session[AUTHENTICATION_METHODS_SESSION_KEY] = [
            {"method": "password", "at": time.time(), "email": user.email, "reauthenticated": True}
        ]
        session.save()
    return client


def bearer_headers(user: Any, scope: str = "write") -> dict[str, str]:
    """Test-client keyword arguments for an API call with a new bearer token of ``user``:
    ``client.post(url, data, content_type="application/json", **bearer_headers(user))``."""
    from accounts.services import api_token_create

    return {"HTTP_AUTHORIZATION": f"Bearer {api_token_create(user=user, scope=scope).plain}"}
