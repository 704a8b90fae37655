"""Power planning and trends in Chromium (issue 13): on the run form the plan follows the ticked boxes and the
difference typed (htmx), or comes with the "Work out the power" button without JavaScript; the trend page with its
plot and data table. axe on each."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from evaluations.models import Run, RunItem, SampleResult
from evaluations.services.runs import run_create
from evaluations.services.trends import trend_baseline_set
from tests.browser.harness import PageProblems, check_page
from tests.support.factories import model_version, task_version
from tests.support.helpers import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def planned(exercise, uk_staff) -> dict[str, Any]:
    return {"a": model_version(exercise=exercise, user=uk_staff, name="Alpha model"),
            "b": model_version(exercise=exercise, user=uk_staff, name="Bravo model"),
            "task": task_version(exercise=exercise, user=uk_staff, name="quiz task")}


def _context(browser: Any, live_server: Any, user: Any, *, javascript: bool) -> Any:
    context = browser.new_context(bypass_csp=True, locale="en-GB", java_script_enabled=javascript,
                                  viewport={"width": 1280, "height": 900})
    client = sign_in(Client(), user)
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME,
                          "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                          "url": live_server.url, "httpOnly": True, "sameSite": "Lax"}])
    return context


def _fill(page: Any) -> None:
    page.get_by_label("Alpha model").check()
    page.get_by_label("Bravo model").check()
    page.get_by_label("quiz task").check()
    page.get_by_label("Sample limit").fill("100")


def test_with_javascript_the_plan_follows_the_form(browser, live_server, uk_staff, exercise, planned):
    context = _context(browser, live_server, uk_staff, javascript=True)
    page = context.new_page()
    problems = PageProblems()
    problems.watch(page)
    page.goto(f"{live_server.url}/runs/new/?exercise={exercise.pk}", wait_until="load")
    assert not page.get_by_role("button", name="Work out the power").is_visible()
    _fill(page)
    page.get_by_label("Sample limit").press("Tab")  # a text field changes when it is left
    page.locator("#power-plan", has_text="14.0 points").wait_for()
    page.get_by_label("Difference to detect (points)").press_sequentially("5")
    page.locator("#power-plan", has_text="785").wait_for()
    assert "No earlier results: the default" in page.locator("#power-plan").inner_text()
    check_page(page, page.url, problems)
    context.close()


def test_without_javascript_the_button_works_out_the_plan(browser, live_server, uk_staff, exercise, planned):
    context = _context(browser, live_server, uk_staff, javascript=False)
    page = context.new_page()
    page.goto(f"{live_server.url}/runs/new/?exercise={exercise.pk}", wait_until="load")
    _fill(page)
    page.get_by_label("Difference to detect (points)").fill("5")
    page.get_by_role("button", name="Work out the power").click()
    page.wait_for_load_state("load")
    text = page.locator("#power-plan").inner_text()
    assert "14.0 points" in text and "785" in text
    assert page.get_by_label("Alpha model").is_checked() and page.get_by_label("Sample limit").input_value() == "100"
    context.close()


def test_the_trend_page_is_accessible(browser, live_server, uk_staff, exercise, planned):
    items = []
    for n, scores in enumerate(([1.0] * 18 + [0.0] * 2, [1.0] * 17 + [0.0] * 3, [1.0] * 6 + [0.0] * 14)):
        run = run_create(actor=uk_staff, exercise=exercise, models=[planned["a"]], tasks=[planned["task"]],
                         options={"name": f"Nightly {n + 1}"})
        item = run.items.get()
        SampleResult.objects.bulk_create([SampleResult(item=item, sample_id=str(i), epoch=1, score=v)
                                          for i, v in enumerate(scores)])
        RunItem.objects.filter(pk=item.pk).update(state="succeeded", done_samples=20,
                                                  metrics={"match": {"accuracy": sum(scores) / 20, "stderr": 0.05}})
        Run.objects.filter(pk=run.pk).update(state="succeeded")
        items.append(item)
    trend_baseline_set(actor=uk_staff, item=items[0], reason="signed off")
    context = _context(browser, live_server, uk_staff, javascript=True)
    page = context.new_page()
    problems = PageProblems()
    problems.watch(page)
    url = (f"{live_server.url}/trends/?exercise={exercise.pk}&model={planned['a'].pk}"
           f"&task={planned['task'].pk}")
    page.goto(url, wait_until="load")
    assert page.locator("svg[role=img]").count() == 2
    assert "Below" in page.locator("table").first.inner_text()
    check_page(page, page.url, problems)
    context.close()
