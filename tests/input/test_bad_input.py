"""A table of bad values for every field of every write, generated: the API's fields from its OpenAPI schema
(drf-spectacular), the pages' fields from the POST forms the pages render (every page the URL resolver reaches,
through the permission matrix's rows), and every query parameter the API declares or a page's search form has. A new
field, endpoint or form is covered without a new test.

For each (endpoint, field, bad value), as an actor the permission matrix says may do the write:
  - never a 5xx;
  - a refused request leaves the database exactly as it was (a fingerprint of every table, before and after);
  - a value no field may take (a NUL, another control character, nesting deeper than JSON_MAX_DEPTH, 10**30, a
    megabyte of text, a JSON type the field does not have) is refused with a 4xx (or the page shown again with
    errors) whose message names the field.

One world for the whole module (the permission matrix's, built once in a transaction rolled back at the end); each
case runs in a savepoint rolled back after it. Finding the fields and sending the values: tests/support/bad_input.py,
shared with the hostile corpus of tests/security/test_hostile_input.py."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from django.urls import resolve

from tests.input.support import get_form_names
from tests.permissions.matrix import ACTORS, Row
from tests.permissions.test_matrix import ROWS, build_path, world  # noqa: F401 - world is the shared fixture
from tests.support.bad_input import (
    API_OPERATIONS,
    PAGE_IDS,
    PAGE_ROWS,
    THIRD_PARTY_PAGES,
    Bad,
    FormTarget,
    Outcome,
    actor_for,
    api_schema,
    api_target,
    assert_case_count,
    check_fields,
    field_kind,
    normalise_route,
    page_form_targets,
    rendered,
    send_checked,
    use_actor,
)

SUITE = "bad-input"
# Cases (requests) the whole module sent when its senders were merged with the hostile corpus's (issue 14): the
# count must not drop (lower it only with the field or form that went). Printed by the last test.
CASE_FLOOR = 1267

# --- The bad values ------------------------------------------------------------------------------------------

MEGABYTE = "x" * (1024 * 1024)

NUL, CONTROL = Bad("NUL", "a\x00b", True), Bad("control character", "a\x1b[31mb", True)
DEEP = Bad("nested deeper than JSON_MAX_DEPTH", "NESTED", True)  # built from the setting at run time
HUGE = Bad("10**30", 10**30, True)
MB = Bad("1 MB string", MEGABYTE, True)

# JSON bodies, by the field's type in the schema. NUL, control characters, deep nesting and 10**30 are refused by
# every field (portal/parsers.py); the rest depend on the type.
JSON_ALWAYS = [NUL, CONTROL, DEEP, HUGE]
JSON_BY_TYPE: dict[str, list[Bad]] = {
    "string": [MB, Bad("object", {"a": 1}, True), Bad("list", [1], True), Bad("boolean", True, True)],
    "integer": [Bad("text", "abc", True), Bad("fraction", 1.5, True), Bad("object", {"a": 1}, True),
                Bad("boolean", True, True), MB, Bad("-1", -1, False), Bad("2**62", 2**62, False)],
    "number": [Bad("text", "abc", True), Bad("object", {"a": 1}, True), MB, Bad("-1", -1, False),
               Bad("1e300", 1e300, False)],
    "boolean": [Bad("text", "maybe", True), Bad("2", 2, True), Bad("object", {"a": 1}, True)],
    "array": [Bad("text", "abc", True), Bad("object", {"a": 1}, True), Bad("[null]", [None], True),
              Bad("[object]", [{"a": 1}], True), Bad("[list]", [[1]], True),
              Bad("10,000 items", list(range(10_000)), False)],
    "object": [Bad("text", "abc", True), Bad("list", [1], True), MB],
    "any": [Bad("text", "abc", False), Bad("list", [1], False), Bad("1 MB string", MEGABYTE, False)],
}

# Text (form fields, multipart parts): what a browser or curl can send. By the kind of field.
TEXT_NUL, TEXT_CONTROL = NUL, CONTROL
DEEP_TEXT = Bad("deeply nested JSON text", "[" * 5000 + "]" * 5000, False)
NESTED_TEXT = Bad("JSON nested past the limit", "NESTED_TEXT", False)
HUGE_TEXT = Bad("10**30", "1" + "0" * 30, True)
TEXT_BY_KIND: dict[str, list[Bad]] = {
    "text": [NUL, CONTROL, MB, DEEP_TEXT, NESTED_TEXT],
    "json": [NUL, CONTROL, MB, Bad(DEEP_TEXT.label, DEEP_TEXT.value, True), Bad(NESTED_TEXT.label, "NESTED_TEXT", True)],
    "integer": [NUL, CONTROL, MB, Bad("text", "abc", True), Bad("fraction", "1.5", True), HUGE_TEXT,
                Bad("-1", "-1", False)],
    "number": [NUL, CONTROL, MB, Bad("text", "abc", True), HUGE_TEXT, Bad("-1", "-1", False)],
    "choice": [NUL, CONTROL, MB, Bad("not a choice", "not-a-choice", True), Bad("-1", "-1", True)],
    "date": [NUL, CONTROL, MB, Bad("text", "abc", True), Bad("no such date", "2026-02-30", True)],
    "boolean": [NUL, CONTROL, Bad("1 MB string", MEGABYTE, False)],  # any text only means "ticked"
    "file": [Bad(b.label, b.value, False) for b in (NUL, MB)],  # a text part where a file is expected
    # a control the view reads itself (a hidden revision, an item number...)
    "other": [NUL, CONTROL, MB, Bad("text", "abc", False), Bad("-1", "-1", False), Bad("10**30", HUGE_TEXT.value, False)],
}


# --- The API, from its schema ----------------------------------------------------------------------------------

def _bad_values_for(node: dict[str, Any], content_type: str) -> list[Bad]:
    if content_type == "application/json":
        return [*JSON_ALWAYS, *JSON_BY_TYPE[node["_type"]]]
    if node.get("format") == "binary":
        return TEXT_BY_KIND["file"]
    kind = {"integer": "integer", "number": "number", "boolean": "boolean", "any": "json"}.get(node["_type"], "text")
    if "enum" in node or node.get("format") in ("date", "date-time"):
        kind = "choice" if "enum" in node else "date"
    if node["_type"] == "array":
        kind = {"integer": "integer"}.get(node.get("items", {}).get("type", ""), "text")
    return TEXT_BY_KIND[kind]


def test_the_schema_has_write_operations_to_check() -> None:
    ids = {operation.id for operation in API_OPERATIONS}
    for wanted in ("POST /api/v1/models/ (json)", "PATCH /api/v1/models/{id}/ (json)", "POST /api/v1/runs/ (json)",
                   "POST /api/v1/runs/{id}/approve/ (json)", "POST /api/v1/runs/import/ (form-data)",
                   "POST /api/v1/tasks/ (form-data)"):
        assert wanted in ids, f"{wanted} is not among {sorted(ids)}"


@pytest.mark.django_db
@pytest.mark.parametrize("operation", API_OPERATIONS, ids=[op.id for op in API_OPERATIONS])
def test_api_field_refuses_bad_values_without_5xx_or_partial_save(world: Any, operation: Any) -> None:  # noqa: F811
    target = api_target(world, operation)
    outcome = Outcome(SUITE)
    fields = {name: _bad_values_for(node, operation.content_type) for name, node in operation.properties.items()}
    check_fields(outcome, target.where, fields, target.base, target.send_body)
    # The whole body: nested past Python's recursion limit, and a body that is not JSON.
    if operation.content_type == "application/json":
        for label, raw in (("body nested 100,000 deep", "[" * 100_000 + "]" * 100_000), ("not JSON", "{'a': 1")):
            response = send_checked(outcome, f"{target.where} (body)={label}", lambda raw=raw: target.send_raw(raw))
            if response is not None and (response.status_code != 400 or "body" not in response.json()["detail"]):
                outcome.failures.append(f"{target.where} (body)={label}: {response.status_code} "
                                        f"{response.content[:200]!r}")
    assert outcome.cases
    outcome.assert_clean()
    RAN.add(f"api {operation.id}")


# --- The pages, from the forms they render ---------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("row", PAGE_ROWS, ids=PAGE_IDS)
def test_page_form_refuses_bad_values_without_5xx_or_partial_save(world: Any, row: Row) -> None:  # noqa: F811
    ctx, cookies, client = world
    page = rendered(client, cookies, ctx, row)
    assert page.status == 200, f"GET {page.path} as {page.actor}: {page.status}"
    outcome = Outcome(SUITE)
    for form in page_form_targets(world, row, _CHECKED_FORMS):
        _check_page_form(outcome, form)
    outcome.assert_clean()
    RAN.add(f"page {row.route} {id(row)}")


_CHECKED_FORMS: set[tuple[str, tuple[str, ...]]] = set()


def _check_page_form(outcome: Outcome, form: FormTarget) -> None:
    allowed = getattr(resolve(form.target).func, "control_characters_allowed", ())
    fields: dict[str, list[Bad]] = {}
    labels: dict[str, tuple[str, ...]] = {}
    for name in form.form.names:
        if name == "csrfmiddlewaretoken":
            continue
        field = form.page.fields.get(name)
        kind = "file" if name in form.form.files else field_kind(field)
        bads = TEXT_BY_KIND[kind]
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in allowed):  # portal.middleware.control_characters_allowed
            bads = [Bad(b.label, b.value, False) if b is CONTROL else b for b in bads]
        if form.row.route.startswith(THIRD_PARTY_PAGES):
            bads = [b if b.label in ("NUL", "control character") else Bad(b.label, b.value, False) for b in bads]
        fields[name] = bads
        labels[name] = (str(field.label),) if field is not None and field.label else ()
    check_fields(outcome, form.where, fields, form.base, form.send_body, labels)


# --- Query parameters ------------------------------------------------------------------------------------------

def _query_rows() -> list[Row]:
    seen: set[str] = set()
    rows = []
    for row in ROWS:
        if row.method != "GET" or row.route.startswith("django-admin/") or row.route in seen:
            continue
        if actor_for(row, {200}) is None:
            continue
        seen.add(row.route)
        rows.append(row)
    return rows


QUERY_ROWS = _query_rows()


def _declared_query_parameters() -> dict[str, list[str]]:
    schema = api_schema()
    declared: dict[str, list[str]] = {}
    for template, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method == "get":
                declared[re.sub(r"\{[^}]+\}", "{}", template)] = [
                    p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"]
    return declared


DECLARED_QUERY = _declared_query_parameters()
COMMON_PARAMETERS = ("q", "page", "sort", "exercise", "state", "status")
QUERY_VALUES = ("1" + "0" * 30, "-1,abc,,[" + "[" * 2000)


@pytest.mark.django_db
@pytest.mark.parametrize("row", QUERY_ROWS, ids=[row.route or "(home)" for row in QUERY_ROWS])
def test_query_parameters_with_control_characters_are_400_naming_them(world: Any, row: Row) -> None:  # noqa: F811
    from urllib.parse import urlencode

    ctx, cookies, client = world
    actor = actor_for(row, {200})
    assert actor is not None
    base_path = build_path(row.route, row.kwargs(ctx))
    base_query = row.query(ctx) if row.query else ""
    use_actor(client, cookies, actor)
    headers = {"HTTP_ACCEPT": "application/json"} if base_path.startswith("/api/") else {}
    names = list(DECLARED_QUERY.get(normalise_route(row.route), []))
    if not base_path.startswith("/api/"):
        names += get_form_names(rendered(client, cookies, ctx, row).html)
        use_actor(client, cookies, actor)
    names = list(dict.fromkeys([*names, *COMMON_PARAMETERS]))
    failures = []
    for label, value in (("NUL", "a\x00b"), ("control character", "a\x1bb")):
        # every parameter at once: the 400 names each of them (portal/middleware.py)
        query = "&".join(q for q in (base_query, urlencode(dict.fromkeys(names, value))) if q)
        response = client.get(f"{base_path}?{query}", **headers)
        text = response.content.decode("utf-8", "replace")
        unnamed = [name for name in names if f"parameter {name} " not in text]
        if response.status_code != 400 or unnamed:
            failures.append(f"{label} in {unnamed or names}: {response.status_code} {response.content[:200]!r}")
    for value in QUERY_VALUES:  # odd but printable values: no 5xx
        query = "&".join(q for q in (base_query, urlencode(dict.fromkeys(names, value))) if q)
        savepoint = transaction.savepoint()
        try:
            status = client.get(f"{base_path}?{query}", **headers).status_code
        except Exception as exc:  # noqa: BLE001 - a view's exception is a 500
            status = 500
            failures.append(f"all parameters = {value[:20]!r}: {type(exc).__name__}: {str(exc)[:200]}")
        finally:
            transaction.savepoint_rollback(savepoint)
        if status >= 500:
            failures.append(f"all parameters = {value[:20]!r}: {status}")
    assert not failures, f"GET {base_path} as {actor}:\n" + "\n".join(failures)
    RAN.add(f"query {row.route}")


# --- Coverage of the project's forms ---------------------------------------------------------------------------

def test_every_form_class_of_the_project_is_reached_by_a_page(world: Any) -> None:  # noqa: F811
    """Every Form subclass of the project's apps is rendered by some page route of the matrix (so the table
    above covers its fields), or is listed here with the reason it is not."""
    from django import forms

    exempt = {
        "InvitationAcceptForm": "rendered only for a live invitation link (anonymous); covered by its own tests",
        "AuthenticateForm": "allauth's MFA code form, rendered only inside a sign-in in progress",
    }
    ctx, cookies, client = world

    def subclasses(cls: type) -> Iterator[type]:
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    project = {cls for cls in subclasses(forms.BaseForm)
               if cls.__module__.split(".")[0] in ("accounts", "evaluations", "portal")}
    reached: set[type] = set()
    for row in PAGE_ROWS:
        reached |= rendered(client, cookies, ctx, row).form_classes
    # A base class (PortalForm, _ChoicesForm...) is covered through the forms built on it.
    missing = sorted(f"{cls.__module__}.{cls.__name__}" for cls in project - reached
                     if cls.__name__ not in exempt and not any(issubclass(r, cls) for r in reached))
    assert not missing, f"forms no page of the matrix renders (add a matrix row, or exempt them here): {missing}"
    assert ACTORS  # the matrix's actors sign in once for the module


RAN: set[str] = set()  # the table's tests that ran (and passed) in this process


def test_the_table_sent_as_many_cases_as_before() -> None:
    """Last in the module: the count of cases sent (printed) has not dropped since the senders were merged."""
    assert_case_count(SUITE, CASE_FLOOR, len(RAN), len(API_OPERATIONS) + len(PAGE_ROWS) + len(QUERY_ROWS))
