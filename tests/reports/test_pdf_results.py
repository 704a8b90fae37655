"""The exercise report's results section (issue 13): score bars per evaluation (inline SVG, printable by
WeasyPrint) with their data table, for institute readers only; a partner's report stays only their snapshots,
through the selector and even when results are passed to the renderer."""

from __future__ import annotations

import pytest

from evaluations.reports import Reader
from evaluations.reports.pdf import exercise_report_html, exercise_report_pdf
from evaluations.selectors.comparisons import exercise_results
from tests.comparisons.conftest import make_items
from tests.reports.data import pdf_text

STAFF = Reader(name="Uma Staff", organisation="UK AISI", is_partner=False)
PARTNER = Reader(name="Pat Partner", organisation="Partner Institute CA", is_partner=True)
RESULTS = [{"evaluation": "Arithmetic v1", "points": True, "rows": [
    {"item": 1, "model": "<script>alert(1)</script> v1", "provider_model": "mockllm/a", "n": 20, "mean": 0.5,
     "ci": [0.3, 0.7], "method": "wilson"},
    {"item": 2, "model": "Beta v1", "provider_model": "mockllm/b", "n": 20, "mean": 0.8, "ci": [0.58, 0.92],
     "method": "wilson"}]}]


def test_staff_report_prints_score_bars_and_their_table():
    html = exercise_report_html(exercise={"name": "Alpha"}, reader=STAFF, findings=[], results=RESULTS)
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="portal-plot" role="img"' in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "Mean score by model: Arithmetic v1 (the data of the chart)" in html
    text = pdf_text(exercise_report_pdf(exercise={"name": "Alpha"}, reader=STAFF, findings=[], results=RESULTS))
    assert "Results" in text and "Beta v1" in text and "58.0% to 92.0%" in text
    assert "Whiskers: confidence interval" in text and "80.0% (58.0% to 92.0%)" in text  # the SVG was drawn


def test_a_partner_report_has_no_results_even_when_given_some():
    html = exercise_report_html(exercise={"name": "Alpha"}, reader=PARTNER, findings=[], results=RESULTS)
    assert "<svg" not in html and "Beta v1" not in html


@pytest.mark.django_db
def test_exercise_results_are_for_institute_members_only(exercise, uk_staff, us_staff, partner_viewer):
    make_items(exercise=exercise, user=uk_staff, names=["Alpha", "Beta"], samples=10,
               scores=lambda i, s, e: {"m": {"value": 1}})
    from evaluations.models import SampleResult

    SampleResult.objects.update(score=1.0)
    results = exercise_results(user=us_staff, exercise=exercise)
    assert [r["model"] for r in results[0]["rows"]] == ["Alpha v1", "Beta v1"]
    assert results[0]["rows"][0]["n"] == 10 and results[0]["rows"][0]["ci"][1] == 1.0
    assert exercise_results(user=partner_viewer, exercise=exercise) == []
