"""Fixtures of the browser harness (see harness.py). Only tests under tests/browser/ start a browser."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS, CSP_LISTENER, PageProblems, check_page

pytestmark = pytest.mark.browser


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """Debian's Chromium (never a downloaded browser), for the browser tests of this package only.

    Playwright's sync API keeps an event loop in this thread, which makes Django refuse ORM calls from
    the test; DJANGO_ALLOW_ASYNC_UNSAFE allows them here, and only while the browser tests run."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make chromium` installs Debian's chromium package")
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page whose context bypasses CSP, so axe can be injected."""
    context = browser.new_context(bypass_csp=True, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def strict_page(browser: Any) -> Iterator[Any]:
    """A page under the portal's real CSP (no bypass), with a listener for CSP violations."""
    context = browser.new_context(locale="en-GB")
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def visit_and_check(page: Any) -> Callable[..., Any]:
    """``visit_and_check(url, expected_status=200)``: open ``url``, wait for it to settle, run axe
    (WCAG 2.2 A/AA) and fail with a readable list of violations and failed sub-resources. Returns the page."""

    def visit(url: str, expected_status: int = 200) -> Any:
        problems = PageProblems()
        problems.watch(page)
        # "load": the page's scripts (deferred and module ones included) have run; "networkidle" would add
        # half a second to every page and never settle on a page that polls.
        response = page.goto(url, wait_until="load")
        assert response is not None and response.status == expected_status, (
            f"{url} answered {response.status if response else None}, expected {expected_status}")
        check_page(page, url, problems)
        return page

    return visit


@pytest.fixture
def browser_sign_in(page: Any, live_server: Any) -> Callable[[Any], Any]:
    """``browser_sign_in(user)``: the page's browser becomes ``user``'s session. It signs in through the
    ``sign_in(client, user)`` helper (so the MFA rules apply as in every other test) and hands the session
    cookie to the browser. Returns the page."""
    from django.conf import settings
    from django.test import Client

    from tests.support.helpers import sign_in

    def sign_in_browser(user: Any) -> Any:
        client = sign_in(Client(), user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value,
                                   "url": live_server.url, "httpOnly": True, "sameSite": "Lax"}])
        return page

    return sign_in_browser
