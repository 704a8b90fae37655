"""The exercise dashboard (issue 13 part 5): the newest finished score of each model × evaluation with its interval
(in words as well as colour), findings by severity and state, the exercise's timeline newest first; institute members
only; the same number of queries whatever the number of runs."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from evaluations.models import Run, RunItem
from evaluations.services import findings as finding_services
from evaluations.services.runs import run_create, run_submit
from tests.findings.factories import finding_data, finished_run, risk_area
from tests.support.factories import model_version, task_version

pytestmark = pytest.mark.django_db


def _text(response) -> str:
    assert response.status_code == 200
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def _section(html: str, testid: str) -> str:
    match = re.search(rf'<(table|ol)[^>]*data-testid="{testid}".*?</\1>', html, re.S)
    assert match, testid
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(0)))


def _scored(*, exercise, user, model, task, value, stderr=0.05, at=None, state="succeeded", name="Scored run"):
    run = run_create(actor=user, exercise=exercise, models=[model], tasks=[task], options={"name": name})
    RunItem.objects.filter(run=run).update(state=state, done_samples=40, total_samples=40,
                                           finished_at=at or timezone.now(),
                                           metrics={"match": {"accuracy": value, "stderr": stderr}})
    Run.objects.filter(pk=run.pk).update(state=state, finished_at=at or timezone.now())
    return run


def test_the_grid_shows_the_newest_finished_score_of_each_pair_with_its_interval(client, sign_in, exercise,
                                                                                 uk_staff):
    gemma = model_version(exercise=exercise, user=uk_staff, name="Gemma")
    llama = model_version(exercise=exercise, user=uk_staff, name="Llama")
    maths = task_version(exercise=exercise, user=uk_staff, name="Maths")
    capitals = task_version(exercise=exercise, user=uk_staff, name="Capitals")
    now = timezone.now()
    _scored(exercise=exercise, user=uk_staff, model=gemma, task=maths, value=0.3, at=now - timedelta(days=2),
            name="Old maths")
    newest = _scored(exercise=exercise, user=uk_staff, model=gemma, task=maths, value=0.9, at=now - timedelta(days=1),
                     name="New maths")
    _scored(exercise=exercise, user=uk_staff, model=gemma, task=maths, value=0.55, at=now, state="failed",
            name="Failed maths")
    _scored(exercise=exercise, user=uk_staff, model=llama, task=capitals, value=0.1, stderr=0.1, name="Llama capitals")
    sign_in(client, uk_staff)
    html = client.get(f"/exercises/{exercise.pk}/").content.decode()
    grid = _section(html, "score-grid")
    assert "Capitals v1" in grid and "Maths v1" in grid and "Gemma v1" in grid and "Llama v1" in grid
    assert "0.900 High" in grid and "95% confidence interval 0.80 to 1.00" in grid
    assert "0.100 Low" in grid and "95% confidence interval 0.00 to 0.30" in grid
    assert "0.300" not in grid and "0.550" not in grid  # older and failed items are not the newest finished score
    assert "No result yet" in grid  # Gemma has no capitals score, Llama no maths score
    assert f'href="/runs/{newest.pk}/"' in html
    assert 'class="govuk-tag govuk-tag--blue">High</strong>' in html  # colour and words


def test_findings_by_severity_and_state_once_findings_exist(client, sign_in, exercise, uk_staff, us_staff):
    sign_in(client, uk_staff)
    assert 'data-testid="findings-by-severity"' not in client.get(f"/exercises/{exercise.pk}/").content.decode()
    risk_area()
    run = finished_run(exercise=exercise, user=uk_staff)
    for severity in ("high", "high", "low"):
        finding_services.finding_create(actor=uk_staff, exercise=exercise, data=finding_data(run, severity=severity))
    submitted = finding_services.finding_create(actor=uk_staff, exercise=exercise, data=finding_data(
        run, severity="critical"))
    finding_services.finding_submit(actor=uk_staff, finding=submitted)
    table = _section(client.get(f"/exercises/{exercise.pk}/").content.decode(), "findings-by-severity")
    assert "Severity Draft In review Signed off Released Total" in table
    assert "Critical 0 1 0 0 1" in table and "High 2 0 0 0 2" in table and "Low 1 0 0 0 1" in table
    assert "Medium" not in table and table.index("Critical") < table.index("High") < table.index("Low")


def test_the_timeline_lists_the_newest_events_first_and_is_bounded(client, sign_in, exercise, uk_staff, us_staff):
    model = model_version(exercise=exercise, user=uk_staff)
    task = task_version(exercise=exercise, user=uk_staff)
    sign_in(client, uk_staff)
    assert "Nothing has happened in this exercise yet." in _text(client.get(f"/exercises/{exercise.pk}/"))
    base = timezone.now() - timedelta(days=30)
    for n in range(12):
        run = run_create(actor=uk_staff, exercise=exercise, models=[model], tasks=[task], options={"name": f"R{n}"})
        Run.objects.filter(pk=run.pk).update(submitted_at=base + timedelta(hours=n),
                                             finished_at=base + timedelta(hours=n, minutes=30), state="succeeded")
    latest = run_submit(actor=us_staff, run=run_create(actor=us_staff, exercise=exercise, models=[model],
                                                          tasks=[task], options={"name": "Latest"}))
    timeline = _section(client.get(f"/exercises/{exercise.pk}/").content.decode(), "timeline")
    assert timeline.count("Run ") == 15  # bounded
    assert timeline.index("Run submitted for approval: Latest") < timeline.index("Run finished: R11")
    assert timeline.index("Run finished: R11") < timeline.index("Run submitted for approval: R11")
    assert "R4" not in timeline  # older than the 15 newest events
    assert latest.submitted_at is not None


def test_partners_and_outsiders_get_no_dashboard(client, sign_in, exercise, uk_staff, partner_viewer,
                                                  other_partner_viewer):
    model = model_version(exercise=exercise, user=uk_staff, name="Secret model")
    task = task_version(exercise=exercise, user=uk_staff)
    _scored(exercise=exercise, user=uk_staff, model=model, task=task, value=0.5, name="Secret run")
    sign_in(client, partner_viewer)
    text = _text(client.get(f"/exercises/{exercise.pk}/"))
    for hidden in ("Latest scores", "Timeline", "Secret model", "Secret run", "0.500"):
        assert hidden not in text
    sign_in(client, other_partner_viewer)
    assert client.get(f"/exercises/{exercise.pk}/").status_code == 404


def test_the_dashboard_costs_the_same_number_of_queries_with_few_and_many_runs(client, sign_in, exercise,
                                                                                uk_staff, us_staff):
    risk_area()
    models = [model_version(exercise=exercise, user=uk_staff, name=f"Model {n}") for n in range(3)]
    tasks = [task_version(exercise=exercise, user=uk_staff, name=f"Task {n}") for n in range(3)]

    def grow(count, offset):
        for n in range(offset, offset + count):
            run = _scored(exercise=exercise, user=uk_staff, model=models[n % 3], task=tasks[(n // 3) % 3],
                          value=(n % 10) / 10, name=f"Run {n}")
            Run.objects.filter(pk=run.pk).update(submitted_at=timezone.now(), approved_at=timezone.now())
            if n % 4 == 0:
                finished = finished_run(exercise=exercise, user=us_staff, name=f"With finding {n}")
                finding = finding_services.finding_create(actor=us_staff, exercise=exercise,
                                                          data=finding_data(finished, severity="medium"))
                finding_services.finding_submit(actor=us_staff, finding=finding)

    grow(2, 0)
    sign_in(client, uk_staff)
    url = f"/exercises/{exercise.pk}/"
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    grow(20, 2)
    with CaptureQueriesContext(connection) as many:
        html = client.get(url).content.decode()
    assert len(many) == len(few)
    rows = re.findall(r'<th scope="row" class="govuk-table__header">Model \d v1</th>', html)
    assert len(rows) == 3  # a row per model, not per run
