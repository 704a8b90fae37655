"""Form helpers shared by the portal's pages."""

from __future__ import annotations

import json
from typing import Any

from django import forms


def json_object_clean(raw: str | None, *, example: str) -> dict[str, Any]:
    """Parse a text field holding a JSON object; blank means ``{}``. A clear error names an example."""
    if not (raw or "").strip():
        return {}
    message = f"Enter a JSON object, e.g. {example}."
    try:
        value = json.loads(raw or "")
    except json.JSONDecodeError:
        raise forms.ValidationError(message) from None
    if not isinstance(value, dict):
        raise forms.ValidationError(message)
    return value
