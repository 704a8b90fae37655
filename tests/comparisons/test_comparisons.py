"""The compare page, its API and exports (issue 13): every metric of the samples' scores, clustered intervals
(Wilson for binary scores, within 0 to 1), every pair's paired difference with raw, Holm and Benjamini-Hochberg
p-values and a verdict in words, the side by side of the samples where models disagree or errored with links to
both transcripts, CSV (formula cells neutralised) and JSON, plots with text alternatives and data tables; a fixed
number of queries whatever the number of samples; partner viewers reach none of it."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar

from evaluations.models import Run, RunItem, SampleResult
from tests.comparisons.conftest import make_items

pytestmark = pytest.mark.django_db


def _two_metrics(index, sample, epoch):
    # "match": model 0 right on 0-9 of 20, model 1 right on 0-15; "f1/score": a partial-credit value
    right = sample < (10 if index == 0 else 16)
    return {"match": {"value": "C" if right else "I", "numeric": None},
            "f1": {"value": {"score": 0.25 * (sample % 4) + 0.05 * index}}}


def test_every_metric_every_pair_with_intervals_tests_corrections_and_verdicts(exercise, uk_staff, us_staff, api_as):
    items = make_items(exercise=exercise, user=uk_staff, names=["Alpha", "Beta", "Gamma"], samples=20,
                       scores=_two_metrics)
    body = api_as(us_staff).get("/api/v1/compare/", {"items": ",".join(str(i.pk) for i in items)}).json()
    assert body["metric_names"] == ["f1/score", "match"]  # every metric, in name order
    match = body["metrics"][1]
    assert match["binary"] and match["points"]
    first = match["estimates"][0]
    assert first["mean"] == 0.5 and first["method"] == "wilson" and first["n"] == 20
    assert 0.0 <= first["ci"][0] < 0.5 < first["ci"][1] <= 1.0
    assert body["items"][0]["scores"]["match"]["ci"] == first["ci"]
    assert body["items"][0]["score"]["ci95"] == body["metrics"][0]["estimates"][0]["ci"]  # CONTRACT.md's shape
    # 3 items: 3 pairs per metric, 6 comparisons corrected together
    assert len(body["differences"]) == 6
    ab = next(d for d in body["differences"] if d["metric"] == "match" and d["base"] == items[0].pk
              and d["item"] == items[1].pk)
    assert ab["difference"]["mean"] == pytest.approx(0.3) and ab["test"] == "mcnemar-exact"
    assert ab["only_b"] == 6 and ab["only_a"] == 0
    assert ab["p_value"] == pytest.approx(mcnemar([[10, 0], [6, 4]], exact=True).pvalue)
    raw = [d["p_value"] for d in body["differences"]]
    assert ab["p_adjusted"] == ab["p_holm"] and ab["p_holm"] >= ab["p_value"] and ab["p_bh"] >= ab["p_value"]
    assert ab["verdict"].startswith(f"Beta v1 (item {items[1].pk}) is higher than Alpha v1 (item {items[0].pk}) "
                                    "by 30.0 points, 95 % CI")
    assert "Holm" in ab["verdict"]
    f1 = next(d for d in body["differences"] if d["metric"] == "f1/score" and d["item"] == items[1].pk
              and d["base"] == items[0].pk)
    assert f1["test"] == "paired-t" and f1["difference"]["mean"] == pytest.approx(0.05)
    assert f1["ci"] == pytest.approx([0.05, 0.05]) and f1["correlation"] == pytest.approx(1.0)
    assert None not in raw[3:]


def test_epochs_are_averaged_within_a_sample_and_the_paired_t_test_matches_scipy(exercise, uk_staff, us_staff,
                                                                                api_as):
    def scores(index, sample, epoch):
        return {"acc": {"value": float((sample * 7 + epoch * 3 + index * 5) % 4 == 0)}}

    items = make_items(exercise=exercise, user=uk_staff, names=["A", "B"], samples=30, epochs=3, scores=scores)
    body = api_as(us_staff).get("/api/v1/compare/", {"items": f"{items[0].pk},{items[1].pk}"}).json()
    estimate = body["metrics"][0]["estimates"][0]
    assert (estimate["n"], estimate["scores"]) == (30, 90) and estimate["binary"] is not False
    assert 0.0 <= estimate["ci"][0] <= estimate["ci"][1] <= 1.0
    means = [[sum(scores(i, s, e)["acc"]["value"] for e in (1, 2, 3)) / 3 for s in range(30)] for i in (0, 1)]
    diff = body["differences"][0]
    assert diff["test"] == "paired-t"  # epoch means are not 0 or 1: no McNemar
    assert diff["p_value"] == pytest.approx(stats.ttest_rel(means[1], means[0]).pvalue)


def test_a_metadata_cluster_field_widens_the_interval(exercise, uk_staff, us_staff, api_as):
    items = make_items(exercise=exercise, user=uk_staff, names=["A", "B"], samples=40,
                       scores=lambda i, s, e: {"m": {"value": float((s // 8) % 2 == i)}},
                       metadata=lambda s: {"passage": f"p{s // 8}"})
    ids = f"{items[0].pk},{items[1].pk}"
    client = api_as(us_staff)
    plain = client.get("/api/v1/compare/", {"items": ids}).json()
    clustered = client.get("/api/v1/compare/", {"items": ids, "cluster": "passage"}).json()
    assert clustered["cluster"] == "passage" and clustered["metrics"][0]["estimates"][0]["clusters"] == 5
    width = lambda e: e["ci"][1] - e["ci"][0]  # noqa: E731
    assert width(clustered["metrics"][0]["estimates"][0]) > width(plain["metrics"][0]["estimates"][0])
    assert clustered["differences"][0]["test"] == "paired-t"
    bad = client.get("/api/v1/compare/", {"items": ids, "cluster": "no spaces; please"})
    assert bad.status_code == 400 and "metadata field" in bad.json()["errors"]["cluster"][0]


def test_the_side_by_side_shows_disagreements_and_errors_with_both_transcripts(exercise, uk_staff, us_staff,
                                                                              sign_in):
    def scores(index, sample, epoch):
        if sample == 5 and index == 1:
            return {}, "RuntimeError: the model timed out"
        return {"match": {"value": "C" if sample < (2 if index == 0 else 4) else "I"}}

    items = make_items(exercise=exercise, user=uk_staff, names=["A", "B"], samples=8, scores=scores)
    client = sign_in(Client(), us_staff)
    response = client.get("/runs/compare/", {"items": [items[0].pk, items[1].pk]})
    body = response.content.decode()
    assert response.status_code == 200
    assert "3 samples, side by side" in body  # s2 and s3 disagree, s5 errored in B
    assert "RuntimeError: the model timed out" in body
    for item in items:
        pk = SampleResult.objects.get(item=item, sample_id="s2").pk
        assert f'href="/samples/{pk}/"' in body
    assert ">s0<" not in body  # agreeing samples are left out


def test_the_page_has_plots_with_text_alternatives_beside_their_data_tables(exercise, uk_staff, us_staff, sign_in):
    items = make_items(exercise=exercise, user=uk_staff, names=["<script>alert(1)</script>", "Plain"], samples=12,
                       scores=_two_metrics)
    body = sign_in(Client(), us_staff).get("/runs/compare/", {"items": [i.pk for i in items]}).content.decode()
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert body.count('role="img"') == 6  # bars, forest, histograms for each of the 2 metrics
    assert 'aria-labelledby="plot-bars-0-title plot-bars-0-desc"' in body
    assert '<title id="plot-forest-1-title">Paired differences in match</title>' in body
    assert "Filled circle: significant after Holm correction" in body  # shape, in words, not colour alone
    assert "style=" not in body.split("<main", 1)[1]  # the CSP allows no inline style
    assert "Samples by match (the data of the histograms)" in body and "Mean match with a 95% confidence" in body


def test_csv_and_json_exports_neutralise_formulas(exercise, uk_staff, us_staff, sign_in):
    items = make_items(exercise=exercise, user=uk_staff, names=["=HYPERLINK(1)", "@Other"], samples=4,
                       scores=lambda i, s, e: {"match": {"value": "C" if s < 1 + i else "I"}})
    client = sign_in(Client(), us_staff)
    query = {"items": f"{items[0].pk},{items[1].pk}"}
    response = client.get("/runs/compare/export/", {**query, "format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    kinds = {row["row"] for row in rows}
    assert kinds == {"estimate", "difference", "sample"}
    assert {row["model"] for row in rows if row["row"] == "estimate"} == {"'=HYPERLINK(1) v1", "'@Other v1"}
    difference = next(row for row in rows if row["row"] == "difference")
    assert float(difference["value"]) == pytest.approx(0.25) and difference["verdict"]
    data = json.loads(client.get("/runs/compare/export/", {**query, "format": "json"}).content)
    assert data["differences"][0]["p_value"] is not None and data["items"][0]["model_name"] == "=HYPERLINK(1) v1"
    assert client.get("/runs/compare/export/", {**query, "format": "xls"}).status_code == 400


def test_imported_logs_of_the_same_task_and_samples_count_as_one_evaluation(exercise, uk_staff, us_staff, api_as):
    run = Run.objects.create(exercise=exercise, created_by=uk_staff, owner_id=uk_staff.organisation_id,
                             name="Imported", state=Run.State.SUCCEEDED)

    def imported(label, sample_ids):
        item = RunItem.objects.create(run=run, model_label=label, task_label="inspect_evals/gpqa",
                                      state=RunItem.State.SUCCEEDED)
        SampleResult.objects.bulk_create([SampleResult(item=item, sample_id=s, scores={"m": {"value": 1}})
                                          for s in sample_ids])
        return item

    a, b = imported("openai/a", ["1", "2", "3"]), imported("openai/b", ["3", "2", "1"])
    c = imported("openai/c", ["1", "2"])
    client = api_as(us_staff)
    assert client.get("/api/v1/compare/", {"items": f"{a.pk},{b.pk}"}).status_code == 200
    refused = client.get("/api/v1/compare/", {"items": f"{a.pk},{c.pk}"})
    assert refused.status_code == 400 and "scored different samples" in refused.json()["errors"]["items"][0]


def _count(client, url, params) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, params).status_code == 200
    return len(queries)


def test_query_counts_do_not_grow_with_the_number_of_samples(exercise, uk_staff, us_staff, sign_in, api_as):
    page, api = sign_in(Client(), us_staff), api_as(us_staff)
    counts = []
    for samples in (3, 60):
        items = make_items(exercise=exercise, user=uk_staff, names=[f"A{samples}", f"B{samples}"],
                           samples=samples, scores=lambda i, s, e: ({"m": {"value": float((s + i) % 3 == 0)}},
                                                                    "boom" if s % 5 == 0 else ""))
        params = {"items": f"{items[0].pk},{items[1].pk}"}
        page.get("/runs/compare/", params)  # warm the session
        counts.append((_count(page, "/runs/compare/", params), _count(api, "/api/v1/compare/", params),
                       _count(page, "/runs/compare/export/", {**params, "format": "csv"})))
    assert counts[0] == counts[1], counts


def test_partner_viewers_reach_no_comparison(exercise, uk_staff, partner_viewer, sign_in, api_as):
    items = make_items(exercise=exercise, user=uk_staff, names=["A", "B"], samples=3,
                       scores=lambda i, s, e: {"m": {"value": 1}})
    params = {"items": f"{items[0].pk},{items[1].pk}"}
    client = sign_in(Client(), partner_viewer)
    assert client.get("/runs/compare/", params).status_code == 404
    assert client.get("/runs/compare/export/", {**params, "format": "csv"}).status_code == 404
    assert api_as(partner_viewer).get("/api/v1/compare/", params).status_code == 404


def test_verdicts_in_words():
    from evaluations.selectors.comparisons import verdict_text

    said = verdict_text(a="A", b="B", difference=-0.041, ci=(-0.070, -0.012), p_value=0.004, p_holm=0.012, n=200,
                        points=True)
    assert said == "B is lower than A by 4.1 points, 95 % CI 1.2 to 7.0; significant after Holm correction."
    crossing = verdict_text(a="A", b="B", difference=0.01, ci=(-0.02, 0.04), p_value=0.5, p_holm=1.0, n=50,
                            points=True)
    assert crossing == ("B is higher than A by 1.0 point, 95 % CI from 2.0 lower to 4.0 higher; not significant "
                        "(the difference may be chance).")
    lead = verdict_text(a="A", b="B", difference=0.3, ci=(0.1, 0.5), p_value=0.03, p_holm=0.09, n=20, points=False)
    assert lead.startswith("B is higher than A by 0.3, 95 % CI 0.1 to 0.5") and "not after Holm" in lead
    assert "same mean" in verdict_text(a="A", b="B", difference=0.0, ci=(-0.1, 0.1), p_value=1.0, p_holm=1.0,
                                       n=10, points=True)
    assert "no scored samples in common" in verdict_text(a="A", b="B", difference=None, ci=None, p_value=None,
                                                         p_holm=None, n=0, points=True)


def test_the_rows_read_as_one_json_array_keep_every_value(exercise, uk_staff, us_staff, api_as):
    """The samples come from PostgreSQL as one JSON array per item (``_samples_load``): a non-finite ``score``
    column (JSON has no NaN: it arrives as a string) is no score, an error with control characters and non-ASCII
    text arrives as written, the first epoch's transcript is linked whatever order the rows come in, and sample
    ids sort as numbers ("s2" before "s10")."""
    items = make_items(exercise=exercise, user=uk_staff, names=["A", "B"], samples=12, epochs=2,
                       scores=lambda index, sample, epoch: {"acc": {"value": float(sample < 6 + 3 * index)}})
    SampleResult.objects.filter(item=items[0], sample_id="s0").update(scores={}, score=float("nan"))
    SampleResult.objects.filter(item=items[1], sample_id="s1").update(scores={}, score=float("inf"))
    error = 'Boom\x01 "quoted" \\ café ✓'
    SampleResult.objects.filter(item=items[1], sample_id="s10", epoch=2).update(error=error)
    body = api_as(us_staff).get("/api/v1/compare/", {"items": f"{items[0].pk},{items[1].pk}"}).json()
    assert body["metric_names"] == ["acc"]  # the non-finite score columns gave no "score" metric
    estimates = body["metrics"][0]["estimates"]
    assert [e["n"] for e in estimates] == [11, 11]
    rows = body["samples"]["results"]
    # s0 has no score in A, s1 none in B, s6-s8 differ, s10 errored in B
    assert [r["sample_id"] for r in rows] == ["s0", "s1", "s6", "s7", "s8", "s10"]
    errored = next(r for r in rows if r["sample_id"] == "s10")
    assert errored["cells"][1]["error"] == error
    first_epoch = SampleResult.objects.get(item=items[1], sample_id="s10", epoch=1)
    assert errored["cells"][1]["sample"] == first_epoch.pk
