"""Limits on what a request body may hold, for every JSON endpoint and every JSON text in a form field.

A JSON body is read up to ``settings.JSON_MAX_BYTES``; its nesting may not go deeper than ``settings.JSON_MAX_DEPTH``;
no string in it (keys included) may hold a NUL or another control character (tab, line feed and carriage return
excepted: PostgreSQL cannot store a NUL, and no field of the portal takes the others); no number in it may be
outside 64-bit integers or be infinite. Each refusal is a 400 that names the field (the body's top-level key)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from rest_framework import parsers, serializers, status
from rest_framework.exceptions import APIException, ParseError, ValidationError

CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# A lone surrogate (U+D800-U+DFFF) reaches a str only through a JSON escape ("\ud800"): it is no character, and
# neither UTF-8 nor PostgreSQL can hold it (issue 14's hostile corpus found it as a 500).
SURROGATES = re.compile(r"[\ud800-\udfff]")
INT_LIMIT = 2**63 - 1


class JSONLimitError(ValueError):
    """A JSON value breaks one of the limits; ``field`` is the path of the offending value ("" at the top)."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class JSONSyntaxError(JSONLimitError):
    """The text is not JSON at all."""


class RequestBodyTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"


def control_character_message(text: str) -> str | None:
    """``None`` when ``text`` holds no forbidden control character, else what to say about the first one."""
    match = CONTROL_CHARACTERS.search(text)
    if match is None:
        return None
    char = match.group()
    if SURROGATES.match(char):
        return f"contains a lone surrogate (U+{ord(char):04X}), which is not a character; remove it."
    name = "a NUL character" if char == "\x00" else f"a control character (U+{ord(char):04X})"
    return f"contains {name}; remove it."


def _nul_message(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character; remove it."
    match = SURROGATES.search(text)
    return f"contains a lone surrogate (U+{ord(match.group()):04X}), which is not a character; remove it." if match else None


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def json_value_check(value: Any, *, max_depth: int | None = None, root: str = "", nul_only: bool = False) -> None:
    """Raise JSONLimitError when an already parsed JSON value breaks a limit. Iterative (no recursion).
    ``nul_only``: of the control characters only NUL is refused (data such as an uploaded dataset's text)."""
    limit = settings.JSON_MAX_DEPTH if max_depth is None else max_depth
    text_problem = _nul_message if nul_only else control_character_message
    stack: list[tuple[Any, int, str]] = [(value, 1, root)]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                raise JSONLimitError(f"is nested more than {limit} levels deep.", path)
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in pairs:
                if isinstance(key, str):
                    problem = text_problem(key)
                    if problem:
                        raise JSONLimitError(f"has a key that {problem}", path)
                stack.append((child, depth + 1, _path(path, key)))
        elif isinstance(item, str):
            problem = text_problem(item)
            if problem:
                raise JSONLimitError(problem, path)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if abs(item) > INT_LIMIT:
                raise JSONLimitError("is a number too large to store.", path)
        elif isinstance(item, float) and not math.isfinite(item):
            raise JSONLimitError("is not a finite number.", path)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def json_loads(text: str | bytes, *, max_depth: int | None = None, root: str = "", nul_only: bool = False,
               check: bool = True) -> Any:
    """``json.loads`` within the limits above; raises JSONLimitError (a ValueError) with a clear message."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        limit = settings.JSON_MAX_DEPTH if max_depth is None else max_depth
        raise JSONLimitError(f"is nested more than {limit} levels deep.", root) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise JSONSyntaxError(f"is not valid JSON ({exc}).", root) from None
    if check:
        json_value_check(value, max_depth=max_depth, root=root, nul_only=nul_only)
    return value


def _top_field(path: str) -> str:
    return re.split(r"[.\[]", path, maxsplit=1)[0] if path else ""


def _field_error(exc: JSONLimitError) -> ValidationError:
    field = _top_field(exc.field)
    if field:
        return ValidationError({field: [f"{exc.field} {exc}"]})
    return ParseError(f"The request body {exc}")  # type: ignore[return-value]


def _body_check(value: Any) -> None:
    """Check a parsed body; for an object, every top-level field is checked and every one at fault named."""
    if not isinstance(value, dict):
        json_value_check(value)
        return
    errors: dict[str, list[str]] = {}
    for key, child in value.items():
        try:
            json_value_check({key: child})
        except JSONLimitError as exc:
            errors[_top_field(exc.field) or str(key)] = [f"{exc.field or key} {exc}"]
    if errors:
        raise ValidationError(errors)


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser within the portal's limits (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"])."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        limit = settings.JSON_MAX_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise RequestBodyTooLarge(f"The request body is larger than {limit:,} bytes.")
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            raise ParseError(f"JSON parse error - the body is not {encoding} text.") from None
        try:
            value = json_loads(text, check=False)  # syntax and Python's own recursion limit; then each field
        except JSONSyntaxError as exc:
            raise ParseError(f"JSON parse error: the request body {exc}") from None
        except JSONLimitError as exc:
            raise _field_error(exc) from None
        _body_check(value)
        return value


def _check_form_fields(data: Any) -> None:
    errors: dict[str, list[str]] = {}
    for key in data:
        problem = control_character_message(key)
        if problem:
            raise ParseError(f"A field name {problem}")
        for value in data.getlist(key):
            problem = control_character_message(value) if isinstance(value, str) else None
            if problem:
                errors[key] = [f"{key} {problem}"]
                break
    if errors:
        raise ValidationError(errors)


class FormParser(parsers.FormParser):
    """DRF's form parser; a field holding a NUL or another control character is a 400 naming it."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        _check_form_fields(data)
        return data


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser; a (non-file) field holding a NUL or another control character is a 400 naming it."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        result = super().parse(stream, media_type, parser_context)
        _check_form_fields(result.data)
        return result


class JSONField(serializers.JSONField):
    """DRF's JSONField within the same limits: JSON sent as text (a multipart or form field) is parsed with
    ``json_loads``, and a value from a JSON body is checked again (a serializer may be given data another way)."""

    def to_internal_value(self, data: Any) -> Any:
        root = self.field_name or ""
        try:
            if isinstance(data, str | bytes) and (self.binary or getattr(data, "is_json_string", False)):
                return json_loads(data, root=root)
            json_value_check(data, root=root)
        except JSONSyntaxError:
            self.fail("invalid")
        except JSONLimitError as exc:
            raise ValidationError(f"{exc.field or root} {exc}") from None
        return super().to_internal_value(data)
