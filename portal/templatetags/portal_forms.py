"""Template helpers of the portal's one set of partials (templates/components/): GOV.UK classes on a field's widget
(``{{ field|govuk_widget }}``), the kind of a choice field, and the query string of a list page without its page
number (``{% page_query as query %}``)."""

from __future__ import annotations

from typing import Any

from django import template
from django.forms import (
    BoundField,
    CheckboxInput,
    CheckboxSelectMultiple,
    FileInput,
    RadioSelect,
    Select,
    Textarea,
)

register = template.Library()


@register.filter
def govuk_widget(field: BoundField) -> Any:
    widget = field.field.widget
    if isinstance(widget, CheckboxInput):
        css = "govuk-checkboxes__input"
    elif isinstance(widget, CheckboxSelectMultiple | RadioSelect):
        css = ""
    elif isinstance(widget, Select):
        css = "govuk-select"
    elif isinstance(widget, Textarea):
        css = "govuk-textarea"
    elif isinstance(widget, FileInput):
        css = "govuk-file-upload"
    else:
        css = "govuk-input"
    if field.errors and css:
        css += f" {css}--error"
    attrs: dict[str, str | bool] = {"class": css} if css else {}
    if field.help_text:
        attrs["aria-describedby"] = f"{field.auto_id}-hint"
    return field.as_widget(attrs=attrs)


@register.filter
def is_checkbox(field: BoundField) -> bool:
    return isinstance(field.field.widget, CheckboxInput)


@register.filter
def is_multi(field: BoundField) -> bool:
    return isinstance(field.field.widget, CheckboxSelectMultiple | RadioSelect)


@register.filter
def choice_kind(field: BoundField) -> str:
    """"radios" or "checkboxes": the GOV.UK component of a multiple-choice field."""
    return "radios" if isinstance(field.field.widget, RadioSelect) else "checkboxes"


@register.simple_tag(takes_context=True)
def page_query(context: Any) -> str:
    """The list page's query string without ``page``, ending with "&" when not empty (for pagination links)."""
    request = context.get("request")
    if request is None:
        return ""
    query = request.GET.copy()
    query.pop("page", None)
    encoded = query.urlencode()
    return f"{encoded}&" if encoded else ""
