"""Form helpers shared by the portal's pages."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from portal.parsers import JSONLimitError, JSONSyntaxError, control_character_message, json_loads


def json_object_clean(raw: str | None, *, example: str, name: str = "the value") -> dict[str, Any]:
    """Parse a text field holding a JSON object; blank means ``{}``. A clear error names the field and an example.
    The JSON is held to the API's limits (nesting depth, control characters, number range: portal/parsers.py)."""
    if not (raw or "").strip():
        return {}
    message = f"Enter {name} as a JSON object, like {example}"
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
# --- GOV.UK error messages (issue 12) -----------------------------------------------------------------------------
# Every message names the field and says how to put it right ("Enter a sample limit of 1 or more"), following
# https://design-system.service.gov.uk/components/error-message/. Forms inherit ``PortalForm`` or ``PortalModelForm``;
# a field's own ``error_messages`` win, and ``error_names`` (field -> the words naming it, with its article) replaces
# the name made from the label.

_TRAILING_NOTE = re.compile(r"\s*\([^)]*\)\s*$")


def field_error_name(field: forms.Field, html_name: str) -> str:
    """The words that name a field inside a sentence: its label without a trailing note such as "(optional)", the
    first letter in lower case unless the first word is an acronym ("API key", "URL")."""
    label = str(field.label or html_name.replace("_", " "))
    label = _TRAILING_NOTE.sub("", label).strip() or html_name.replace("_", " ")
    first = label.split(" ", 1)[0]
    if not (len(first) > 1 and first[:2].isupper()):
        label = label[:1].lower() + label[1:]
    return label


def _govuk_messages(field: forms.Field, name: str) -> dict[str, str]:
    """Default messages for one field, keyed by Django's error codes. ``%(limit_value)s`` etc. stay for Django."""
    the = name if name.split(" ", 1)[0] in {"a", "an", "the", "your", "at"} else f"the {name}"
    capital = the[:1].upper() + the[1:]
    multiple = isinstance(field, forms.MultipleChoiceField | forms.ModelMultipleChoiceField)
    choice = isinstance(field, forms.ChoiceField | forms.ModelChoiceField) or multiple
    if multiple:
        required = f"Select at least one option for {the}" if not the.startswith("at least") else f"Select {the}"
    elif choice or isinstance(field, forms.BooleanField):
        required = f"Select {the}"
    elif isinstance(field, forms.FileField):
        required = f"Choose a file for {the}"
    else:
        required = f"Enter {the}"
    messages = {
        "required": required,
        "min_value": f"{capital} must be %(limit_value)s or more",
        "max_value": f"{capital} must be %(limit_value)s or less",
        "max_length": f"{capital} must be %(limit_value)d characters or fewer",
        "min_length": f"{capital} must be %(limit_value)d characters or more",
        "invalid_choice": f"Choose {the} from the options given",
        "invalid_pk_value": f"Choose {the} from the options given",
        "invalid_list": f"Choose {the} from the options given",
        "max_digits": f"{capital} must have at most %(max)s digits",
        "max_decimal_places": f"{capital} must have at most %(max)s decimal places",
        "max_whole_digits": f"{capital} must have at most %(max)s digits before the decimal point",
        "step_size": f"{capital} must be a multiple of %(limit_value)s",
        "empty": f"{capital} file is empty: choose a file with something in it",
        "missing": f"Choose a file for {the}",
        "invalid_image": f"Choose an image for {the}",
        "contradiction": f"Choose a file for {the} or tick clear, not both",
    }
    if isinstance(field, forms.IntegerField):
        messages["invalid"] = f"{capital} must be a whole number"
    elif isinstance(field, forms.FloatField | forms.DecimalField):
        messages["invalid"] = f"{capital} must be a number"
    elif isinstance(field, forms.DateTimeField):
        messages["invalid"] = f"Enter {the} as a date and time, like 2026-12-31 14:30"
    elif isinstance(field, forms.DateField):
        messages["invalid"] = f"Enter {the} as a real date, like 2026-12-31"
    elif isinstance(field, forms.EmailField):
        messages["invalid"] = f"Enter {the} in the right format, like name@example.org"
    elif isinstance(field, forms.URLField):
        messages["invalid"] = f"Enter {the} as a web address, like https://example.org"
    else:
        messages["invalid"] = f"Enter {the} in the right format"
    return messages


def _default_messages(field: forms.Field) -> dict[str, Any]:
    defaults: dict[str, Any] = {}
    for cls in reversed(type(field).__mro__):
        defaults.update(getattr(cls, "default_error_messages", {}))
    return defaults


def govuk_errors_apply(form: forms.BaseForm, names: dict[str, str] | None = None) -> None:
    """Give each field of ``form`` GOV.UK messages naming it, where the field kept Django's default."""
    for html_name, field in form.fields.items():
        name = (names or {}).get(html_name) or field_error_name(field, html_name)
        defaults = _default_messages(field)
        for code, message in _govuk_messages(field, name).items():
            current = field.error_messages.get(code)
            if current is None or current == defaults.get(code):
                field.error_messages[code] = message


class PortalForm(forms.Form):
    """A form whose default error messages name the field (see ``govuk_errors_apply``)."""

    error_names: dict[str, str] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        govuk_errors_apply(self, self.error_names)


class PortalModelForm(forms.ModelForm):
    error_names: dict[str, str] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        govuk_errors_apply(self, self.error_names)
