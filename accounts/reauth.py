"""Re-authentication for sensitive actions: approve, reject, sign off, release, change a credential, create a token.

Browser sessions whose last authentication (login, MFA, re-authentication) is older than
``ACCOUNT_REAUTHENTICATION_TIMEOUT`` seconds are sent to re-authenticate (HTML) or refused with 403 and a
``detail`` message (API). A request authenticated by a write-scoped bearer token is not asked: the token is the
credential. Two ways in, one for each face:

    @reauthentication_required(when=lambda request, pk: request.method == "POST")   # HTML views
    class ViewSet(ReauthenticationRequiredMixin, ...):                              # DRF views
        def reauthentication_needed(self, request) -> bool: ...
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from allauth.core.exceptions import ReauthenticationRequired
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from rest_framework import exceptions
from rest_framework.request import Request

from accounts.mfa import seconds_since_authentication
from accounts.models import ApiToken


class ReauthenticationNeeded(exceptions.PermissionDenied):
    """The API's answer to a stale session: a 403 JSON error (HTML views are redirected instead)."""

    default_detail = (
        "Re-authentication required: confirm your password at /accounts/reauthenticate/ in the browser and "
        "try again, or use a write-scoped API token."
    )
    default_code = "reauthentication_required"


def is_token_request(request: Any) -> bool:
    return isinstance(getattr(request, "auth", None), ApiToken)


def recently_authenticated(request: Any) -> bool:
    if is_token_request(request):
        return True
    django_request = getattr(request, "_request", request)
    age = seconds_since_authentication(django_request)
    return age is not None and age < settings.ACCOUNT_REAUTHENTICATION_TIMEOUT


def reauthentication_required(
    view: Callable[..., HttpResponse] | None = None, *, when: Callable[..., bool] | None = None,
) -> Any:
    """Decorator for HTML views of sensitive actions, under ``login_required``: a stale session is sent to
    re-authenticate and then back (allauth's middleware replays a POST). ``when(request, *args, **kwargs)``
    limits it to the sensitive requests (e.g. only a POST that sets a key, only a user who may act at all)."""

    def decorator(view_func: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view_func)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if (when is None or when(request, *args, **kwargs)) and not recently_authenticated(request):
                raise ReauthenticationRequired()  # allauth's AccountMiddleware suspends the request, redirects
            return view_func(request, *args, **kwargs)

        return wrapper

    return decorator(view) if view is not None else decorator


class ReauthenticationRequiredMixin:
    """Mixin for DRF views (first in the bases): after authentication and the other checks of ``initial``, a
    request for which ``reauthentication_needed`` says yes gets 403 ``ReauthenticationNeeded`` when stale."""

    def reauthentication_needed(self, request: Request) -> bool:
        return False

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        if self.reauthentication_needed(request) and not recently_authenticated(request):
            raise ReauthenticationNeeded()
