"""The base pages in a real browser: no WCAG 2.2 A/AA violation (axe), the real CSP holds, fonts load."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.request import urlopen

import pytest

from tests.browser.harness import PageProblems

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
GOVUK_CSS = Path(__file__).resolve().parents[2] / "node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.css"


def test_home_page_has_no_accessibility_violations(visit_and_check, live_server):
    page = visit_and_check(f"{live_server.url}/")
    assert page.locator("h1").inner_text() == "Joint Testing Portal"
    assert page.locator("a.govuk-skip-link").get_attribute("href") == "#main-content"


def test_sign_in_page_has_no_accessibility_violations(visit_and_check, live_server):
    page = visit_and_check(f"{live_server.url}/accounts/login/")
    assert page.locator("input[type=password]").count() == 1


def test_not_found_page_has_no_accessibility_violations(visit_and_check, live_server):
    page = visit_and_check(f"{live_server.url}/no-such-page/", expected_status=404)
    assert page.locator("h1").inner_text() == "Page not found"


@pytest.mark.parametrize(("path", "status"), [("/", 200), ("/accounts/login/", 200), ("/no-such-page/", 404)])
def test_page_loads_under_the_real_csp_without_violations(strict_page, live_server, path, status):
    problems = PageProblems()
    problems.watch(strict_page)
    response = strict_page.goto(f"{live_server.url}{path}", wait_until="networkidle")
    assert response is not None and response.status == status
    csp = response.headers["content-security-policy"]
    assert "unsafe-inline" not in csp
    assert "script-src 'self'" in csp

    violations = strict_page.evaluate("window.__cspViolations")
    csp_console = [m for m in problems.console_errors if "Content Security Policy" in m]
    assert violations == [] and csp_console == [], f"CSP violations: {violations} {csp_console}"
    assert problems.failed_requests == []
    # The external scripts ran: GOV.UK Frontend marked the body as supported.
    assert "govuk-frontend-supported" in (strict_page.locator("body").get_attribute("class") or "")


def test_a_signed_in_user_sees_the_home_page_as_themselves(visit_and_check, browser_sign_in, live_server):
    from tests.support.factories import UserFactory

    user = UserFactory(email="signed.in@example.org")
    browser_sign_in(user)
    page = visit_and_check(f"{live_server.url}/")
    main = page.locator("main").inner_text()
    assert "Your work" in main and user.organisation.name in main  # their own start page (portal/home.py)


def test_govuk_fonts_are_served_from_the_site_root(live_server):
    """GOV.UK Frontend's CSS asks for /assets/fonts/...; whitenoise serves them (WHITENOISE_ROOT)."""
    fonts = sorted(set(re.findall(r"url\((/assets/fonts/[^)\"']+\.woff2)\)", GOVUK_CSS.read_text())))
    assert fonts, "no font URL found in govuk-frontend.min.css"
    for font in fonts:
        with urlopen(f"{live_server.url}{font}", timeout=10) as response:  # noqa: S310 - the live server
            assert response.status == 200, font
            assert len(response.read()) > 1000
