"""The portal's one application error type (HackSoft's ApplicationError): a service raises it with a message
for the person; ``portal.api.exception_handler`` maps it to its HTTP status once, and HTML views show the message.

Django's ValidationError (400, per field), PermissionDenied (403) and Http404 keep their own meaning; this is
for the other refusals a service knows the status of (409 the object changed, 413 too large)."""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class Conflict(ApplicationError):
    """The object is not in the state the action needs (another request changed it first)."""

    status_code = 409
    code = "conflict"


class TooLarge(ApplicationError):
    status_code = 413
    code = "too_large"
