"""Error wording (issue 12): over every form class of the portal, each field given a wrong value (missing, not a
number, too small, too big, too long, not one of the choices, not a date, not an e-mail address, not JSON) gets an
error message that names the field, in GOV.UK style, never Django's generic "This field is required."."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from typing import Any

import pytest
from django import forms

pytestmark = pytest.mark.django_db

GENERIC = ("This field", "Ensure this value", "Select a valid choice", "Enter a valid", "Enter a number.",
           "Enter a whole number.")  # Django's own, which name no field
MODULES = ["accounts.forms", *(f"evaluations.forms.{m.name}" for m in pkgutil.iter_modules(
    importlib.import_module("evaluations.forms").__path__))]


def _form_classes() -> list[type[forms.BaseForm]]:
    found = []
    for name in MODULES:
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, forms.BaseForm) and cls.__module__ == module.__name__:
                found.append(cls)
    return found


def _bad_values(field: forms.Field) -> list[str]:
    values = []
    if field.required:
        values.append("")
    if isinstance(field, forms.IntegerField | forms.FloatField | forms.DecimalField):
        values.append("twelve")
        if field.min_value is not None:
            values.append(str(field.min_value - 1))
        if field.max_value is not None:
            values.append(str(field.max_value + 1))
    elif isinstance(field, forms.DateField | forms.DateTimeField):
        values.append("31 Febtember")
    elif isinstance(field, forms.EmailField):
        values.append("not-an-address")
    elif isinstance(field, forms.ModelChoiceField | forms.ChoiceField | forms.TypedChoiceField):
        values.append("999999999")
    elif isinstance(field, forms.CharField):
        if field.max_length:
            values.append("x" * (field.max_length + 1))
        values.append("{not json")
    return values


def _name(form: forms.BaseForm, html_name: str) -> str:
    custom = getattr(form, "error_names", {}).get(html_name)
    if custom:
        return custom
    label = re.sub(r"\s*\([^)]*\)\s*$", "", str(form.fields[html_name].label or html_name))
    return label


def _instance(cls: type[forms.BaseForm], user: Any, data: dict[str, Any] | None) -> forms.BaseForm:
    params = inspect.signature(cls.__init__).parameters
    kwargs: dict[str, Any] = {}
    if "user" in params:
        kwargs["user"] = user
    # Forms whose choices the view passes in (findings): empty choices, so each field's own messages show.
    for name, param in params.items():
        if param.kind is param.KEYWORD_ONLY and param.default is param.empty and name not in kwargs:
            kwargs[name] = {"versions": {"models": [], "tasks": []}, "slots": 1}.get(name, [])
    if data is None:
        return cls(**kwargs)
    return cls(data, {}, **kwargs)


FORMS = _form_classes()


def test_every_portal_form_is_found():
    names = {cls.__name__ for cls in FORMS}
    assert {"RunForm", "ExerciseForm", "InvitationAcceptForm", "ModelForm", "DatasetTaskForm"} <= names


@pytest.mark.parametrize("cls", FORMS, ids=lambda cls: f"{cls.__module__}.{cls.__name__}")
def test_every_field_error_names_the_field(cls, uk_staff, exercise):
    checked = 0
    for html_name, field in _instance(cls, uk_staff, None).fields.items():
        if field.disabled or isinstance(field.widget, forms.HiddenInput):
            continue
        for value in _bad_values(field):
            form = _instance(cls, uk_staff, {html_name: value} if value != "" else {})
            form.is_valid()
            for message in form.errors.get(html_name, []):
                checked += 1
                name = _name(form, html_name)
                assert not message.startswith(GENERIC), f"{cls.__name__}.{html_name}={value!r}: {message!r}"
                assert name.lower() in message.lower(), (
                    f"{cls.__name__}.{html_name}={value!r}: {message!r} does not name the field ({name!r})")
    assert checked or not any(f.required for f in _instance(cls, uk_staff, None).fields.values())


def test_the_sample_limit_message_says_how_to_fix_it(uk_staff, exercise):
    from evaluations.forms.runs import RunForm

    form = RunForm({"limit": "0"}, user=uk_staff)
    form.is_valid()
    assert form.errors["limit"] == ["Enter a sample limit of 1 or more"]
    form = RunForm({}, user=uk_staff)
    form.is_valid()
    assert form.errors["model_versions"] == ["Select at least one model"]
