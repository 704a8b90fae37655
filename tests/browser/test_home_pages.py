"""The home page of each role, with data and empty, in Chromium with axe-core (WCAG 2.2 A/AA), at 1280 px wide;
a screenshot of each goes to test-artifacts/ (gitignored) for people to look at."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.harness import BASE_DIR
from tests.support.home_data import home_data

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = BASE_DIR / "test-artifacts"
ROLES = ["uk_staff", "uk_approver", "admin_user", "partner_viewer"]


def _shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def wide(page):
    page.set_viewport_size({"width": 1280, "height": 900})
    return page


def _no_sideways_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways"


@pytest.mark.parametrize("actor", ROLES)
def test_home_page_with_data_is_accessible(request, actor, wide, visit_and_check, browser_sign_in, live_server,
                                           exercise, uk_staff, us_staff, uk_approver, us_approver, admin_user,
                                           partner_viewer, partner_ca):
    home_data(exercise=exercise, uk_staff=uk_staff, us_staff=us_staff, uk_approver=uk_approver,
              us_approver=us_approver, admin=admin_user, partner=partner_ca, copies=2)
    browser_sign_in(request.getfixturevalue(actor))
    page = visit_and_check(f"{live_server.url}/")
    heading = {"partner_viewer": "Findings released to you"}.get(actor, "Your work")
    assert page.locator("h1").inner_text() == heading
    if actor == "uk_staff":
        assert page.locator(".govuk-task-list__item").count() >= 3
        assert page.get_by_test_id("unread-count").inner_text().startswith(("1", "2", "3", "4", "5", "6"))
    if actor == "uk_approver":
        assert page.get_by_text("Runs to approve or reject: 2").is_visible()
        assert page.get_by_text("Findings to sign off: 2").is_visible()
    if actor == "admin_user":
        assert page.get_by_text("Waiting to be accepted: 2").is_visible()
        # the live check: htmx puts its answers in place of the link
        page.get_by_role("link", name="Check the database, broker and workers now").click()
        page.locator("#worker-check dl").wait_for()
        assert "Database" in page.locator("#worker-check").inner_text()
    if actor == "partner_viewer":
        assert page.get_by_text("Released finding 1").is_visible()
    _no_sideways_scroll(page)
    _shot(page, f"home-{actor}-data")


@pytest.mark.parametrize("actor", ROLES)
def test_home_page_empty_is_accessible(request, actor, wide, visit_and_check, browser_sign_in, live_server,
                                       exercise, uk_staff, uk_approver, admin_user, partner_viewer):
    browser_sign_in(request.getfixturevalue(actor))
    page = visit_and_check(f"{live_server.url}/")
    expected = {"uk_staff": "Nothing is waiting for you.", "uk_approver": "No run is waiting for UK AISI’s approval.",
                "admin_user": "No invitation is waiting to be accepted.",
                "partner_viewer": "Nothing has been released to your organisation yet"}[actor]
    assert expected in page.locator("main").inner_text()
    assert page.get_by_test_id("unread-count").count() == 0
    _no_sideways_scroll(page)
    _shot(page, f"home-{actor}-empty")


@pytest.mark.parametrize("actor", ["admin_user", "uk_approver"])
def test_audit_page_in_words_is_accessible(request, actor, wide, visit_and_check, browser_sign_in, live_server,
                                           exercise, uk_staff, us_staff, uk_approver, us_approver, admin_user,
                                           partner_ca):
    home_data(exercise=exercise, uk_staff=uk_staff, us_staff=us_staff, uk_approver=uk_approver,
              us_approver=us_approver, admin=admin_user, partner=partner_ca, copies=1)
    browser_sign_in(request.getfixturevalue(actor))
    page = visit_and_check(f"{live_server.url}/audit/")
    assert page.get_by_text("rejected run").first.is_visible()
    _no_sideways_scroll(page)
    _shot(page, f"audit-{actor}")
