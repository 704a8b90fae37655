"""Shared pieces of the REST API: pagination, JSON errors and strict query parameters."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from rest_framework import exceptions, pagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from portal.errors import ApplicationError
from portal.pagination import COUNT_CAP, CappedPaginator


class Pagination(pagination.PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class CappedPagination(Pagination):
    """For lists that grow without end (the audit trail): ``count`` stops at ``portal.pagination.COUNT_CAP`` (its
    cost bounded whatever the number of rows) and ``count_capped`` says whether more rows match than the pages
    reach (then narrow the filters, or download the CSV)."""

    django_paginator_class = CappedPaginator

    def get_paginated_response(self, data: Any) -> Response:
        page: Any = self.page  # set by paginate_queryset, on a CappedPaginator
        return Response({"count": page.paginator.count, "count_capped": page.paginator.capped,
                         "next": self.get_next_link(), "previous": self.get_previous_link(), "results": data})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        response = super().get_paginated_response_schema(schema)
        response["properties"] = {"count": response["properties"]["count"], "count_capped": {
            "type": "boolean", "description": f"True when more than {COUNT_CAP:,} rows match: count stops there and "
                                              "the pages reach the newest ones"}, **response["properties"]}
        response["required"] = [*response.get("required", []), "count_capped"]
        return response


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every error is JSON with a ``detail`` message; Django's own exceptions and the portal's ApplicationError
    map to their HTTP status (the one place that does)."""
    if isinstance(exc, ApplicationError):
        set_rollback()
        return Response({"detail": exc.message, **exc.extra}, status=exc.status_code)
    if isinstance(exc, ValidationError):
        exc = exceptions.ValidationError(detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(detail=str(exc) or None)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" not in response.data:
        response.data = {"detail": "The request has errors; see the fields.", "errors": response.data}
    elif response is not None and isinstance(response.data, list):
        response.data = {"detail": " ".join(str(item) for item in response.data)}
    return response


def request_user(request: Request) -> Any:
    """The authenticated user (every view here requires authentication)."""
    return cast(Any, request.user)


def text_param(request: Request, name: str) -> str:
    value = request.query_params.get(name, "")
    if "\x00" in value:
        raise exceptions.ValidationError({name: "Null characters are not allowed."})
    return value


def int_param(request: Request, name: str) -> int | None:
    value = request.query_params.get(name)
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except ValueError:
        raise exceptions.ValidationError({name: "Must be a whole number."}) from None
    if abs(number) >= 2**63:
        raise exceptions.ValidationError({name: "Out of range."})
    return number


def date_param(request: Request, name: str) -> date | None:
    value = request.query_params.get(name)
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise exceptions.ValidationError({name: "Must be a date, YYYY-MM-DD."}) from None


# Every operation can answer these: a malformed request (400), no or a bad credential (401), a role or token scope that may not (403), an
# object the caller may not see or that does not exist (404; accounts/access.py). The exception handler above makes
# each a JSON object with a ``detail`` message.
ERROR_RESPONSES = {
    "400": "A parameter or field is not valid (``errors`` names each); a control character in any parameter is "
           "refused so before authentication (portal/middleware.py).",
    "401": "Not authenticated: no credentials, or a bad, expired or revoked token.",
    "403": "Authenticated, but the role or the token's scope may not do this.",
    "404": "No such object, or one the caller may not see.",
}
ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": True, "description": "Messages by field."},
    },
    "required": ["detail"],
}


def schema_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular post-processing hook (SPECTACULAR_SETTINGS): declare the error answers every operation can
    give, with their body, so that a client (and schemathesis) knows them."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_RESPONSES.items():
                responses.setdefault(status, {
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    "description": description,
                })
    return result
