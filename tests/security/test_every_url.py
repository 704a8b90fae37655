"""The abuse suite over every URL the resolver knows (issue 14; the permission matrix's rows and its world, built
once for the module): CSRF on every write, clickjacking and open redirects through ``next`` on every page, and a
partner organisation invited to nothing probing everything. The sign-in itself: test_sign_in_attacks.py."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client

from tests.permissions.matrix import Row
from tests.permissions.test_matrix import ROWS, build_path, world  # noqa: F401 - world is the shared fixture
from tests.security.test_sign_in_attacks import _stays_here

SUCCESS = {200, 201, 202, 204, 302}
PREFERRED = ("uk_staff", "uk_approver", "us_approver", "us_staff", "admin", "partner_viewer", "other_partner_viewer")


def _actor_for(row: Row, statuses: set[int]) -> str | None:
    for actor in PREFERRED:
        expected = row.expect[actor]
        if any(v in statuses for v in (expected if isinstance(expected, tuple) else (expected,))):
            return actor
    return None


def _path(row: Row, ctx: Any) -> str:
    return build_path(row.route, row.kwargs(ctx)) + ("?" + row.query(ctx) if row.query else "")


# --- CSRF ------------------------------------------------------------------------------------------------------

POST_ROWS = [row for row in ROWS if row.method in ("POST", "PUT", "PATCH", "DELETE")
             and not row.route.startswith("django-admin/") and _actor_for(row, SUCCESS | {400}) is not None]


@pytest.mark.django_db
@pytest.mark.parametrize("row", POST_ROWS, ids=[row.id for row in POST_ROWS])
def test_a_write_without_the_csrf_token_is_refused_and_saves_nothing(world: Any, row: Row) -> None:  # noqa: F811
    """Every write the resolver knows, from a signed-in browser session without the CSRF token: 403, nothing
    saved (pages and the API alike: the API takes a session only with CSRF)."""
    from tests.input.support import db_fingerprint, fingerprint_diff

    ctx, cookies, _client = world
    actor = _actor_for(row, SUCCESS | {400})
    client = Client(enforce_csrf_checks=True)
    client.cookies[settings.SESSION_COOKIE_NAME] = cookies[actor]
    path = _path(row, ctx)
    data = row.data(ctx) if row.data else {}
    before = db_fingerprint()
    savepoint = transaction.savepoint()
    try:
        if path.startswith("/api/") and not row.multipart:
            response = client.generic(row.method, path, json.dumps(data), content_type="application/json",
                                      HTTP_ACCEPT="application/json")
        else:
            response = client.generic(row.method, path, urlencode(data or {}, doseq=True),
                                      content_type="application/x-www-form-urlencoded")
        changed = fingerprint_diff(before, db_fingerprint())
    finally:
        transaction.savepoint_rollback(savepoint)
    assert response.status_code == 403, f"{row.id} as {actor}: {response.status_code} {response.content[:300]!r}"
    assert b"CSRF" in response.content or b"csrf" in response.content.lower()
    assert not changed, f"{row.id}: refused but saved {changed}"


# --- Clickjacking ----------------------------------------------------------------------------------------------

GET_ROWS = [row for row in ROWS if row.method == "GET" and _actor_for(row, {200}) is not None]
FRAMED_BY_THE_PORTAL = {"run-item-viewer-file"}  # Inspect's viewer, inside the portal's viewer page: 'self' only
AWAY = {"next": "https://evil.example/steal", "return_to": "//evil.example/steal", "redirect": "/\\evil.example/steal"}


@pytest.mark.django_db
@pytest.mark.parametrize("row", GET_ROWS, ids=[row.id for row in GET_ROWS])
def test_no_page_can_be_framed_or_redirects_off_the_portal_given_a_next(world: Any, row: Row) -> None:  # noqa: F811
    """Every page and API read (whatever it answers: 200, a refusal, a redirect to sign in) refuses to be framed by
    another site (CSP frame-ancestors and X-Frame-Options), and, given ``next=`` (and the other names a redirect
    target goes by) pointing away, never redirects off the portal: as the actor who may see it, and anonymously."""
    from django.urls import resolve

    ctx, cookies, client = world
    path = build_path(row.route, row.kwargs(ctx))
    query = "&".join(q for q in (row.query(ctx) if row.query else "", urlencode(AWAY)) if q)
    failures = []
    for actor in (_actor_for(row, {200}), "anonymous"):
        client.cookies.clear()
        if actor != "anonymous":
            client.cookies[settings.SESSION_COOKIE_NAME] = cookies[actor]
        savepoint = transaction.savepoint()
        try:
            response = client.get(f"{path}?{query}")
        finally:
            transaction.savepoint_rollback(savepoint)
        csp = response.get("Content-Security-Policy", "")
        ancestors = next((d.strip() for d in csp.split(";") if d.strip().startswith("frame-ancestors")), "")
        framed_here = resolve(path).url_name in FRAMED_BY_THE_PORTAL and response.status_code == 200
        wanted = ((("frame-ancestors 'self'", "frame-ancestors 'none'"), ("SAMEORIGIN", "DENY")) if framed_here
                  else (("frame-ancestors 'none'",), ("DENY",)))
        if ancestors not in wanted[0] or response.get("X-Frame-Options") not in wanted[1]:
            failures.append(f"{actor}: {response.status_code} framing {ancestors!r} / {response.get('X-Frame-Options')}")
        if not _stays_here(response):
            failures.append(f"{actor}: {response.status_code} -> {response['Location']}")
    assert not failures, f"GET {path}:\n" + "\n".join(failures)


# --- A partner invited to nothing -------------------------------------------------------------------------------
# A second partner organisation, invited to nothing, probes EVERY URL the resolver knows (pages and API, with the ids
# of real objects: the matrix's world, which every area extends with its runs, samples, findings, releases...) and
# finds nothing: a 404, a refusal, or its own empty pages, never another organisation's data. Canaries: the names,
# titles, e-mail addresses and texts of every other organisation's objects, read from the database.

PROBER = "other_partner_viewer"
ALLOWED = {200, 201, 204, 302, 400, 401, 403, 404, 405, 406, 409}  # 201: its own read-only API token


def _canaries(ctx: Any) -> dict[str, str]:
    """Distinctive strings of every other organisation's objects -> where they come from."""
    from django.apps import apps

    own_org = ctx.other_partner
    found: dict[str, str] = {}

    def add(value: Any, where: str) -> None:
        text = str(value or "").strip()
        if len(text) >= 8:  # short words ("Mock", "staff") would match the page furniture
            found.setdefault(text, where)

    for org in apps.get_model("accounts", "Organisation").objects.exclude(pk=own_org.pk):
        add(org.name, f"organisation {org.pk}")
    for user in apps.get_model("accounts", "User").objects.exclude(organisation=own_org):
        add(user.email, f"user {user.pk}")
    fields = {
        ("evaluations", "Exercise"): ("name", "description"),
        ("evaluations", "RegisteredModel"): ("name", "notes"),
        ("evaluations", "ModelVersion"): ("provider_model", "base_url"),
        ("evaluations", "EvalTask"): ("name", "description"),
        ("evaluations", "Run"): ("name",),
        ("evaluations", "SampleResult"): ("input_text", "output", "target"),
        ("evaluations", "Finding"): ("title", "summary"),
        ("evaluations", "FindingComment"): ("body",),
        ("evaluations", "EvidenceFlag"): ("note",),
    }
    for (app, name), names in fields.items():
        try:
            model = apps.get_model(app, name)
        except LookupError:
            continue
        present = [f for f in names if f in {field.name for field in model._meta.get_fields()}]
        for row in model.objects.values("pk", *present):
            for field_name in present:
                add(row[field_name], f"{name}.{field_name} of {row['pk']}")
    for token in apps.get_model("accounts", "ApiToken").objects.exclude(user__organisation=own_org):
        add(getattr(token, "prefix", ""), f"ApiToken {token.pk}")
    add(getattr(ctx, "invitation_token", ""), "the pending invitation's token")
    return found


def _request(client: Any, row: Row, ctx: Any) -> Any:
    path = build_path(row.route, row.kwargs(ctx)) + ("?" + row.query(ctx) if row.query else "")
    data = row.data(ctx) if row.data else None
    method = row.method.lower()
    if path.startswith("/api/") and not row.multipart:
        if method == "get":
            return client.get(path, HTTP_ACCEPT="application/json")
        return client.generic(row.method, path, json.dumps(data) if data is not None else "",
                              content_type="application/json", HTTP_ACCEPT="application/json")
    if method == "get":
        return client.get(path)
    return getattr(client, method)(path, data=data or {})


def _body(response: Any) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


@pytest.mark.django_db
def test_a_partner_invited_to_nothing_finds_nothing_anywhere(world: Any) -> None:  # noqa: F811
    ctx, cookies, client = world
    canaries = _canaries(ctx)
    # The API schema is documentation for everyone: its examples (a model string, a built-in task's name) come
    # from the code, not from another organisation's data.
    client.cookies.clear()
    client.cookies[settings.SESSION_COOKIE_NAME] = cookies[PROBER]
    documentation = _body(client.get("/api/schema/"))
    canaries = {text: where for text, where in canaries.items() if text not in documentation}
    assert len(canaries) > 20, canaries  # the world holds other organisations' objects to find
    assert "Joint Exercise Alpha" in canaries
    failures: list[str] = []
    probed = 0
    for row in ROWS:
        if row.route.startswith("django-admin/"):
            continue  # Django's admin: staff only, checked by the matrix (a partner is sent to sign in)
        client.cookies.clear()
        client.cookies[settings.SESSION_COOKIE_NAME] = cookies[PROBER]
        savepoint = transaction.savepoint()
        try:
            response = _request(client, row, ctx)
            body = _body(response)
        except Exception as exc:  # noqa: BLE001 - a view's exception is a 500
            failures.append(f"{row.id}: {type(exc).__name__}: {exc}")
            continue
        finally:
            transaction.savepoint_rollback(savepoint)
        probed += 1
        status = response.status_code
        if status not in ALLOWED:
            failures.append(f"{row.id}: {status}")
        if row.method != "GET" and status in (200, 201, 202) and not row.route.startswith(("profile", "api/v1/tokens",
                                                                                             "api/v1/^tokens")):
            failures.append(f"{row.id}: a write succeeded ({status})")
        if status == 302 and "/accounts/login/" in response.get("Location", ""):
            failures.append(f"{row.id}: signed out? {response['Location']}")
        leaked = [f"{text!r} ({where})" for text, where in canaries.items() if text in body]
        if leaked:
            failures.append(f"{row.id}: {status} shows " + ", ".join(leaked[:5]))
    assert probed > 100
    assert not failures, f"{len(failures)} of {probed} URLs:\n" + "\n".join(failures)


@pytest.mark.django_db
def test_the_probing_partner_sees_its_own_empty_pages(world: Any) -> None:  # noqa: F811
    ctx, cookies, client = world
    client.cookies.clear()
    client.cookies[settings.SESSION_COOKIE_NAME] = cookies[PROBER]
    for path in ("/", "/findings/", "/api/v1/findings/", "/api/v1/exercises/"):
        response = client.get(path, HTTP_ACCEPT="application/json" if path.startswith("/api/") else "text/html")
        assert response.status_code == 200, path
        if path.startswith("/api/"):
            body = response.json()
            assert body.get("count", len(body.get("results", []))) == 0, (path, body)
    assert client.get("/api/v1/me/").json()["organisation"]["name"] == "Partner Institute JP"
