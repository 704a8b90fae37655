"""The accounts pages in Chromium with axe-core: no serious or critical accessibility violations."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.factories import UserFactory
from tests.helpers import sign_in, sign_in_password_only

AXE = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser(monkeypatch):
    # Playwright's sync API keeps an event loop on this thread; the ORM calls made by the test stay synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    # The live server's request threads close their connections after each request (no persistent connections
    # left behind to block dropping the test database).
    from django.db import connections

    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path("/usr/bin/chromium").exists() or not AXE.exists():
        from tests.conftest import require_or_skip

        require_or_skip("Chromium (/usr/bin/chromium) and node_modules/axe-core are needed")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        yield instance
        instance.close()
    _close_other_connections()


def _close_other_connections() -> None:
    """End the live server's idle request-thread connections to the test database, so it can be dropped at the
    end of the run."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle'"
        )


def _violations(browser, live_server, path, session_cookie=None):
    # bypass_csp lets the test inject axe-core; the portal's own pages never need it.
    context = browser.new_context(bypass_csp=True)
    if session_cookie:
        context.add_cookies([{"name": "sessionid", "value": session_cookie, "url": live_server.url}])
    page = context.new_page()
    response = page.goto(live_server.url + path)
    assert response is not None and response.status < 400, (path, response and response.status)
    assert page.url == live_server.url + path, f"{path} redirected to {page.url}"
    page.add_script_tag(content=AXE.read_text())
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    context.close()
    return [
        f"{path}: {v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def _session(user, mfa=True):
    client = Client()
    if mfa:
        sign_in(client, user)
    else:
        sign_in_password_only(client, user, just_set_password=True)
    return client.cookies["sessionid"].value


def test_accounts_pages_have_no_serious_accessibility_violations(browser, live_server, exercise, admin_user,
                                                                 uk_aisi):
    from accounts.services import invitation_create
    from portal.audit import audit_record

    audit_record(actor=admin_user, action="test.browser", exercise_id=exercise.pk)
    invitation = invitation_create(actor=admin_user, email="new@example.org", organisation=uk_aisi, role="staff")
    admin_cookie = _session(admin_user)
    problems: list[str] = []
    for path in ["/exercises/", f"/exercises/{exercise.pk}/", f"/exercises/{exercise.pk}/edit/", "/exercises/new/",
                 "/profile/", "/manage/organisations/", "/manage/users/", f"/manage/users/{admin_user.pk}/",
                 "/manage/invitations/", "/audit/", "/accounts/2fa/", "/accounts/sessions/",
                 "/accounts/reauthenticate/"]:
        problems += _violations(browser, live_server, path, admin_cookie)
    for path in ["/accounts/login/", f"/invitations/accept/{invitation.token}/", "/invitations/accept/forged/"]:
        try:
            problems += _violations(browser, live_server, path)
        except AssertionError:
            if "forged" not in path:
                raise
    newcomer = UserFactory(organisation=uk_aisi)
    problems += _violations(browser, live_server, "/accounts/2fa/totp/activate/", _session(newcomer, mfa=False))
    assert not problems, "\n".join(problems)
