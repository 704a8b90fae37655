"""The one sender of bad and hostile input, shared by the bad-value table (tests/input/test_bad_input.py) and the
hostile corpus (tests/security/test_hostile_input.py): what the portal accepts, found from its OpenAPI schema (every
API write and its fields) and from the POST forms its pages render (every page the permission matrix reaches), the
actor who may send each, a valid body to start from, and the checked send itself (in a savepoint rolled back after:
never a 5xx, a refusal saves nothing, a value a field must refuse is refused naming the field).

A suite builds its values (``Bad``) per field and hands them to ``check_fields`` with a target's ``send_body``:
``api_target`` for an API operation, ``page_form_targets`` for the forms of a page. ``CASES`` counts the requests
each suite sent (``Outcome(suite=...)``); each suite asserts its count does not drop (``assert_case_count``)."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings
from django.db import transaction

from tests.input.support import (
    HTMLForm,
    audit_high_water,
    db_fingerprint,
    fingerprint_diff,
    names_field,
    only_failure_audits_since,
    post_forms,
    refused,
    response_forms,
)
from tests.permissions.matrix import Row
from tests.permissions.test_matrix import ROWS, build_path

PREFERRED_ACTORS = ("uk_staff", "uk_approver", "us_approver", "us_staff", "admin", "partner_viewer",
                    "other_partner_viewer", "anonymous")
SUCCESS = {200, 201, 202, 204, 302}


# --- Values ----------------------------------------------------------------------------------------------------

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


def materialise(bad: Bad) -> Any:
    """The value to send: "NESTED" and "NESTED_TEXT" stand for nesting past the JSON_MAX_DEPTH setting."""
    if bad.value == "NESTED":
        return nested(settings.JSON_MAX_DEPTH + 8)
    if bad.value == "NESTED_TEXT":
        return json.dumps({"a": nested(settings.JSON_MAX_DEPTH + 8)})
    return bad.value


# --- Sending, checked ------------------------------------------------------------------------------------------

CASES: Counter[str] = Counter()  # requests sent, by suite, in this process


class Outcome:
    """Failures of one endpoint's cases. Every case is rolled back, so the database before each of them is the
    same: its fingerprint is taken once."""

    def __init__(self, suite: str) -> None:
        self.suite = suite
        self.failures: list[str] = []
        self.cases = 0
        self.before = db_fingerprint()
        self.audit_high_water = audit_high_water()

    def assert_clean(self) -> None:
        assert not self.failures, f"{len(self.failures)} of {self.cases} cases failed:\n" + "\n".join(self.failures)


def send_checked(outcome: Outcome, where: str, send: Callable[[], Any]) -> Any:
    """Send in a savepoint rolled back after; a 5xx or a refusal that saved something is a failure. Returns the
    response (None after a 5xx)."""
    outcome.cases += 1
    CASES[outcome.suite] += 1
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
                 send_body: Callable[[dict[str, Any]], Any], labels: dict[str, tuple[str, ...]] | None = None) -> None:
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
        body = {**base, **{name: materialise(bad) for name, bad in group.items()}}
        response = send_checked(outcome, f"{where} {sorted(group)}={label}", lambda body=body: send_body(body))
        if response is None:
            alone.extend(group.items())  # find which field makes the 5xx
            continue
        if not refused(response):
            alone.extend(group.items())
            continue
        alone.extend((name, bad) for name, bad in group.items()
                     if _naming_required(response) and not names_field(response, name, labels.get(name, ())))
    for name, bad in alone + single:
        body = {**base, name: materialise(bad)}
        case = f"{where} {name}={bad.label}"
        response = send_checked(outcome, case, lambda body=body: send_body(body))
        if response is None or not bad.must_refuse:
            continue
        if not refused(response):
            outcome.failures.append(f"{case}: accepted ({response.status_code})")
        elif _naming_required(response) and not names_field(response, name, labels.get(name, ())):
            outcome.failures.append(f"{case}: refused ({response.status_code}) without naming the field: "
                                    f"{response.content[:300]!r}")


def send_all_at_once(outcome: Outcome, where: str, fields: dict[str, list[Bad]], base: dict[str, Any],
                     send_body: Callable[[dict[str, Any]], Any]) -> None:
    """The values no field must refuse, one request per kind of value with every field set to it: no 5xx, nothing
    saved when refused (``send_checked``)."""
    by_label: dict[str, dict[str, Any]] = {}
    for name, bads in fields.items():
        for bad in bads:
            if not bad.must_refuse:
                by_label.setdefault(bad.label, {})[name] = materialise(bad)
    for label, values in by_label.items():
        body = {**base, **values}
        send_checked(outcome, f"{where} {sorted(values)}={label}", lambda body=body: send_body(body))


def assert_case_count(suite: str, floor: int, tests_ran: int, tests_in_suite: int) -> None:
    """The suite sent at least ``floor`` requests (its count before the senders were merged), checked when the
    whole suite ran in this process (not split between xdist workers, not selected with -k)."""
    print(f"{suite}: {CASES[suite]} cases sent by {tests_ran} of {tests_in_suite} tests")
    if tests_ran < tests_in_suite:
        pytest.skip(f"{suite}: {CASES[suite]} cases from {tests_ran} of {tests_in_suite} tests (not all ran here)")
    assert CASES[suite] >= floor, f"{suite}: {CASES[suite]} cases, fewer than the {floor} it had"


# --- Actors ----------------------------------------------------------------------------------------------------

def use_actor(client: Any, cookies: dict[str, str], actor: str) -> None:
    client.cookies.clear()
    if actor != "anonymous":
        client.cookies[settings.SESSION_COOKIE_NAME] = cookies[actor]


def actor_for(row: Row, statuses: set[int] = SUCCESS) -> str | None:
    for actor in PREFERRED_ACTORS:
        expected = row.expect[actor]
        values = expected if isinstance(expected, tuple) else (expected,)
        if any(v in statuses for v in values):
            return actor
    return None


# --- The API, from its schema ----------------------------------------------------------------------------------

JSON_TYPES = ("string", "integer", "number", "boolean", "array", "object")


def api_schema() -> dict[str, Any]:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)  # type: ignore[no-any-return]


def normalise_route(route: str) -> str:
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
    if kind in JSON_TYPES:
        return str(kind)
    return "any"  # oneOf, anyOf, or no type


@dataclass
class ApiOperation:
    method: str
    template: str
    content_type: str
    properties: dict[str, dict[str, Any]]  # each with "_type": its JSON type (or "any")

    @property
    def id(self) -> str:
        return f"{self.method} {self.template} ({self.content_type.split('/')[-1]})"


def api_operations() -> list[ApiOperation]:
    schema = api_schema()
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


def api_row(operation: ApiOperation) -> tuple[Row, str]:
    """The permission-matrix row of an operation and an actor it says may call it."""
    matching = [row for row in ROWS if normalise_route(row.route) == re.sub(r"\{[^}]+\}", "{}", operation.template)]
    same_method = [row for row in matching if row.method == operation.method]
    writes = [row for row in matching if row.method in ("POST", "PUT", "PATCH")]  # PUT is PATCH's twin
    for candidates, statuses in ((same_method, SUCCESS), (same_method, SUCCESS | {400}),
                                 (writes, SUCCESS), (writes, SUCCESS | {400}), (matching, SUCCESS)):
        for row in candidates:
            actor = actor_for(row, statuses)
            if actor is not None:
                return row, actor
    raise AssertionError(f"{operation.id}: no permission-matrix row says who may call it")


def multipart(body: dict[str, Any]) -> tuple[bytes, str]:
    from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

    def part(value: Any) -> Any:
        if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
            return [str(v) for v in value]  # repeated parts, as a browser sends a multiple choice
        if isinstance(value, dict | list):
            return json.dumps(value)
        return "" if value is None else value

    flat = {k: part(v) for k, v in body.items()}
    return encode_multipart(BOUNDARY, flat), MULTIPART_CONTENT


@dataclass
class ApiTarget:
    operation: ApiOperation
    where: str
    actor: str
    path: str
    base: dict[str, Any]
    send_body: Callable[[dict[str, Any]], Any]  # the body, JSON or multipart as the operation takes it
    send_raw: Callable[[str], Any]  # a raw JSON body


def api_target(world: Any, operation: ApiOperation) -> ApiTarget:
    """The operation's path, an actor who may call it (signed in on the world's client), a valid body, and its
    senders."""
    ctx, cookies, client = world
    row, actor = api_row(operation)
    path = build_path(row.route, row.kwargs(ctx))
    if (operation.method, operation.template) in VALID_API_BODIES:
        base = VALID_API_BODIES[(operation.method, operation.template)](ctx)
    else:
        base = row.data(ctx) if row.data and row.method == operation.method else {}
    use_actor(client, cookies, actor)

    def send_body(body: dict[str, Any]) -> Any:
        if operation.content_type == "application/json":
            return client.generic(operation.method, path, json.dumps(body), content_type="application/json",
                                  HTTP_ACCEPT="application/json")
        return client.generic(operation.method, path, *multipart(body), HTTP_ACCEPT="application/json")

    def send_raw(raw: str) -> Any:
        return client.generic(operation.method, path, raw, content_type="application/json",
                              HTTP_ACCEPT="application/json")

    return ApiTarget(operation, f"{operation.id} as {actor}", actor, path, base, send_body, send_raw)


# --- The pages, from the forms they render ---------------------------------------------------------------------

def _page_rows() -> list[Row]:
    """One GET row per page route (not the API, not Django's admin), with an actor who may see it; every row of a
    route that takes an action (each action's confirmation page has its own form)."""
    seen: set[str] = set()
    rows = []
    for row in ROWS:
        if row.method != "GET" or row.route.startswith(("api/", "django-admin/")):
            continue
        if (row.route in seen and "<str:action>" not in row.route) or actor_for(row, {200}) is None:
            continue
        seen.add(row.route)
        rows.append(row)
    return rows


PAGE_ROWS = _page_rows()
PAGE_IDS = [f"{row.route or '(home)'} #{i}" for i, row in enumerate(PAGE_ROWS)]

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
    """The kind of a form field (by its class): boolean, file, choice, number, integer, date, or text; "other"
    for a control the view reads itself (no form field)."""
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
        actor = actor_for(row, {200})
        assert actor is not None
        path = build_path(row.route, row.kwargs(ctx)) + ("?" + row.query(ctx) if row.query else "")
        use_actor(client, cookies, actor)
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


@dataclass
class FormTarget:
    where: str
    row: Row
    page: RenderedPage
    form: HTMLForm
    target: str  # the path the form posts to
    base: dict[str, Any]  # what the page renders, over it the route's VALID_FORMS values
    send_body: Callable[[dict[str, Any]], Any]  # POST as a browser would (a multiple choice stays a list)


def page_form_targets(world: Any, row: Row, checked: set[tuple[str, tuple[str, ...]]]) -> Iterator[FormTarget]:
    """The POST forms of a GET row's page not yet in ``checked`` (one suite's set: a form reached from several
    pages is checked once), the actor who may see the page signed in on the world's client. The header's sign-out
    and bare buttons (a form with no field) are left out."""
    ctx, cookies, client = world
    page = rendered(client, cookies, ctx, row)
    if page.status != 200 or not page.html:
        return
    path = page.path.split("?")[0]
    use_actor(client, cookies, page.actor)
    for index, form in enumerate(post_forms(page.html, path)):
        target = form.action.split("?")[0] or path
        key = (target, tuple(sorted(form.names)))
        if not form.names or key in checked or target.startswith("/accounts/logout"):
            continue
        checked.add(key)
        base: dict[str, Any] = {n: (v if len(v) > 1 else v[0]) for n, v in form.fields.items()}
        base.pop("csrfmiddlewaretoken", None)
        if row.route in VALID_FORMS:
            base.update(VALID_FORMS[row.route](ctx))
        multiple = {n for n, v in base.items() if isinstance(v, list)}

        def send_body(body: dict[str, Any], target: str = target, multiple: set[str] = multiple) -> Any:
            data = {k: ([v] if k in multiple and not isinstance(v, list) else v) for k, v in body.items()}
            return client.post(target, data=data)

        where = f"POST {target} (form {index + 1} of {page.path}) as {page.actor}"
        yield FormTarget(where, row, page, form, target, base, send_body)
