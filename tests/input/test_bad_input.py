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
case runs in a savepoint rolled back after it."""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings
from django.db import transaction
from django.urls import resolve

from tests.input.support import (
    HTMLForm,
    audit_high_water,
    db_fingerprint,
    fingerprint_diff,
    get_form_names,
    names_field,
    only_failure_audits_since,
    post_forms,
    refused,
    response_forms,
)
from tests.permissions.matrix import ACTORS, Row
from tests.permissions.test_matrix import ROWS, build_path, world  # noqa: F401 - world is the shared fixture

PREFERRED_ACTORS = ("uk_staff", "uk_approver", "us_approver", "us_staff", "admin", "partner_viewer",
                    "other_partner_viewer", "anonymous")
SUCCESS = {200, 201, 202, 204, 302}

# --- The bad values ------------------------------------------------------------------------------------------

MEGABYTE = "x" * (1024 * 1024)


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


@dataclass(frozen=True)
class Bad:
    label: str
    value: Any
    must_refuse: bool  # True: this field may not take it; False: it must only never cause a 5xx or a partial save


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


def _materialise(bad: Bad) -> Any:
    if bad.value == "NESTED":
        return nested(settings.JSON_MAX_DEPTH + 8)
    if bad.value == "NESTED_TEXT":
        return json.dumps({"a": nested(settings.JSON_MAX_DEPTH + 8)})
    return bad.value


# --- Running the cases of one endpoint -------------------------------------------------------------------------

class Outcome:
    """Failures of one endpoint's cases. Every case is rolled back, so the database before each of them is the
    same: its fingerprint is taken once."""

    def __init__(self) -> None:
        self.failures: list[str] = []
        self.cases = 0
        self.before = db_fingerprint()
        self.audit_high_water = audit_high_water()


def _send_checked(outcome: Outcome, where: str, send: Any) -> Any:
    """Send in a savepoint rolled back after; a 5xx or a refusal that saved something is a failure. Returns the
    response (None after a 5xx), with ``changed`` set."""
    outcome.cases += 1
    savepoint = transaction.savepoint()
    try:
        try:
            response = send()
        except Exception as exc:  # noqa: BLE001 - the test client re-raises a view's exception: that is a 500
            outcome.failures.append(f"{where}: 500 ({type(exc).__name__}: {str(exc)[:200]})")
            return None
        if response.status_code >= 500:
            outcome.failures.append(f"{where}: {response.status_code}")
            return None
        if refused(response):
            changed = fingerprint_diff(outcome.before, db_fingerprint())
            if changed and all(c.startswith("portal_auditevent:") for c in changed) and only_failure_audits_since(
                    outcome.audit_high_water):
                changed = []  # a refused sign-in is audited on purpose
            if changed:
                outcome.failures.append(f"{where}: refused ({response.status_code}) but saved: {changed}")
        return response
    finally:
        transaction.savepoint_rollback(savepoint)


def _naming_required(response: Any) -> bool:
    # A validation refusal names the field; 403/404/409/413... refuse for other reasons.
    return response.status_code in (200, 400)


def check_fields(outcome: Outcome, where: str, fields: dict[str, list[Bad]], base: dict[str, Any],
                 send_body: Any, labels: dict[str, tuple[str, ...]] | None = None) -> None:
    """Every (field, bad value) of ``fields`` on top of the valid ``base`` body. Values a field must refuse are sent
    together, one request per kind of value with every field that must refuse it set to it (a validation error
    names every field at fault); a field the answer does not name is then tried alone. The other values (which only
    must not cause a 5xx or a partial save) go one field at a time."""
    labels = labels or {}
    groups: dict[str, dict[str, Bad]] = {}
    single: list[tuple[str, Bad]] = []
    for name, bads in fields.items():
        for bad in bads:
            if bad.must_refuse:
                groups.setdefault(bad.label, {})[name] = bad
            else:
                single.append((name, bad))
    alone: list[tuple[str, Bad]] = []
    chunks: list[tuple[str, dict[str, Bad]]] = []
    for label, group in groups.items():  # at most ~3 MB of values per request (DATA_UPLOAD_MAX_MEMORY_SIZE)
        chunk: dict[str, Bad] = {}
        for name, bad in group.items():
            if chunk and isinstance(bad.value, str) and len(bad.value) * (len(chunk) + 1) > 3 * 1024 * 1024:
                chunks.append((label, chunk))
                chunk = {}
            chunk[name] = bad
        chunks.append((label, chunk))
    for label, group in chunks:
        if len(group) == 1:
            alone.extend(group.items())
            continue
        body = {**base, **{name: _materialise(bad) for name, bad in group.items()}}
        response = _send_checked(outcome, f"{where} {sorted(group)}={label}", lambda body=body: send_body(body))
        if response is None:
            alone.extend(group.items())  # find which field makes the 5xx
            continue
        if not refused(response):
            alone.extend(group.items())
            continue
        alone.extend((name, bad) for name, bad in group.items()
                     if _naming_required(response) and not names_field(response, name, labels.get(name, ())))
    for name, bad in alone + single:
        body = {**base, name: _materialise(bad)}
        case = f"{where} {name}={bad.label}"
        response = _send_checked(outcome, case, lambda body=body: send_body(body))
        if response is None or not bad.must_refuse:
            continue
        if not refused(response):
            outcome.failures.append(f"{case}: accepted ({response.status_code})")
        elif _naming_required(response) and not names_field(response, name, labels.get(name, ())):
            outcome.failures.append(f"{case}: refused ({response.status_code}) without naming the field: "
                                    f"{response.content[:300]!r}")


def _use_actor(client: Any, cookies: dict[str, str], actor: str) -> None:
    client.cookies.clear()
    if actor != "anonymous":
        client.cookies[settings.SESSION_COOKIE_NAME] = cookies[actor]


def _actor_for(row: Row, statuses: set[int] = SUCCESS) -> str | None:
    for actor in PREFERRED_ACTORS:
        expected = row.expect[actor]
        values = expected if isinstance(expected, tuple) else (expected,)
        if any(v in statuses for v in values):
            return actor
    return None


# --- The API, from its schema ----------------------------------------------------------------------------------

def _schema() -> dict[str, Any]:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)  # type: ignore[no-any-return]


def _normalise_route(route: str) -> str:
    path = re.sub(r"\(\?P<\w+>[^)]*\)", "{}", route)
    path = re.sub(r"<(?:\w+:)?\w+>", "{}", path)
    return "/" + path.replace("^", "").replace("$", "").replace("\\.", ".")


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].split("/")[-1]]
    if "allOf" in node and len(node["allOf"]) == 1:
        return _resolve(schema, node["allOf"][0])
    return node


def _json_type(schema: dict[str, Any], node: dict[str, Any]) -> str:
    node = _resolve(schema, node)
    if "enum" in node:
        return "string"
    kind = node.get("type")
    if kind in JSON_BY_TYPE:
        return str(kind)
    if "oneOf" in node or "anyOf" in node:
        return "any"
    return "any"


@dataclass
class ApiOperation:
    method: str
    template: str
    content_type: str
    properties: dict[str, dict[str, Any]]

    @property
    def id(self) -> str:
        return f"{self.method} {self.template} ({self.content_type.split('/')[-1]})"


def api_operations() -> list[ApiOperation]:
    schema = _schema()
    found = []
    for template, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method not in ("post", "put", "patch"):
                continue
            content = operation.get("requestBody", {}).get("content", {})
            body = {"application/json": {}, "multipart/form-data": {}}
            for content_type in body:
                if content_type in content:
                    body[content_type] = _resolve(schema, content[content_type]["schema"]).get("properties", {})
            properties = body["application/json"] or body["multipart/form-data"]
            properties = {name: {**_resolve(schema, node), "_type": _json_type(schema, node)}
                          for name, node in properties.items() if not _resolve(schema, node).get("readOnly")}
            has_file = any(node.get("format") == "binary" for node in properties.values())
            if "application/json" in content or not content:
                found.append(ApiOperation(method.upper(), template, "application/json", properties))
            if "multipart/form-data" in content and (has_file or "application/json" not in content):
                found.append(ApiOperation(method.upper(), template, "multipart/form-data", properties))
    return found


API_OPERATIONS = [op for op in api_operations() if op.properties]  # writes that take no body have no field

# Valid bodies to start from, so that a bad value in one field is the request's only fault (otherwise {} or the
# matrix row's body). Keys: (method, schema path).
VALID_API_BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/v1/models/"): lambda ctx: {"exercises": [ctx.exercise.pk], "name": "Bad input model",
                                              "model": "mockllm/model", "config": {}},
    ("POST", "/api/v1/tasks/"): lambda ctx: {"exercises": [ctx.exercise.pk], "name": "Bad input task",
                                             "registry_name": "arithmetic", "args": {}},
    ("POST", "/api/v1/runs/"): lambda ctx: {"exercise": ctx.exercise.pk, "name": "Bad input run",
                                            "models": [ctx.model.pk], "tasks": [ctx.task.pk]},
    ("POST", "/api/v1/exercises/"): lambda ctx: {"name": "Bad input exercise",
                                                 "institutes": [ctx.uk.pk, ctx.us.pk], "partners": []},
    ("POST", "/api/v1/organisations/"): lambda ctx: {"name": "Bad input org", "kind": "partner",
                                                     "country_code": "DE"},
    ("POST", "/api/v1/tokens/"): lambda ctx: {"name": "Bad input", "scope": "read"},
}


def _api_row(operation: ApiOperation) -> tuple[Row, str]:
    matching = [row for row in ROWS if _normalise_route(row.route) == re.sub(r"\{[^}]+\}", "{}", operation.template)]
    same_method = [row for row in matching if row.method == operation.method]
    writes = [row for row in matching if row.method in ("POST", "PUT", "PATCH")]  # PUT is PATCH's twin
    for candidates, statuses in ((same_method, SUCCESS), (same_method, SUCCESS | {400}),
                                 (writes, SUCCESS), (writes, SUCCESS | {400}), (matching, SUCCESS)):
        for row in candidates:
            actor = _actor_for(row, statuses)
            if actor is not None:
                return row, actor
    raise AssertionError(f"{operation.id}: no permission-matrix row says who may call it")


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
def test_api_field_refuses_bad_values_without_5xx_or_partial_save(world: Any, operation: ApiOperation) -> None:  # noqa: F811
    ctx, cookies, client = world
    row, actor = _api_row(operation)
    kwargs = row.kwargs(ctx)
    path = build_path(row.route, kwargs)
    if (operation.method, operation.template) in VALID_API_BODIES:
        base = VALID_API_BODIES[(operation.method, operation.template)](ctx)
    else:
        base = row.data(ctx) if row.data and row.method == operation.method else {}
    _use_actor(client, cookies, actor)
    outcome = Outcome()
    where = f"{operation.id} as {actor}"

    def sender(body: dict[str, Any]) -> Any:
        if operation.content_type == "application/json":
            return lambda: client.generic(operation.method, path, json.dumps(body), content_type="application/json",
                                          HTTP_ACCEPT="application/json")
        return lambda: client.generic(operation.method, path, *_multipart(client, body),
                                      HTTP_ACCEPT="application/json")

    def send_body(body: dict[str, Any]) -> Any:
        return sender(body)()

    fields = {name: _bad_values_for(node, operation.content_type) for name, node in operation.properties.items()}
    check_fields(outcome, where, fields, base, send_body)
    # The whole body: nested past Python's recursion limit, and a body that is not JSON.
    if operation.content_type == "application/json":
        for label, raw in (("body nested 100,000 deep", "[" * 100_000 + "]" * 100_000), ("not JSON", "{'a': 1")):
            response = _send_checked(outcome, f"{where} (body)={label}", lambda raw=raw: client.generic(
                operation.method, path, raw, content_type="application/json", HTTP_ACCEPT="application/json"))
            if response is not None and (response.status_code != 400 or "body" not in response.json()["detail"]):
                outcome.failures.append(f"{where} (body)={label}: {response.status_code} {response.content[:200]!r}")
    assert outcome.cases
    assert not outcome.failures, f"{len(outcome.failures)} of {outcome.cases} cases failed:\n" + "\n".join(
        outcome.failures)


def _multipart(client: Any, body: dict[str, Any]) -> tuple[bytes, str]:
    from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

    def part(value: Any) -> Any:
        if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
            return [str(v) for v in value]  # repeated parts, as a browser sends a multiple choice
        if isinstance(value, dict | list):
            return json.dumps(value)
        return "" if value is None else value

    flat = {k: part(v) for k, v in body.items()}
    return encode_multipart(BOUNDARY, flat), MULTIPART_CONTENT


# --- The pages, from the forms they render ---------------------------------------------------------------------

def _page_rows() -> list[Row]:
    """One GET row per page route (not the API, not Django's admin), with an actor who may see it; every row of a
    route that takes an action (each action's confirmation page has its own form)."""
    seen: set[str] = set()
    rows = []
    for row in ROWS:
        if row.method != "GET" or row.route.startswith(("api/", "django-admin/")):
            continue
        if (row.route in seen and "<str:action>" not in row.route) or _actor_for(row, {200}) is None:
            continue
        seen.add(row.route)
        rows.append(row)
    return rows


PAGE_ROWS = _page_rows()

# Valid values to start from on pages whose rendered form starts empty (keys: route), merged over what the page
# renders, so that the bad value is the request's only fault.
VALID_FORMS: dict[str, Any] = {
    "models/new/": lambda ctx: {"name": "Bad input model", "exercises": [str(ctx.exercise.pk)],
                                "provider_model": "mockllm/model", "max_connections": "4"},
    "tasks/new/catalogue/": lambda ctx: {"name": "Bad input task", "exercises": [str(ctx.exercise.pk)],
                                         "registry_name": "arithmetic"},
    "tasks/new/dataset/": lambda ctx: {"name": "Bad input task", "exercises": [str(ctx.exercise.pk)],
                                       "solver": "generate", "scorer": "includes"},
    "runs/new/": lambda ctx: {"exercise": str(ctx.exercise.pk), "model_versions": [str(ctx.model.current_version.pk)],
                              "task_versions": [str(ctx.task.current_version.pk)], "epochs": "1",
                              "schedule": "now"},
    "exercises/new/": lambda ctx: {"name": "Bad input exercise", "institutes": [str(ctx.uk.pk), str(ctx.us.pk)],
                                   "status": "planning"},
    "manage/organisations/": lambda ctx: {"name": "Bad input org", "kind": "partner", "country_code": "DE"},
    "manage/invitations/": lambda ctx: {"email": "bad.input@example.org", "organisation": str(ctx.partner.pk),
                                        "role": "partner_viewer"},
    "profile/": lambda ctx: {"name": "Bad input", "scope": "read", "days": "30"},
    "models/<int:pk>/credential/": lambda ctx: {"api_key": "sk-bad-input-0123456789"},
}
# allauth's own pages (sign-in, e-mail, password, MFA): its forms are the library's, and some refuse on purpose
# without saying which field was wrong (a failed sign-in). There a bad value must only never cause a 5xx or a
# partial save, but a NUL or another control character is still refused naming the field (portal/middleware.py).
THIRD_PARTY_PAGES = ("accounts/",)


def field_kind(field: Any) -> str:
    """The kind of bad values a form field is given (TEXT_BY_KIND), from its class."""
    from django import forms

    if field is None:
        return "other"
    # (FloatField and DecimalField are IntegerFields in Django: they come first.)
    for cls, kind in ((forms.BooleanField, "boolean"), (forms.FileField, "file"), (forms.ChoiceField, "choice"),
                      (forms.ModelChoiceField, "choice"), (forms.FloatField, "number"), (forms.DecimalField, "number"),
                      (forms.IntegerField, "integer"), (forms.DateField, "date"), (forms.DateTimeField, "date")):
        if isinstance(field, cls):
            return kind
    return "text"


@dataclass
class RenderedPage:
    path: str
    actor: str
    status: int
    html: str  # "" when not an HTML page
    fields: dict[str, Any]  # name -> form field, of every form in the page's context
    form_classes: set[type]


_RENDERED: dict[int, RenderedPage] = {}


def rendered(client: Any, cookies: dict[str, str], ctx: Any, row: Row) -> RenderedPage:
    """The page of a GET row as an actor who may see it, rendered once for the whole module."""
    if id(row) not in _RENDERED:
        actor = _actor_for(row, {200})
        assert actor is not None
        path = build_path(row.route, row.kwargs(ctx)) + ("?" + row.query(ctx) if row.query else "")
        _use_actor(client, cookies, actor)
        savepoint = transaction.savepoint()
        try:
            page = client.get(path)
        finally:
            transaction.savepoint_rollback(savepoint)
        html = page.content.decode() if page.get("Content-Type", "").startswith("text/html") else ""
        forms = response_forms(page)
        fields = {name: field for form in reversed(forms) for name, field in form.fields.items()}
        _RENDERED[id(row)] = RenderedPage(path, actor, page.status_code, html, fields, {type(f) for f in forms})
    return _RENDERED[id(row)]


@pytest.mark.django_db
@pytest.mark.parametrize("row", PAGE_ROWS, ids=[f"{row.route or '(home)'} #{i}" for i, row in enumerate(PAGE_ROWS)])
def test_page_form_refuses_bad_values_without_5xx_or_partial_save(world: Any, row: Row) -> None:  # noqa: F811
    ctx, cookies, client = world
    page = rendered(client, cookies, ctx, row)
    path, actor = page.path, page.actor
    assert page.status == 200, f"GET {path} as {actor}: {page.status}"
    if not page.html:
        return
    _use_actor(client, cookies, actor)
    outcome = Outcome()
    for index, form in enumerate(post_forms(page.html, path.split("?")[0])):
        target = form.action.split("?")[0] or path.split("?")[0]
        key = (target, tuple(sorted(form.names)))
        if not form.names or key in _CHECKED_FORMS or target.startswith("/accounts/logout"):
            continue  # a bare button, a form already checked from another page, or the header's sign-out
        _CHECKED_FORMS.add(key)
        _check_page_form(client, ctx, outcome, row, path, target, actor, form, index, page)
    assert not outcome.failures, f"{len(outcome.failures)} of {outcome.cases} cases failed:\n" + "\n".join(
        outcome.failures)


_CHECKED_FORMS: set[tuple[str, tuple[str, ...]]] = set()


def _check_page_form(client: Any, ctx: Any, outcome: Outcome, row: Row, path: str, target: str, actor: str,
                     form: HTMLForm, index: int, page: RenderedPage) -> None:
    base: dict[str, Any] = {name: (values if len(values) > 1 else values[0]) for name, values in form.fields.items()}
    base.pop("csrfmiddlewaretoken", None)
    if row.route in VALID_FORMS:
        base.update(VALID_FORMS[row.route](ctx))
    where = f"POST {target} (form {index + 1} of {path}) as {actor}"
    allowed = getattr(resolve(target).func, "control_characters_allowed", ())
    fields: dict[str, list[Bad]] = {}
    labels: dict[str, tuple[str, ...]] = {}
    for name in form.names:
        if name == "csrfmiddlewaretoken":
            continue
        field = page.fields.get(name)
        kind = "file" if name in form.files else field_kind(field)
        bads = TEXT_BY_KIND[kind]
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in allowed):  # portal.middleware.control_characters_allowed
            bads = [Bad(b.label, b.value, False) if b is CONTROL else b for b in bads]
        if row.route.startswith(THIRD_PARTY_PAGES):
            bads = [b if b.label in ("NUL", "control character") else Bad(b.label, b.value, False) for b in bads]
        fields[name] = bads
        labels[name] = (str(field.label),) if field is not None and field.label else ()
    multiple = {name for name, value in base.items() if isinstance(value, list)}

    def send_body(body: dict[str, Any]) -> Any:
        data = {k: ([v] if k in multiple and not isinstance(v, list) else v) for k, v in body.items()}
        return client.post(target, data=data)

    check_fields(outcome, where, fields, base, send_body, labels)


# --- Query parameters ------------------------------------------------------------------------------------------

def _query_rows() -> list[Row]:
    seen: set[str] = set()
    rows = []
    for row in ROWS:
        if row.method != "GET" or row.route.startswith("django-admin/") or row.route in seen:
            continue
        if _actor_for(row, {200}) is None:
            continue
        seen.add(row.route)
        rows.append(row)
    return rows


QUERY_ROWS = _query_rows()


def _declared_query_parameters() -> dict[str, list[str]]:
    schema = _schema()
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
    actor = _actor_for(row, {200})
    assert actor is not None
    base_path = build_path(row.route, row.kwargs(ctx))
    base_query = row.query(ctx) if row.query else ""
    _use_actor(client, cookies, actor)
    headers = {"HTTP_ACCEPT": "application/json"} if base_path.startswith("/api/") else {}
    names = list(DECLARED_QUERY.get(_normalise_route(row.route), []))
    if not base_path.startswith("/api/"):
        names += get_form_names(rendered(client, cookies, ctx, row).html)
        _use_actor(client, cookies, actor)
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
