"""Support for the bad-input and all-or-nothing tests: a fingerprint of the whole database, the rendered POST forms
of a page, and what a response says about a field."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from django.db import connection

# Rows that change on every request whatever it asks (session data, the "last seen" of a user session).
VOLATILE_TABLES = frozenset({"django_session", "usersessions_usersession"})


def _tables() -> list[str]:
    with connection.cursor() as cursor:
        names = connection.introspection.table_names(cursor)
    return sorted(n for n in names if n not in VOLATILE_TABLES)


_TABLES: list[str] = []


def audit_high_water() -> int:
    from portal.models import AuditEvent

    return AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def only_failure_audits_since(high_water: int) -> bool:
    """True when every audit event after ``high_water`` records a failed, throttled or refused attempt (a refused
    sign-in is audited on purpose, and so are one the rate limit refuses and a refused invitation link: that row is
    the refusal's record, not a partial save)."""
    from portal.models import AuditEvent

    return not (AuditEvent.objects.filter(pk__gt=high_water).exclude(action__endswith="_failed")
                .exclude(action__endswith="_throttled").exclude(action__endswith=".refused").exists())


def db_fingerprint() -> dict[str, tuple[int, str]]:
    """(row count, md5 of every row) of every table but the volatile ones: two equal fingerprints mean nothing
    was written. One query."""
    if not _TABLES:
        _TABLES.extend(_tables())
    select = "SELECT '{0}' AS t, count(*), coalesce(md5(string_agg(md5(x::text), '' ORDER BY md5(x::text))), '') FROM {1} x"
    parts = [select.format(t, connection.ops.quote_name(t)) for t in _TABLES]  # table names from the introspection
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts))
        return {name: (count, digest) for name, count, digest in cursor.fetchall()}


def fingerprint_diff(before: dict[str, tuple[int, str]], after: dict[str, tuple[int, str]]) -> list[str]:
    changed = []
    for name in sorted(set(before) | set(after)):
        b, a = before.get(name), after.get(name)
        if b != a:
            changed.append(f"{name}: {b[0] if b else 0} -> {a[0] if a else 0} rows" + (" (rows changed)"
                                                                                       if b and a and b[0] == a[0]
                                                                                       else ""))
    return changed


# --- Forms as a browser submits them ---------------------------------------------------------------------------

@dataclass
class HTMLForm:
    action: str
    method: str
    enctype: str
    fields: dict[str, list[str]] = field(default_factory=dict)  # name -> values a browser would send
    names: list[str] = field(default_factory=list)  # every control's name, in order (files included)
    files: set[str] = field(default_factory=set)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[HTMLForm] = []
        self.current: HTMLForm | None = None
        self.select: tuple[str, bool] | None = None  # name, multiple
        self.select_values: list[str] = []
        self.first_option: str | None = None
        self.option_value: str | None = None
        self.option_selected = False
        self.textarea: str | None = None
        self.text = ""

    def _add_name(self, name: str) -> None:
        assert self.current is not None
        if name not in self.current.names:
            self.current.names.append(name)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self.current = HTMLForm(action=a.get("action", ""), method=(a.get("method") or "get").lower(),
                                    enctype=a.get("enctype", ""))
            self.forms.append(self.current)
            return
        if self.current is None:
            return
        name = a.get("name")
        if "disabled" in a:
            return  # a browser does not send a disabled control
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "button", "image", "reset"):
                return
            self._add_name(name)
            if kind == "file":
                self.current.files.add(name)
            elif kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.current.fields.setdefault(name, []).append(a.get("value", "on"))
            else:
                self.current.fields.setdefault(name, []).append(a.get("value", ""))
        elif tag == "textarea" and name:
            self._add_name(name)
            self.textarea, self.text = name, ""
        elif tag == "select" and name:
            self._add_name(name)
            self.select, self.select_values, self.first_option = (name, "multiple" in a), [], None
        elif tag == "option" and self.select is not None:
            self.option_value, self.option_selected, self.text = a.get("value"), "selected" in a, ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.current = None
        elif tag == "textarea" and self.textarea is not None and self.current is not None:
            self.current.fields[self.textarea] = [self.text.removeprefix("\n")]
            self.textarea = None
        elif tag == "option" and self.select is not None:
            value = self.option_value if self.option_value is not None else self.text.strip()
            if self.first_option is None:
                self.first_option = value
            if self.option_selected:
                self.select_values.append(value)
        elif tag == "select" and self.select is not None and self.current is not None:
            name, multiple = self.select
            values = self.select_values or ([] if multiple or self.first_option is None else [self.first_option])
            if values:
                self.current.fields[name] = values
            self.select = None

    def handle_data(self, data: str) -> None:
        if self.textarea is not None or self.select is not None:
            self.text += data


def post_forms(html: str, path: str) -> list[HTMLForm]:
    """The POST forms of a page (to the page itself or to another of the portal's paths)."""
    parser = _FormParser()
    parser.feed(html)
    return [f for f in parser.forms if f.method == "post" and (not f.action or f.action.startswith("/"))]


def get_form_names(html: str) -> list[str]:
    """The names of the controls of the page's GET forms (searches and filters)."""
    parser = _FormParser()
    parser.feed(html)
    return [name for f in parser.forms if f.method == "get" for name in f.names]


# --- What a response says --------------------------------------------------------------------------------------

def response_forms(response: Any) -> list[Any]:
    from django import forms

    found: list[Any] = []
    for context in response.context or []:
        for layer in getattr(context, "dicts", [context]):
            for value in layer.values() if isinstance(layer, dict) else []:
                if isinstance(value, forms.BaseForm) and value not in found:
                    found.append(value)
    return found


def error_texts(response: Any) -> tuple[set[str], str]:
    """(field names with errors, all error text) of a response: the JSON errors of the API, the bound forms'
    errors of a page, or the text of an error page."""
    fields: set[str] = set()
    text = ""
    content_type = response.get("Content-Type", "")
    if "json" in content_type:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if isinstance(body, dict):
            errors = body.get("errors")
            if isinstance(errors, dict):
                fields |= {str(k) for k in errors}
            text = json.dumps(body)
        return fields, text
    for form in response_forms(response):
        if form.is_bound:
            for name, errs in form.errors.items():
                fields.add(name)
                text += " ".join(str(e) for e in errs) + " "
    if not fields:
        text = response.content.decode("utf-8", "replace")
    return fields, text


def names_field(response: Any, field_name: str, labels: tuple[str, ...] = ()) -> bool:
    fields, text = error_texts(response)
    if field_name in fields:
        return True
    lowered = text.lower()
    candidates = {field_name, field_name.replace("_", " "), *labels}
    return any(c and c.lower() in lowered for c in candidates)


def refused(response: Any) -> bool:
    """A 4xx, or a page shown again with errors on its form (the GOV.UK pattern)."""
    if 400 <= response.status_code < 500:
        return True
    if response.status_code == 200:
        return any(form.is_bound and form.errors for form in response_forms(response))
    return False
