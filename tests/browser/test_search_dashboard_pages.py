"""The exercise dashboard and the search page (issue 13) in Chromium with axe-core (WCAG 2.2 A/AA), at 1280 px wide:
with data and empty, for staff and for a partner viewer; screenshots go to test-artifacts/ (gitignored)."""

from __future__ import annotations

import pytest

from evaluations.models import SampleResult
from evaluations.services.search import samples_index_all
from tests.browser.harness import BASE_DIR
from tests.support.home_data import home_data

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = BASE_DIR / "test-artifacts"


@pytest.fixture
def wide(page):
    page.set_viewport_size({"width": 1280, "height": 900})
    return page


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _no_sideways_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways"


@pytest.fixture
def data(exercise, uk_staff, us_staff, uk_approver, us_approver, admin_user, partner_ca):
    home_data(exercise=exercise, uk_staff=uk_staff, us_staff=us_staff, uk_approver=uk_approver,
              us_approver=us_approver, admin=admin_user, partner=partner_ca, copies=2)
    SampleResult.objects.filter(item__run__exercise=exercise).update(
        output="<b>The answer</b> & a tension wrench", explanation="graded by the wrench rule")
    samples_index_all()  # as the indexing task does after an ingestion


def test_the_exercise_dashboard_is_accessible(wide, visit_and_check, browser_sign_in, live_server, exercise,
                                              uk_staff, data):
    browser_sign_in(uk_staff)
    page = visit_and_check(f"{live_server.url}/exercises/{exercise.pk}/")
    assert page.get_by_test_id("score-grid").is_visible()
    assert "0.500" in page.get_by_test_id("score-grid").inner_text()
    assert page.get_by_test_id("findings-by-severity").is_visible()
    assert page.get_by_test_id("timeline").locator("li").count() >= 3
    _no_sideways_scroll(page)
    _shot(page, "exercise-dashboard-data")


def test_the_exercise_dashboard_empty_is_accessible(wide, visit_and_check, browser_sign_in, live_server, exercise,
                                                    uk_staff):
    browser_sign_in(uk_staff)
    page = visit_and_check(f"{live_server.url}/exercises/{exercise.pk}/")
    text = page.locator("main").inner_text()
    assert "No scores yet." in text and "Nothing has happened in this exercise yet." in text
    _shot(page, "exercise-dashboard-empty")


def test_the_search_page_is_accessible_with_results_from_the_header_box(wide, visit_and_check, browser_sign_in,
                                                                       live_server, exercise, uk_staff, data):
    browser_sign_in(uk_staff)
    page = visit_and_check(f"{live_server.url}/")
    page.get_by_label("Search samples and findings").first.fill("wrench")
    page.locator(".portal-header-search button").click()
    page.wait_for_url("**/search/?q=wrench")
    page = visit_and_check(page.url)
    main = page.locator("main").inner_text()
    assert "Findings" in main and "Samples" in main
    assert page.locator("mark").count() >= 2
    assert page.locator("main b").count() == 0  # the output's markup is text
    _no_sideways_scroll(page)
    _shot(page, "search-results")
    page = visit_and_check(f"{live_server.url}/search/?q=wrench&kind=sample")
    assert page.locator(".portal-search-result").count() >= 1
    _shot(page, "search-samples")


@pytest.mark.parametrize("query", ["", "q=zzzznothing", "q=" + "x" * 250])
def test_the_search_page_empty_states_are_accessible(wide, visit_and_check, browser_sign_in, live_server, exercise,
                                                     uk_staff, query):
    browser_sign_in(uk_staff)
    page = visit_and_check(f"{live_server.url}/search/?{query}", expected_status=400 if "xxx" in query else 200)
    main = page.locator("main").inner_text()
    if not query:
        assert "Search looks through the samples" in main
    elif "zzzz" in query:
        assert "Nothing you can see matches your search." in main
    else:
        assert "There is a problem" in main and "200 characters or fewer" in main
    _shot(page, f"search-empty-{len(query)}")


def test_the_partners_search_page_is_accessible(wide, visit_and_check, browser_sign_in, live_server, exercise,
                                                partner_viewer, data):
    browser_sign_in(partner_viewer)
    page = visit_and_check(f"{live_server.url}/search/?q=released")
    main = page.locator("main").inner_text()
    assert "Samples" not in main.replace("Search samples", "")
    assert "Released finding" in main
    _shot(page, "search-partner")
