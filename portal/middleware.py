"""Small portal-wide middleware."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from portal.errors import ApplicationError
from portal.parsers import control_character_message
from portal.views import error_response


class PermissionsPolicyMiddleware:
    """Sends ``Permissions-Policy`` from ``settings.PERMISSIONS_POLICY`` on every response that lacks one."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy: str = settings.PERMISSIONS_POLICY

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.policy and "Permissions-Policy" not in response:
            response["Permissions-Policy"] = self.policy
        return response


class ApplicationErrorMiddleware:
    """An ApplicationError a page did not handle becomes its HTTP status with the error page and its message (the
    API maps it in portal.api.exception_handler, before any middleware sees it)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, ApplicationError):
            return None
        return error_response(request, exception.status_code, exception.message)


def control_characters_allowed(*patterns: str) -> Callable[[Any], Any]:
    """Mark a view whose form fields matching ``patterns`` (fnmatch, e.g. ``evidence_*_excerpt``) may hold control
    characters other than NUL (quoted model output, shown escaped); the view's service checks them instead."""

    def mark(view: Any) -> Any:
        view.control_characters_allowed = tuple(patterns)
        return view

    return mark


class QueryParameterMiddleware:
    """A query parameter, or a field of a submitted form, holding a NUL or another control character (tab, line
    feed and carriage return excepted) is a 400 that names it, on pages and API alike, before any view sees it: no
    search, filter, lookup or form is ever given one.

    Form bodies are checked in ``process_view``, after CSRF's check has read them anyway, and not for views exempt
    from CSRF: the API (its parsers, portal/parsers.py, do the same check) and the upload views, which must install
    their size limit before the body is read (their forms check their own fields)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refusal = _control_characters_refusal(request, request.GET, "query parameter")
        if refusal is not None:
            return refusal
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func: Callable[..., Any], view_args: Any,
                     view_kwargs: Any) -> HttpResponse | None:
        if request.method != "POST" or getattr(view_func, "csrf_exempt", False):
            return None
        content_type = request.content_type or ""
        if content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
            return None
        allowed = getattr(view_func, "control_characters_allowed", ())
        return _control_characters_refusal(request, request.POST, "field", allowed=allowed)


def _control_characters_refusal(request: HttpRequest, data: Any, what: str,
                                allowed: tuple[str, ...] = ()) -> HttpResponse | None:
    """A 400 naming every parameter (or field) at fault, or None. Fields matching ``allowed`` may hold control
    characters but never a NUL."""
    problems: dict[str, str] = {}
    for name, values in data.lists():
        nul_only = any(fnmatch.fnmatchcase(name, pattern) for pattern in allowed)
        for text in (name, *values):
            problem = ("contains a NUL character; remove it." if "\x00" in text else None) if nul_only else (
                control_character_message(text))
            if problem:
                label = f"The name of a {what}" if text == name else f"The {what} {name}"
                problems.setdefault(name, f"{label} {problem}")
    if not problems:
        return None
    from portal.views import bad_request_response

    return bad_request_response(request, " ".join(problems.values()), fields=problems)
