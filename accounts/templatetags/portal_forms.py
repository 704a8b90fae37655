"""Form rendering helpers for GOV.UK classes: ``{% load portal_forms %}{{ field|govuk_widget }}``."""

from __future__ import annotations

from typing import Any

from django import template
from django.forms import BoundField, CheckboxInput, CheckboxSelectMultiple, RadioSelect, Select, Textarea

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
    else:
        css = "govuk-input"
    if field.errors and css:
        css += " govuk-input--error" if css == "govuk-input" else f" {css}--error"
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
