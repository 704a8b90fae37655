"""Re-authentication for sensitive actions: approve, reject, sign off, release, change a credential, create a token.

Browser sessions whose last authentication (login, MFA, re-authentication) is older than
``ACCOUNT_REAUTHENTICATION_TIMEOUT`` seconds are sent to re-authenticate (HTML) or refused with 403 and a
``detail`` message (API). A request authenticated by a write-scoped bearer token is
not asked: the token is the credential."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from allauth.account.internal.flows.reauthentication import suspend_request
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from rest_framework import exceptions

from accounts.mfa import seconds_since_authentication


class ReauthenticationNeeded(exceptions.PermissionDenied):
    """Raised by ``require_recent_auth``: a 403 JSON error in the API (UI views use the decorator)."""

    default_detail = (
        "Re-authentication required: confirm your password at /accounts/reauthenticate/ in the browser and "
        "try again, or use a write-scoped API token."
    )
    default_code = "reauthentication_required"


def is_token_request(request: Any) -> bool:
    from accounts.models import ApiToken

    return isinstance(getattr(request, "auth", None), ApiToken)


def recently_authenticated(request: Any) -> bool:
    if is_token_request(request):
        return True
    django_request = getattr(request, "_request", request)
    age = seconds_since_authentication(django_request)
    return age is not None and age < settings.ACCOUNT_REAUTHENTICATION_TIMEOUT


def require_recent_auth(request: Any) -> None:
    """Call at the top of a sensitive view (UI or API). Raises ``ReauthenticationNeeded`` when stale."""
    if not recently_authenticated(request):
        raise ReauthenticationNeeded()


def reauthentication_redirect(request: HttpRequest) -> HttpResponse:
    """Send the browser to re-authenticate, then back (a POST is replayed by allauth after success)."""
    return suspend_request(request, reverse("account_reauthenticate"))


def recent_auth_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Decorator for UI views of sensitive actions."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not recently_authenticated(request):
            return reauthentication_redirect(request)
        return view(request, *args, **kwargs)

    return wrapper
