"""Facts about a browser session's authentication, read from allauth's per-session records (its public
``allauth.account.authentication``). Recording one has no public API in allauth: ``record_authentication`` below
is the one place that uses its internal flow."""

from __future__ import annotations

import time
from typing import Any

from allauth.account.authentication import get_authentication_records
from allauth.account.internal.flows.login import record_authentication as _allauth_record_authentication
from django.http import HttpRequest


def session_records(request: HttpRequest) -> list[dict[str, Any]]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not hasattr(request, "session"):
        return []
    return list(get_authentication_records(request, user))


def session_passed_mfa(request: HttpRequest) -> bool:
    """True when this session proved a second factor: an MFA challenge at login, or enrolling one."""
    return any(record.get("method") == "mfa" for record in session_records(request))


def last_authenticated_at(request: HttpRequest) -> float | None:
    times = [float(record["at"]) for record in session_records(request) if "at" in record]
    return max(times) if times else None


def record_authentication(request: HttpRequest, user: Any, method: str, **data: Any) -> None:
    """Add an authentication record to the session (allauth has no public API for it)."""
    _allauth_record_authentication(request, user, method, **data)


def record_enrolment(request: HttpRequest, user: Any, authenticator: Any) -> None:
    """Enrolling an authenticator proves possession of it: the session counts as MFA-verified."""
    if getattr(request, "user", None) is not None and request.user.is_authenticated and request.user.pk == user.pk:
        record_authentication(request, user, "mfa", id=authenticator.pk, type=authenticator.type, enrolled=True)


def record_password_set(request: HttpRequest, user: Any) -> None:
    """A password just set (accepting an invitation) counts as a fresh re-authentication, e.g. to enrol MFA."""
    record_authentication(request, user, "password", email=user.email, reauthenticated=True)


def seconds_since_authentication(request: HttpRequest) -> float | None:
    at = last_authenticated_at(request)
    return None if at is None else time.time() - at
