"""The run form in Chromium (issue 12): choosing an exercise swaps in its models and evaluations with htmx; without
JavaScript the "Show models and evaluations" button reloads the form for it. Ticking boxes updates the preview, and
the schedule fields appear under their choice. axe on each state."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from tests.browser.harness import PageProblems, check_page
from tests.support.factories import ExerciseFactory, model_version, task_version
from tests.support.helpers import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def exercises(exercise, uk_aisi, us_aisi, uk_staff) -> dict[str, Any]:
    beta = ExerciseFactory(name="Exercise Beta", institutes=[uk_aisi, us_aisi])
    model_version(exercise=exercise, user=uk_staff, name="Alpha model")
    task_version(exercise=exercise, user=uk_staff, name="alpha task")
    model_version(exercise=beta, user=uk_staff, name="Beta model")
    model_version(exercise=beta, user=uk_staff, name="Beta second model")
    task_version(exercise=beta, user=uk_staff, name="beta task")
    return {"alpha": exercise, "beta": beta}


def _context(browser: Any, live_server: Any, user: Any, *, javascript: bool) -> Any:
    context = browser.new_context(bypass_csp=True, locale="en-GB", java_script_enabled=javascript,
                                  viewport={"width": 1280, "height": 900})
    client = sign_in(Client(), user)
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                          "url": live_server.url, "httpOnly": True, "sameSite": "Lax"}])
    return context


def _labels(page: Any) -> str:
    return page.locator("#run-choices").inner_text()


def test_with_javascript_choosing_an_exercise_swaps_in_its_models_and_evaluations(browser, live_server, uk_staff,
                                                                                 exercises):
    context = _context(browser, live_server, uk_staff, javascript=True)
    page = context.new_page()
    problems = PageProblems()
    problems.watch(page)
    page.goto(f"{live_server.url}/runs/new/?exercise={exercises['alpha'].pk}", wait_until="load")
    assert "Alpha model" in _labels(page)
    assert not page.get_by_role("button", name="Show models and evaluations of this exercise").is_visible()
    assert not page.locator("#id_run_at").is_visible()  # schedule fields hidden until chosen
    page.select_option("#id_exercise", str(exercises["beta"].pk))
    page.locator("#run-choices", has_text="Beta model").wait_for()
    assert "Alpha model" not in _labels(page)
    page.get_by_label("Beta model").check()
    page.get_by_label("Beta second model").check()
    page.get_by_label("beta task").check()
    assert "2 models × 1 evaluation = 2 items to run" in page.locator("#run-preview").inner_text()
    page.get_by_label("At a set time").check()
    assert page.locator("#id_run_at").is_visible()
    check_page(page, page.url, problems)
    context.close()


def test_without_javascript_the_button_reloads_the_form_for_the_chosen_exercise(browser, live_server, uk_staff,
                                                                               exercises):
    context = _context(browser, live_server, uk_staff, javascript=False)
    page = context.new_page()
    page.goto(f"{live_server.url}/runs/new/?exercise={exercises['alpha'].pk}", wait_until="load")
    assert "Alpha model" in _labels(page)
    page.select_option("#id_exercise", str(exercises["beta"].pk))
    page.get_by_role("button", name="Show models and evaluations of this exercise").click()
    page.wait_for_load_state("load")
    assert "Beta model" in _labels(page) and "Alpha model" not in _labels(page)
    assert page.locator("#id_exercise").input_value() == str(exercises["beta"].pk)
    assert page.locator("#id_run_at").is_visible()  # no JavaScript: every schedule field shows
    context.close()
    # axe needs JavaScript: the reloaded page, checked in a normal context
    context = _context(browser, live_server, uk_staff, javascript=True)
    page = context.new_page()
    problems = PageProblems()
    problems.watch(page)
    page.goto(f"{live_server.url}/runs/new/?exercise={exercises['beta'].pk}", wait_until="load")
    check_page(page, page.url, problems)
    context.close()
