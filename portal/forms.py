"""Form helpers shared by the portal's pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from portal.parsers import JSONLimitError, JSONSyntaxError, control_character_message, json_loads


def json_object_clean(raw: str | None, *, example: str) -> dict[str, Any]:
    """Parse a text field holding a JSON object; blank means ``{}``. A clear error names an example. The JSON is
    held to the API's limits (nesting depth, control characters, number range: portal/parsers.py)."""
    if not (raw or "").strip():
        return {}
    message = f"Enter a JSON object, e.g. {example}."
    try:
        value = json_loads(raw or "")
    except JSONSyntaxError:
        raise forms.ValidationError(message) from None
    except JSONLimitError as exc:
        where = f"The value at {exc.field}" if exc.field else "The JSON"
        raise forms.ValidationError(f"{where} {exc}") from None
    if not isinstance(value, dict):
        raise forms.ValidationError(message)
    return value


def optional_whole_number(data: Any, name: str, *, maximum: int = 2**31 - 1) -> int | None:
    """A whole number a view reads itself from a form (a hidden ``revision``): None when absent or blank, a
    ValidationError naming the field when it is anything else than 1 to ``maximum``."""
    raw = (data.get(name) or "").strip() if hasattr(data, "get") else ""
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise ValidationError({name: [f"The {name} is a whole number from 1 to {maximum:,}; read the page again."]})
    return int(raw)


def form_errors_add(form: forms.BaseForm, exc: ValidationError, *, field_map: dict[str, str] | None = None) -> None:
    """Copy a service's ValidationError onto a bound form: each message on its field (renamed through
    ``field_map`` where the service's name differs from the form's), the rest at the top of the form."""
    errors = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
    for key, messages in errors.items():
        field = (field_map or {}).get(key, key) if key is not None else None
        form.add_error(field if field in form.fields else None, messages)


class ControlCharactersRefused:
    """Mixin for the forms of the upload views, which portal.middleware does not check (they are exempt from CSRF so
    that their size limit is installed before the body is read): a field holding a NUL or another control character
    gets an error naming it, as everywhere else."""

    def full_clean(self) -> None:
        super().full_clean()  # type: ignore[misc]
        form: Any = self
        if not form.is_bound:
            return
        for name, field in form.fields.items():
            values = form.data.getlist(form.add_prefix(name)) if hasattr(form.data, "getlist") else [
                form.data.get(form.add_prefix(name))]
            for value in values:
                problem = control_character_message(value) if isinstance(value, str) else None
                if problem:
                    form.add_error(name, f"{field.label or name} {problem}")
                    break
