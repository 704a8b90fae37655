"""Lengths of the portal's free-text fields, in one place: forms and serializers declare them (so pages and the
schema show them) and services enforce them (so every face refuses the same way, naming the field)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

NAME_MAX = 200  # names of models, evaluations, runs, exercises
LINE_MAX = 1_000  # one-line values: a scorer's pattern, a stop sequence, a header value, a sample id list entry
TEXT_MAX = 10_000  # notes, descriptions, reasons
PROMPT_MAX = 100_000  # a system prompt
PASSWORD_MAX = 4_096
ID_MAX = 2**63 - 1  # the largest id (bigint) a lookup may be given


def text_check(value: Any, *, field: str, label: str, limit: int = TEXT_MAX) -> str:
    """``value`` as text of at most ``limit`` characters; a ValidationError on ``field`` otherwise."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError({field: [f"{label} must be text."]})
    if len(value) > limit:
        raise ValidationError({field: [f"{label} is too long: at most {limit:,} characters (it has {len(value):,})."]})
    return value
