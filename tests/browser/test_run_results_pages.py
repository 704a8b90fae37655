"""The run page's results and the compare page in Chromium at 1280 CSS px: axe finds nothing, no table needs
sideways scrolling, checking boxes and pressing Compare opens the comparison; screenshots go to test-artifacts/."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

OVERFLOW = """() => ({
  page: document.documentElement.scrollWidth,
  tables: [...document.querySelectorAll('.portal-table-wrapper')]
    .filter((w) => w.scrollWidth > w.clientWidth + 1)
    .map((w) => `${w.querySelector('caption') ? w.querySelector('caption').innerText : 'table'}: `
                + `${w.scrollWidth} > ${w.clientWidth}`),
})"""


@pytest.fixture
def results(exercise, uk_staff, us_staff, uk_approver, us_approver) -> dict[str, Any]:
    """A finished run of three registered models (two on the same provider string) × two evaluations, with
    metrics, samples, tokens and costs; one item failed, one still without results."""
    from evaluations.models import Run, RunItem, SampleResult
    from evaluations.services.runs import run_create
    from tests.support.factories import model_version, task_version

    models = [model_version(exercise=exercise, user=uk_staff, name="Gemma 3 270M instruction-tuned"),
              model_version(exercise=exercise, user=us_staff, name="Gemma 3 270M base"),
              model_version(exercise=exercise, user=us_staff, name="Frontier model preview",
                            provider_model="openai-api/frontier-lab/preview-2026-11")]
    tasks = [task_version(exercise=exercise, user=uk_staff, name="Arithmetic"),
             task_version(exercise=exercise, user=uk_staff, name="Capital cities", task="counting")]
    run = run_create(actor=uk_staff, exercise=exercise, models=models, tasks=tasks,
                     options={"name": "Gemma against the frontier model", "limit": 20})
    now = timezone.now()
    Run.objects.filter(pk=run.pk).update(state="partially_succeeded", started_at=now - timedelta(minutes=12),
                                         finished_at=now)
    items = list(run.items.order_by("pk"))
    scores = [0.85, 0.6, 0.45, 0.7, 0.95, None]
    for index, (item, accuracy) in enumerate(zip(items, scores, strict=True)):
        if accuracy is None:
            RunItem.objects.filter(pk=item.pk).update(
                state="failed", error="The model's endpoint refused the connection (HTTP 503) after 3 attempts.",
                done_samples=3, total_samples=20, error_samples=3, started_at=now - timedelta(minutes=2),
                finished_at=now)
            continue
        RunItem.objects.filter(pk=item.pk).update(
            state="succeeded", done_samples=20, total_samples=20, error_samples=index % 2,
            input_tokens=12_400 + 1000 * index, output_tokens=3_100 + 100 * index,
            cost=Decimal("0.0421") * (index + 1), started_at=now - timedelta(minutes=10, seconds=7 * index),
            finished_at=now, log_path=f"run-logs/{run.pk}/{item.pk}/log.eval",
            metrics={"match": {"accuracy": accuracy, "stderr": 0.08}})
        SampleResult.objects.bulk_create([
            SampleResult(item=item, sample_id=str(n), epoch=1, input_text=f"Question {n}", output="Answer",
                         score=1.0 if n < accuracy * 20 else 0.0) for n in range(20)])
    return {"run": run, "items": items}


def test_run_and_compare_pages_fit_1280_px_pass_axe_and_compare_checked_items(visit_and_check, browser_sign_in,
                                                                              live_server, results, us_staff):
    run, items = results["run"], results["items"]
    page = browser_sign_in(us_staff)
    page.set_viewport_size({"width": 1280, "height": 900})
    ARTIFACTS.mkdir(exist_ok=True)

    visit_and_check(f"{live_server.url}/runs/{run.pk}/")
    overflow = page.evaluate(OVERFLOW)
    assert overflow["page"] <= 1280 and overflow["tables"] == [], overflow
    page.screenshot(path=str(ARTIFACTS / "run-page-1280.png"), full_page=True)

    visit_and_check(f"{live_server.url}/runs/{run.pk}/?sort=score&order=desc")
    rows = page.locator("table.portal-results tbody tr th").all_inner_texts()
    assert rows[0].startswith("Frontier model preview") and rows[-1].startswith("Frontier model preview"), rows

    # Choose the three models on Arithmetic and press Compare.
    for item in items[0::2]:
        page.locator(f"#compare-{item.pk}").check()
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Compare chosen items").click()
    assert "/runs/compare/" in page.url
    visit_and_check(page.url)
    main = page.locator("main").inner_text()
    assert "Gemma 3 270M instruction-tuned v1" in main and "Paired differences" in main and "p-value" in main
    # issue 13: the plots (score bars, forest, histograms), each an image with its text alternative, and the
    # side by side of the samples where the models disagree
    plots = page.locator("main svg[role=img]")
    assert plots.count() == 3
    for index in range(3):
        labelled = plots.nth(index).get_attribute("aria-labelledby")
        assert labelled and all(page.locator(f"[id='{part}']").count() == 1 for part in labelled.split())
    assert "significant after Holm correction" in main or "not significant" in main
    assert "Samples where the models disagree or errored" in main
    overflow = page.evaluate(OVERFLOW)
    assert overflow["page"] <= 1280 and overflow["tables"] == [], overflow
    page.screenshot(path=str(ARTIFACTS / "compare-page-1280.png"), full_page=True)

    # Two evaluations at once: refused, with the error summary linking to the field.
    visit_and_check(f"{live_server.url}/runs/compare/?items={items[0].pk}&items={items[1].pk}", expected_status=400)
    assert "Choose items of one evaluation version" in page.locator(".govuk-error-summary").inner_text()
    page.screenshot(path=str(ARTIFACTS / "compare-refused-1280.png"), full_page=True)


def test_ticked_compare_boxes_stay_ticked_across_the_2_second_refresh_of_a_running_run(
        visit_and_check, browser_sign_in, live_server, results, us_staff):
    """The results table is inside the region htmx polls while the run is active: the person's choices survive
    each refresh (static/portal/app.mjs, ``data-keep-checked``), and so does the keyboard focus."""
    from evaluations.models import Run, RunItem

    run, items = results["run"], results["items"]
    Run.objects.filter(pk=run.pk).update(state="running", finished_at=None)
    RunItem.objects.filter(pk=items[5].pk).update(state="running", error="", finished_at=None, done_samples=3)
    page = browser_sign_in(us_staff)
    visit_and_check(f"{live_server.url}/runs/{run.pk}/")
    assert page.locator("#run-items[hx-trigger='every 2s']").count() == 1
    page.locator(f"#compare-{items[0].pk}").check()
    page.locator(f"#compare-{items[2].pk}").check()
    page.locator(f"#compare-{items[2].pk}").focus()
    marker = page.evaluate("() => { const r = document.getElementById('run-items'); r.dataset.old = '1'; return 1; }")
    assert marker == 1
    # Two refreshes: the region is a new element (the marker is gone), and the choices and the focus are kept.
    page.wait_for_function("() => !document.getElementById('run-items').dataset.old", timeout=10_000)
    page.wait_for_timeout(2_500)
    assert page.locator(f"#compare-{items[0].pk}").is_checked()
    assert page.locator(f"#compare-{items[2].pk}").is_checked()
    assert not page.locator(f"#compare-{items[4].pk}").is_checked()
    assert page.evaluate("() => document.activeElement && document.activeElement.id") == f"compare-{items[2].pk}"
    page.locator(f"#compare-{items[0].pk}").uncheck()
    page.wait_for_timeout(2_500)
    assert not page.locator(f"#compare-{items[0].pk}").is_checked()
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Compare chosen items").click()
    assert f"items={items[2].pk}" in page.url and f"items={items[0].pk}" not in page.url
