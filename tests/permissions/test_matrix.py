"""Every URL pattern × every actor answers the status ROLES.md implies. See matrix.py for the row format."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from tests.permissions.matrix import ACTORS, Exempt, MatrixContext, Row
from tests.support.helpers import sign_in


def _collect() -> list[Row | Exempt]:
    rows: list[Row | Exempt] = []
    package = importlib.import_module("tests.permissions")
    for module_info in pkgutil.iter_modules(package.__path__):
        if module_info.name.startswith("rows_"):
            module = importlib.import_module(f"tests.permissions.{module_info.name}")
            rows.extend(module.ROWS)
    return rows


ALL_ROWS = _collect()


def url_patterns() -> list[str]:
    def walk(patterns: list[Any], prefix: str = "") -> list[str]:
        found: list[str] = []
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                found.extend(walk(pattern.url_patterns, prefix + str(pattern.pattern)))
            elif isinstance(pattern, URLPattern):
                found.append(prefix + str(pattern.pattern))
        return found

    return walk(get_resolver().url_patterns)


def build_path(route: str, kwargs: dict[str, Any]) -> str:
    """Turn a resolver route (path converters and/or regex groups) into a concrete path."""

    def sub_converter(match: re.Match[str]) -> str:
        return str(kwargs[match.group(1)])

    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", sub_converter, route)
    path = re.sub(r"<(?:\w+:)?(\w+)>", sub_converter, path)
    path = path.replace("^", "").replace("$", "").replace("\\.", ".")
    return "/" + path


def test_every_url_pattern_has_a_row() -> None:
    covered = {row.route for row in ALL_ROWS}
    missing = [route for route in url_patterns() if route not in covered]
    assert not missing, (
        "URL patterns with no permission-matrix row (add them to tests/permissions/rows_<area>.py; "
        "see tests/permissions/matrix.py):\n  " + "\n  ".join(missing)
    )


def test_no_row_names_a_route_that_does_not_exist() -> None:
    routes = set(url_patterns())
    stale = sorted({row.route for row in ALL_ROWS} - routes)
    assert not stale, f"rows for routes that no longer exist: {stale}"


def request_as(client: Client, row: Row, ctx: MatrixContext) -> int:
    path = build_path(row.route, row.kwargs(ctx))
    if row.query:
        path += "?" + row.query(ctx)
    method = row.method.lower()
    data = row.data(ctx) if row.data else None
    if path.startswith("/api/v1/") and not row.multipart:
        body = json.dumps(data) if data is not None else None
        if method == "get":
            response = client.get(path, HTTP_ACCEPT="application/json")
        else:
            response = getattr(client, method)(path, data=body, content_type="application/json",
                                               HTTP_ACCEPT="application/json")
    elif method == "get":
        response = client.get(path)
    else:
        response = getattr(client, method)(path, data=data or {})  # a multipart form
    return response.status_code


ROWS = [row for row in ALL_ROWS if isinstance(row, Row)]


@pytest.fixture(scope="module")
def world(django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """ONE world for the whole matrix, built inside a transaction rolled back when the module ends: the
    MatrixContext (with every area's extension), and a signed-in (MFA-passed) session cookie per actor. Each
    actor's request then runs in a savepoint rolled back afterwards, so no row changes what another sees."""
    from django.conf import settings
    from django.test import override_settings

    # The sessions are signed in once for the whole module; on a loaded machine the matrix outlasts the
    # 5-minute re-authentication window, and rows of re-authenticated actions would then answer 302/403.
    # Re-authentication itself is tested in tests/runs/test_run_reauth.py and tests/accounts/.
    media = override_settings(MEDIA_ROOT=str(tmp_path_factory.mktemp("matrix-media")),
                              ACCOUNT_REAUTHENTICATION_TIMEOUT=24 * 3600)
    with django_db_blocker.unblock(), media:
        outer = transaction.atomic()
        outer.__enter__()
        try:
            ctx = MatrixContext()
            cookies: dict[str, str] = {}
            client = Client()
            for actor in ACTORS[1:]:
                client.cookies.clear()
                sign_in(client, ctx.users[actor])
                cookies[actor] = client.cookies[settings.SESSION_COOKIE_NAME].value
            # One client for every row: building a request handler (the middleware chain) costs more than a
            # request; its cookies are replaced per actor.
            yield ctx, cookies, client
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.mark.django_db
@pytest.mark.parametrize("row", ROWS, ids=[row.id + (f" [{row.note}]" if row.note else "") for row in ROWS])
def test_permission_matrix(world: Any, row: Row) -> None:
    from django.conf import settings

    ctx, cookies, client = world
    actual: dict[str, int] = {}
    for actor in ACTORS:
        # Each actor's request runs in a savepoint rolled back afterwards: a POST by one actor does not
        # change what the next one sees.
        savepoint = transaction.savepoint()
        try:
            client.cookies.clear()
            if actor != "anonymous":
                client.cookies[settings.SESSION_COOKIE_NAME] = cookies[actor]
            actual[actor] = request_as(client, row, ctx)
        finally:
            transaction.savepoint_rollback(savepoint)
    wrong = {
        actor: (row.expect[actor], status)
        for actor, status in actual.items()
        if status not in (row.expect[actor] if isinstance(row.expect[actor], tuple) else (row.expect[actor],))
    }
    assert not wrong, (
        f"{row.id}: (expected, actual) by actor: {wrong}\n"
        f"actual: expect({', '.join(f'{a}={s}' for a, s in actual.items())})"
    )
