"""Full-text search (issue 13 part 7): ranking, highlighting that escapes the text, the access layer (staff outside an
exercise find nothing of it), the vectors kept right by every write (a sample's until the indexer runs again), the GIN
index, bad queries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from evaluations.models import SampleResult
from evaluations.selectors.search import (
    START,
    STOP,
    _sample_matches,
    search_hits,
    search_query,
    search_results,
)
from evaluations.services import findings as services
from evaluations.services.search import samples_index
from tests.findings.factories import finding_data, finished_run
from tests.support.factories import ExerciseFactory

pytestmark = pytest.mark.django_db


def _samples(run):
    return list(SampleResult.objects.filter(item__run=run).order_by("sample_id"))


def _index(run):
    """What the indexing task does after an ingestion (a change of a sample's texts leaves it unindexed)."""
    for item in run.items.all():
        samples_index(item_id=item.pk)


def _refs(user, q, kind=""):
    return [(hit["hit_kind"], hit["hit_ref"]) for hit in search_hits(user=user, q=q, kind=kind)]


def test_a_match_in_a_heavier_field_ranks_higher(exercise, uk_staff, cyber):
    run = finished_run(exercise=exercise, user=uk_staff, samples=4)
    in_transcript, in_explanation, in_input, in_output = _samples(run)
    SampleResult.objects.filter(pk=in_transcript.pk).update(
        messages=[{"role": "assistant", "content": [{"type": "text", "text": "a walrus appeared"}]}])
    SampleResult.objects.filter(pk=in_explanation.pk).update(explanation="graded: walrus")
    SampleResult.objects.filter(pk=in_input.pk).update(input_text="Tell me about the walrus")
    SampleResult.objects.filter(pk=in_output.pk).update(output="The walrus is large")
    _index(run)
    assert _refs(uk_staff, "walrus") == [("sample", s.pk) for s in (in_output, in_input, in_explanation,
                                                                   in_transcript)]
    # findings: a title match outranks a summary match, which outranks an evidence excerpt match
    sample = in_output
    plain = [{"sample": sample.pk, "excerpt": "unrelated", "redactions": []}]
    by_title = services.finding_create(actor=uk_staff, exercise=exercise, data=finding_data(
        run, title="Narwhal", evidence=plain))
    by_summary = services.finding_create(actor=uk_staff, exercise=exercise, data=finding_data(
        run, title="Second", summary="A narwhal was seen", evidence=plain))
    by_excerpt = services.finding_create(actor=uk_staff, exercise=exercise, data=finding_data(
        run, title="Third", evidence=[{"sample": sample.pk, "excerpt": "the narwhal", "redactions": []}]))
    assert _refs(uk_staff, "narwhal", "finding") == [("finding", f.pk) for f in (by_title, by_summary, by_excerpt)]
    # both kinds in one ranked list
    assert {kind for kind, _ in _refs(uk_staff, "walrus OR narwhal")} == {"sample", "finding"}


def test_websearch_syntax_phrases_or_and_minus(exercise, uk_staff, cyber):
    run = finished_run(exercise=exercise, user=uk_staff, samples=3)
    a, b, c = _samples(run)
    SampleResult.objects.filter(pk=a.pk).update(output="red apples fall")
    SampleResult.objects.filter(pk=b.pk).update(output="apples are red")
    SampleResult.objects.filter(pk=c.pk).update(output="green pears")
    _index(run)
    assert {r for _, r in _refs(uk_staff, '"red apples"')} == {a.pk}
    assert {r for _, r in _refs(uk_staff, "apples -fall")} == {b.pk}
    assert {r for _, r in _refs(uk_staff, "pears or fall")} == {a.pk, c.pk}
    assert {r for _, r in _refs(uk_staff, "apple")} == {a.pk, b.pk}  # stemmed


def test_highlights_escape_the_text_and_mark_only_the_matches(client, sign_in, exercise, uk_staff, cyber, api_for):
    run = finished_run(exercise=exercise, user=uk_staff, samples=1)
    (sample,) = _samples(run)
    hostile = (f'<script>alert("x")</script> <img src=x onerror=alert(1)> {START}fake{STOP} '
               "<mark>not ours</mark> the platypus & co")
    SampleResult.objects.filter(pk=sample.pk).update(output=hostile)
    _index(run)
    finding = services.finding_create(actor=uk_staff, exercise=exercise, data=finding_data(
        run, title="<b>platypus</b> title", summary="<script>bad()</script> platypus"))
    results = search_results(user=uk_staff, q="platypus", hits=list(search_hits(user=uk_staff, q="platypus")))
    assert {r.kind for r in results} == {"sample", "finding"}
    for result in results:
        text = str(result.highlight) + str(result.title_html)
        assert "<script" not in text and "<img" not in text and "<b>" not in text
        assert START not in text and STOP not in text
        assert text.count("<mark>") == text.count("</mark>") >= 1
        assert "<mark>platypus</mark>" in text
        assert text.replace("<mark>", "").replace("</mark>", "").count("<") == 0
    sample_result = next(r for r in results if r.kind == "sample")
    # PostgreSQL's parser drops what looks like a tag from a headline; whatever is left is escaped
    assert "&amp; co" in sample_result.highlight and "onerror=alert(1)&gt;" in sample_result.highlight
    assert "not ours" in sample_result.highlight and "<mark>not ours" not in sample_result.highlight
    assert "fake" in sample_result.highlight and "<mark>fake" not in sample_result.highlight
    finding_result = next(r for r in results if r.kind == "finding")
    assert finding_result.url == f"/findings/{finding.pk}/"
    # the page and the API carry the same escaped text
    sign_in(client, uk_staff)
    page = client.get("/search/", {"q": "platypus"}).content.decode()
    assert "<mark>platypus</mark>" in page and '<script>alert("x")' not in page and "<img src=x" not in page
    body = api_for(uk_staff).get("/api/v1/search/", {"q": "platypus"}).json()
    assert body["count"] == 2
    assert all("<script" not in r["highlight"] and "<mark>platypus</mark>" in r["highlight"]
               for r in body["results"])


def test_every_write_keeps_the_vector_right_a_sample_s_once_indexed_again(exercise, uk_staff, cyber):
    run = finished_run(exercise=exercise, user=uk_staff, samples=1)
    (sample,) = _samples(run)
    assert _refs(uk_staff, "quokka") == []
    SampleResult.objects.filter(pk=sample.pk).update(output="a quokka smiles")
    assert _refs(uk_staff, "quokka") == []  # the old vector is gone (the trigger), the new one not made yet
    assert samples_index(item_id=sample.item_id) == 1
    assert _refs(uk_staff, "quokka") == [("sample", sample.pk)]
    sample.refresh_from_db()
    sample.score = 0.25
    sample.save()  # every column is written, no text changes: the vector stays
    assert _refs(uk_staff, "quokka") == [("sample", sample.pk)]
    sample.output = "a numbat"
    sample.save()
    assert _refs(uk_staff, "quokka") == [] and _refs(uk_staff, "numbat") == []
    assert samples_index(item_id=sample.item_id) == 1
    assert _refs(uk_staff, "quokka") == [] and _refs(uk_staff, "numbat") == [("sample", sample.pk)]
    finding = services.finding_create(actor=uk_staff, exercise=exercise, data=finding_data(run, title="Ocelot"))
    assert _refs(uk_staff, "ocelot") == [("finding", finding.pk)]
    services.finding_update(actor=uk_staff, finding=finding, data=finding_data(run, title="Lynx"),
                            revision=finding.revision)
    assert _refs(uk_staff, "ocelot") == [] and _refs(uk_staff, "lynx") == [("finding", finding.pk)]


def test_staff_find_nothing_of_an_exercise_their_institute_does_not_take_part_in(
        client, sign_in, uk_aisi, us_aisi, uk_staff, us_staff, admin_user, cyber, api_for):
    us_only = ExerciseFactory(name="US only", institutes=[us_aisi], partners=[])
    run = finished_run(exercise=us_only, user=us_staff, samples=1)
    SampleResult.objects.filter(item__run=run).update(output="the capybara sample")
    _index(run)
    services.finding_create(actor=us_staff, exercise=us_only, data=finding_data(run, title="Capybara finding"))
    assert len(_refs(us_staff, "capybara")) == 2
    assert len(_refs(admin_user, "capybara")) == 2  # admins read every exercise (ROLES.md)
    assert _refs(uk_staff, "capybara") == []
    sign_in(client, uk_staff)
    page = client.get("/search/", {"q": "capybara"}).content.decode()
    assert "Capybara finding" not in page and "capybara sample" not in page
    assert api_for(uk_staff).get("/api/v1/search/", {"q": "capybara"}).json()["count"] == 0


def test_the_sample_search_uses_the_gin_index(exercise, uk_staff, cyber):
    finished_run(exercise=exercise, user=uk_staff, samples=3)
    matches = _sample_matches(user=uk_staff, query=search_query("walrus"), limit=5001)
    sql, params = matches.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "evaluations_sampleresult_search" in plan, plan


@pytest.mark.parametrize("q", ["", "   ", "x" * 10_000, "a\x00b", "a\x07b", '"" - OR -', "-", "the and of", "!!!",
                               "'; DROP TABLE evaluations_sampleresult; --", "a:*", "(((", "<script>"])
def test_bad_queries_are_4xx_or_empty_never_500(client, sign_in, uk_staff, partner_viewer, exercise, cyber, api_for,
                                                 q):
    run = finished_run(exercise=exercise, user=uk_staff, samples=1)
    SampleResult.objects.filter(item__run=run).update(output="script table drop")
    _index(run)
    for user in (uk_staff, partner_viewer):
        sign_in(client, user)
        page = client.get("/search/", {"q": q})
        assert page.status_code in (200, 400), (q, page.status_code)
        if page.status_code == 200 and q.strip():
            assert "found" in page.content.decode() or "Nothing you can see" in page.content.decode()
        api = api_for(user).get("/api/v1/search/", {"q": q})
        assert api.status_code in (200, 400), (q, api.status_code)
        if api.status_code == 400:
            assert "q" in str(api.json())
        if q in ('"" - OR -', "-", "the and of", "!!!", "((("):
            assert api.status_code == 200 and api.json()["count"] == 0
    assert SampleResult.objects.filter(item__run=run).count() == 1


def test_a_bad_kind_or_page_is_a_4xx(uk_staff, exercise, cyber, api_for):
    api = api_for(uk_staff)
    assert api.get("/api/v1/search/", {"q": "x", "kind": "runs"}).status_code == 400
    assert api.get("/api/v1/search/", {"q": "x", "page": "99"}).status_code == 404
    assert api.get("/api/v1/search/").status_code == 400


def _count(client, url, params) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, params).status_code == 200
    return len(queries)


def test_search_costs_the_same_number_of_queries_with_few_and_many_matches(client, sign_in, exercise, uk_staff,
                                                                            cyber, api_for):
    def grow(n):
        run = finished_run(exercise=exercise, user=uk_staff, name=f"Run {n}", samples=n)
        SampleResult.objects.filter(item__run=run).update(output="the wombat answer")
        _index(run)
        services.finding_create(actor=uk_staff, exercise=exercise, data=finding_data(run, title=f"Wombat {n}"))

    grow(2)
    sign_in(client, uk_staff)
    api = api_for(uk_staff)
    urls = [(client, "/search/", {"q": "wombat"}), (client, "/search/", {"q": "wombat", "kind": "sample"}),
            (api, "/api/v1/search/", {"q": "wombat"}), (api, "/api/v1/search/", {"q": "wombat", "kind": "finding"})]
    for who, url, params in urls:
        _count(who, url, params)  # warm-up
    few = [_count(who, url, params) for who, url, params in urls]
    for n in range(3, 9):
        grow(n * 4)
    many = [_count(who, url, params) for who, url, params in urls]
    assert many == few
    assert api.get("/api/v1/search/", {"q": "wombat"}).json()["count"] == 2 + sum(n * 4 for n in range(3, 9)) + 7
