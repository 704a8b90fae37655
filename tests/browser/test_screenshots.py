"""Screenshots of the main pages (issue 12 "done when", issue 14 part 5), from the seeded demo, as each person sees
them: the start pages of staff, an approver and the partner viewer, a run's results, a comparison, the audit trail,
the findings list and a released finding as the partner reads it.

One command writes them to ``docs/screenshots/`` (shown in the README)::

    make screenshots

In ``make test`` the same test runs (it is cheap: one seeded demo, eleven pages) and writes to
``test-artifacts/screenshots/`` instead, so the suite never changes the repository. ``SCREENSHOTS_DIR`` chooses the
folder. Each PNG is 1280 CSS px wide, at most ``MAX_HEIGHT`` tall, reduced to a 256-colour palette (Pillow) so the
set stays well under 3 MB."""

from __future__ import annotations

import io
import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
WIDTH, MAX_HEIGHT = 1280, 1800


def _folder() -> Path:
    folder = Path(os.environ.get("SCREENSHOTS_DIR") or ROOT / "test-artifacts" / "screenshots")
    folder = folder if folder.is_absolute() else ROOT / folder
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _save(page: Any, folder: Path, name: str) -> Path:
    """A 1280 px wide PNG of the page (up to MAX_HEIGHT), palette-reduced and optimised."""
    from PIL import Image

    height = min(int(page.evaluate("() => document.documentElement.scrollHeight")), MAX_HEIGHT)
    png = page.screenshot(full_page=True, clip={"x": 0, "y": 0, "width": WIDTH, "height": height},
                          animations="disabled", caret="hide")
    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    path = folder / f"{name}.png"
    image.save(path, format="PNG", optimize=True)
    return path


def _demo_results() -> dict[str, Any]:
    """On top of ``seed_demo``: a finished run of the two demo models × two built-in evaluations with results (as a
    worker would have written them), and a run that waits for the approvers."""
    from accounts.models import User
    from evaluations.models import Exercise, ModelVersion, Run, RunItem, SampleResult, TaskVersion
    from evaluations.services.runs import run_create, run_submit

    uk_staff = User.objects.get(email="uk.staff@example.org")
    exercise = Exercise.objects.filter(registered_models__isnull=False).distinct().order_by("pk").first()
    models = list(ModelVersion.objects.filter(registered_model__exercises=exercise).order_by("pk")[:2])
    tasks = list(TaskVersion.objects.filter(eval_task__exercises=exercise).order_by("pk")[:2])
    run = run_create(actor=uk_staff, exercise=exercise, models=models, tasks=tasks,
                     options={"name": "Mock models on arithmetic and capitals", "limit": 20})
    now = timezone.now()
    Run.objects.filter(pk=run.pk).update(state="succeeded", started_at=now - timedelta(minutes=9), finished_at=now)
    items = list(run.items.order_by("task_version_id", "model_version_id"))
    for index, item in enumerate(items):
        accuracy = (0.85, 0.55, 0.7, 0.9)[index % 4]
        RunItem.objects.filter(pk=item.pk).update(
            state="succeeded", done_samples=20, total_samples=20, error_samples=index % 2,
            input_tokens=12_400 + 900 * index, output_tokens=3_100 + 120 * index,
            cost=Decimal("0.0375") * (index + 1), started_at=now - timedelta(minutes=8, seconds=11 * index),
            finished_at=now, metrics={"match": {"accuracy": accuracy, "stderr": 0.08}})
        SampleResult.objects.bulk_create([
            SampleResult(item=item, sample_id=str(n), epoch=1, input_text=f"Question {n}", output="Answer",
                         score=1.0 if (n * 7 + index) % 20 < accuracy * 20 else 0.0) for n in range(20)])
    run_submit(actor=uk_staff, run=run_create(actor=uk_staff, exercise=exercise, models=models[:1],
                                              tasks=tasks[:1], options={"name": "Second pass with 50 samples",
                                                                        "limit": 50}))
    return {"run": run, "items": items}


def test_screenshots_of_the_main_pages_from_the_seeded_demo(page, live_server, browser_sign_in, settings):
    from accounts.models import User
    from evaluations.demo import DEMO_COMPARISON_RUN
    from evaluations.models import Finding, Run

    settings.DEMO_PASSWORD = "screenshots-demo-password"
    call_command("seed_demo", stdout=io.StringIO())
    demo = _demo_results()
    run = demo["run"]
    compared = list(Run.objects.get(name=DEMO_COMPARISON_RUN).items.order_by("pk"))  # two models, 200 sums each
    finding = Finding.objects.get(state="released")
    users = {u.email.split("@")[0]: u for u in User.objects.all()}
    folder = _folder()
    page.set_viewport_size({"width": WIDTH, "height": 900})
    page.set_default_timeout(60_000)  # the first request imports the whole portal (inspect-ai too): slow when cold
    base = live_server.url
    shots = [
        ("uk.staff", "home-staff", "/"),
        ("uk.staff", "run", f"/runs/{run.pk}/"),
        ("uk.staff", "compare", "/runs/compare/?" + "&".join(f"items={i.pk}" for i in compared)),
        ("uk.staff", "exercise", f"/exercises/{run.exercise_id}/"),
        ("uk.staff", "search", "/search/?q=default+output"),
        ("uk.staff", "findings", "/findings/"),
        ("us.approver", "home-approver", "/"),
        ("us.approver", "audit", "/audit/"),
        ("admin", "home-admin", "/"),
        ("partner.viewer", "home-partner", "/"),
        ("partner.viewer", "finding-partner", f"/findings/{finding.pk}/"),
    ]
    written = []
    for who, name, path in shots:
        page.context.clear_cookies()
        browser_sign_in(users[who])
        response = page.goto(base + path, wait_until="load")
        assert response is not None and response.status == 200, (name, path, response and response.status)
        written.append(_save(page, folder, name))
    sizes = {p.name: p.stat().st_size for p in written}
    assert all(size > 5_000 for size in sizes.values()), sizes  # a real page, not a blank one
    assert sum(sizes.values()) < 3_000_000, sizes
