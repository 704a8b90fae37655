"""Issue 13's "done when" on the seeded demo: staff open the demo exercise, compare the two demo models on one
evaluation, read whether and by how much they differ, see the plot and its data table, export it, and see how many
samples a planned run needs to detect a 5-point difference (learnt from the demo's earlier results)."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.models import User
from evaluations.demo import DEMO_COMPARISON_RUN, DEMO_COMPARISON_SAMPLES
from evaluations.models import Run

pytestmark = pytest.mark.django_db


def test_demo_staff_compare_the_two_models_read_the_verdict_export_it_and_plan_a_run(settings, sign_in):
    settings.DEMO_PASSWORD = "demo-password-for-tests"
    for _ in range(2):  # idempotent
        call_command("seed_demo", stdout=io.StringIO())
    run = Run.objects.get(name=DEMO_COMPARISON_RUN)
    items = list(run.items.order_by("pk"))
    assert len(items) == 2 and items[0].task_version_id == items[1].task_version_id
    staff = sign_in(Client(), User.objects.get(email="us.staff@example.org"))

    # The run page offers the comparison; the compare page reads as a result.
    page = staff.get(f"/runs/{run.pk}/").content.decode()
    assert "Compare" in page
    ids = f"{items[0].pk},{items[1].pk}"
    page = staff.get(f"/runs/compare/?items={ids}")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Demo mock model" in html and "Demo mock model (sampling)" in html
    assert "<svg" in html and 'role="img"' in html and "<table" in html  # the plot and its data table
    assert "is lower than" in html and "significant after Holm correction" in html  # the verdict in words

    # The API gives the same comparison with its statistics.
    data = staff.get(f"/api/v1/compare/?items={ids}").json()
    difference = data["differences"][0]
    assert difference["shared_samples"] == DEMO_COMPARISON_SAMPLES
    assert difference["p_value"] is not None and difference["p_value"] < 0.05
    assert difference["verdict"] and "lower" in difference["verdict"]

    # The export holds the estimates and the difference.
    export = staff.get(f"/runs/compare/export/?items={ids}&format=csv")
    assert export.status_code == 200
    rows = list(csv.DictReader(io.StringIO(export.content.decode())))
    assert {row["row"] for row in rows} >= {"estimate", "difference"}

    # Power planning for a run of the two models on the same evaluation learns from the demo's results.
    models = ",".join(str(item.model_version_id) for item in items)
    plan = staff.get(f"/api/v1/power/?tasks={items[0].task_version_id}&models={models}&difference=5").json()
    evaluation = plan["evaluations"][0]
    assert evaluation["source"] == "task_version"
    assert evaluation["samples_needed"] and evaluation["samples_needed"] > 0
    assert evaluation["minimum_detectable_difference"] > 0
