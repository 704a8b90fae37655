"""Inspect's own log viewer, served by the portal behind its access checks, really renders a log in Chromium
under the viewer's CSP (no CSP violations, the log's task name shown)."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.test import Client

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]


def test_the_inspect_viewer_shows_a_log_under_its_own_csp(live_server, finished_run, us_staff, sign_in):
    from playwright.sync_api import sync_playwright

    item = finished_run.items.get()
    client = sign_in(Client(), us_staff)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    violations: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            context.add_cookies([{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie,
                                  "url": live_server.url}])
            page = context.new_page()
            page.on("console", lambda m: violations.append(m.text)
                    if "Content Security Policy" in m.text or "Refused" in m.text else None)
            page.goto(f"{live_server.url}/run-items/{item.pk}/viewer/")
            page.wait_for_selector("text=counting", timeout=30_000)
        finally:
            browser.close()
    assert violations == []
