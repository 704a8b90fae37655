"""Search indexing off the insert path (issue 13, "Speed"; migration 0012): ingested samples have no vector until the
indexing task fills it, with the very vector the generated column of migration 0009 computed; the task is idempotent;
a real worker indexes an imported log's samples; the sweep and ``manage.py search_index`` catch what a lost task left;
the search page and API say how many samples are still being indexed. And the cap on ranked matches
(``SEARCH_RANK_MAX``): only the first matches found that the reader may see are ranked, the newest samples searched
first, counted in one bounded query, and the reader is told."""

from __future__ import annotations

import importlib
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from evaluations.models import Exercise, Run, RunItem, SampleResult
from evaluations.selectors import search as search_selectors
from evaluations.selectors.search import (
    items_unindexed,
    samples_unindexed_count,
    search_hits,
    search_sample_matches,
    unindexed,
)
from evaluations.services import search as search_services
from evaluations.services.execution import samples_ingest
from evaluations.services.imports import run_import
from evaluations.services.search import samples_index
from tests.findings.factories import finished_run
from tests.support.workers import celery_worker, wait_for

GENERATED = importlib.import_module("evaluations.migrations.0012_search_deferred").VECTOR


def _unindexed(item_id: int) -> int:
    return SampleResult.objects.filter(unindexed(), item_id=item_id).count()


def _sample_refs(user, q):
    return {hit["hit_ref"] for hit in search_hits(user=user, q=q, kind="sample")}


def _counted(user, q):
    found = search_sample_matches(user=user, q=q)
    return found.count, found.capped


def _item(exercise, user):
    run = Run.objects.create(
        exercise=exercise, created_by=user, owner=user.organisation, name="Ingested", state="succeeded"
    )
    return RunItem.objects.create(
        run=run, model_label="mockllm/model", task_label="counting", state="succeeded"
    )


@pytest.mark.django_db
def test_ingested_samples_are_searchable_once_indexed_with_the_generated_column_s_vector(
    exercise, uk_staff, inspect_log, django_capture_on_commit_callbacks
):
    item = _item(exercise, uk_staff)
    with django_capture_on_commit_callbacks() as callbacks:
        samples_ingest(item_id=item.pk, log_path=str(inspect_log))
    assert len(callbacks) == 1  # the indexing task is sent once the rows are committed
    rows = SampleResult.objects.filter(item=item)
    assert rows.count() == 4 and _unindexed(item.pk) == 4
    assert _sample_refs(uk_staff, "say") == set()  # every input is "Say <n>.": not indexed, not found
    assert samples_unindexed_count(user=uk_staff) == 4
    assert samples_index(item_id=item.pk, batch_size=3) == 4  # two batches
    assert _unindexed(item.pk) == 0 and samples_unindexed_count(user=uk_staff) == 0
    assert _sample_refs(uk_staff, "say") == set(rows.values_list("pk", flat=True))
    with connection.cursor() as cursor:  # the vector migration 0009's generated column computed, exactly
        cursor.execute(
            f"SELECT count(*) FROM evaluations_sampleresult WHERE item_id = %s "  # noqa: S608
            f"AND search_vector IS DISTINCT FROM ({GENERATED})",
            [item.pk],
        )
        assert cursor.fetchone() == (0,)
    # idempotent: a second run (a task delivered twice) finds nothing to do and changes nothing
    assert samples_index(item_id=item.pk) == 0
    # a second ingestion of the same log: the texts do not change, so the vectors stay
    samples_ingest(item_id=item.pk, log_path=str(inspect_log))
    assert _unindexed(item.pk) == 0


@pytest.mark.django_db
def test_a_changed_text_drops_the_vector_until_the_indexer_runs(exercise, uk_staff, cyber):
    run = finished_run(exercise=exercise, user=uk_staff, samples=2)
    first, second = SampleResult.objects.filter(item__run=run).order_by("pk")
    assert _unindexed(first.item_id) == 0
    SampleResult.objects.filter(pk=first.pk).update(explanation="the dugong rule")
    SampleResult.objects.filter(pk=second.pk).update(score=0.75)  # not a text: the vector stays
    assert _unindexed(first.item_id) == 1 and _sample_refs(uk_staff, "dugong") == set()
    assert samples_index(item_id=first.item_id) == 1
    assert _sample_refs(uk_staff, "dugong") == {first.pk}


@pytest.mark.django_db
def test_the_page_and_api_say_how_many_samples_are_still_being_indexed(
    client, sign_in, exercise, uk_staff, partner_viewer, cyber, api_for
):
    run = finished_run(exercise=exercise, user=uk_staff, samples=3)
    SampleResult.objects.filter(item__run=run).update(output="an unindexed axolotl")
    sign_in(client, uk_staff)
    page = client.get("/search/", {"q": "axolotl"}).content.decode()
    assert "3 samples are still being indexed" in page
    body = api_for(uk_staff).get("/api/v1/search/", {"q": "axolotl"}).json()
    assert body["count"] == 0 and body["unindexed_samples"] == 3 and body["capped"] is False
    samples_index(item_id=run.items.get().pk)
    page = client.get("/search/", {"q": "axolotl"}).content.decode()
    assert "still being indexed" not in page and "3 found" in page
    assert api_for(uk_staff).get("/api/v1/search/", {"q": "axolotl"}).json()["unindexed_samples"] == 0
    # a partner viewer searches no sample: nothing said about them
    SampleResult.objects.filter(item__run=run).update(output="axolotl again")
    sign_in(client, partner_viewer)
    assert "being indexed" not in client.get("/search/", {"q": "axolotl"}).content.decode()
    assert api_for(partner_viewer).get("/api/v1/search/", {"q": "axolotl"}).json()["unindexed_samples"] == 0


@pytest.mark.django_db
def test_the_sweep_and_the_command_index_finished_items_only(exercise, uk_staff, cyber):
    done = finished_run(exercise=exercise, user=uk_staff, name="Done", samples=2).items.get()
    busy = finished_run(exercise=exercise, user=uk_staff, name="Busy", samples=2).items.get()
    SampleResult.objects.filter(item__in=[done, busy]).update(output="left unindexed")
    RunItem.objects.filter(pk=busy.pk).update(state="running")  # its ingestion sends the task when it ends
    assert items_unindexed(limit=10) == [done.pk]
    assert items_unindexed(limit=10, finished_only=False) == [done.pk, busy.pk]
    out = io.StringIO()
    call_command("search_index", stdout=out)
    assert "Indexed 2 sample(s) of 1 item(s)." in out.getvalue()
    assert _unindexed(done.pk) == 0 and _unindexed(busy.pk) == 2
    call_command("search_index", "--include-running", stdout=out)
    assert _unindexed(busy.pk) == 0
    assert items_unindexed(limit=10, finished_only=False) == []


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_indexes_an_imported_log_and_the_sweep_what_a_lost_task_left(
    settings, tmp_path, exercise, uk_staff, cyber, inspect_log, redis_client
):
    settings.MEDIA_ROOT = tmp_path / "media"
    upload = SimpleUploadedFile("log.eval", inspect_log.read_bytes())
    with celery_worker(extra_env={"MEDIA_ROOT": str(settings.MEDIA_ROOT)}) as worker:
        run = run_import(actor=uk_staff, exercise=exercise, upload=upload)  # commits, then sends the task
        item = run.items.get()
        wait_for(
            lambda: _unindexed(item.pk) == 0, timeout=60, message=f"the indexing task\n{worker.log()[-3000:]}"
        )
        assert len(_sample_refs(uk_staff, "say")) == 4
        # a task lost (a worker died, Redis lost the message): the sweep sends it again
        SampleResult.objects.filter(item=item).update(output="the lost okapi")
        assert _unindexed(item.pk) == 4
        assert search_services.samples_index_sweep() == [item.pk]
        wait_for(
            lambda: _unindexed(item.pk) == 0, timeout=60, message=f"the swept task\n{worker.log()[-3000:]}"
        )
        assert len(_sample_refs(uk_staff, "okapi")) == 4


# --- The cap on ranked matches ----------------------------------------------------------------------------------------


def _matching_run(*, exercise, user, samples, word, name="Finished run"):
    run = finished_run(exercise=exercise, user=user, samples=samples, name=name)
    SampleResult.objects.filter(item__run=run).update(output=f"a {word}")
    samples_index(item_id=run.items.get().pk)
    return run


@pytest.mark.django_db
def test_only_the_first_matches_found_are_ranked_and_the_reader_is_told_truthfully(
    client, sign_in, exercise, uk_staff, cyber, api_for
):
    run = _matching_run(exercise=exercise, user=uk_staff, samples=5, word="quoll")
    matching = set(SampleResult.objects.filter(item__run=run).values_list("pk", flat=True))
    with override_settings(SEARCH_RANK_MAX=3):
        ranked = _sample_refs(uk_staff, "quoll")
        assert len(ranked) == 3 and ranked <= matching
        assert _counted(uk_staff, "quoll") == (3, True)
        sign_in(client, uk_staff)
        page = client.get("/search/", {"q": "quoll", "kind": "sample"}).content.decode()
        assert "More than 3 samples found" in page and "the first 3 found are ranked" in page
        assert "the newest samples searched first" in page
        page = client.get("/search/", {"q": "quoll"}).content.decode()
        assert "More than 3 found" in page and "the first 3 found are ranked" in page
        body = api_for(uk_staff).get("/api/v1/search/", {"q": "quoll", "kind": "sample"}).json()
        assert body["capped"] is True and body["count"] == 3 and len(body["results"]) == 3
        assert {r["id"] for r in body["results"]} <= matching
        body = api_for(uk_staff).get("/api/v1/search/", {"q": "quoll"}).json()  # both kinds: 3 samples, no finding
        assert body["capped"] is True and body["count"] == 3
    # as many matches as the cap: every one is ranked, nothing said
    with override_settings(SEARCH_RANK_MAX=5):
        assert _sample_refs(uk_staff, "quoll") == matching
        assert _counted(uk_staff, "quoll") == (5, False)
        body = api_for(uk_staff).get("/api/v1/search/", {"q": "quoll", "kind": "sample"}).json()
        assert body["capped"] is False and body["count"] == 5
        assert "are ranked" not in client.get("/search/", {"q": "quoll"}).content.decode()


@pytest.mark.django_db
def test_the_newest_matches_are_the_ones_ranked(exercise, uk_staff, cyber):
    old = _matching_run(exercise=exercise, user=uk_staff, samples=4, word="quokka", name="Old")
    new = _matching_run(exercise=exercise, user=uk_staff, samples=3, word="quokka", name="New")
    newest = set(SampleResult.objects.filter(item__run=new).values_list("pk", flat=True))
    assert min(newest) > max(SampleResult.objects.filter(item__run=old).values_list("pk", flat=True))
    with override_settings(SEARCH_RANK_MAX=3):
        assert _sample_refs(uk_staff, "quokka") == newest
        assert _counted(uk_staff, "quokka") == (3, True)


@pytest.mark.django_db
@pytest.mark.parametrize("estimate", [0.0, 1e9], ids=["rare-word-gin", "common-word-primary-key"])
@pytest.mark.parametrize("recent_matches", [0, 1, 3])
def test_matches_older_than_the_newest_samples_are_found_once(monkeypatch, exercise, uk_staff, us_aisi, us_staff,
                                                              cyber, recent_matches, estimate):
    # the newest part of the search reads 1 x (cap + 1) = 4 ids here: the 5 old matches lie before it, behind 10
    # newer samples that do not match (and recent_matches newer ones that do); every match is found, none twice,
    # whichever way PostgreSQL's estimate sends the newest part (the GIN index, or down the primary key); and never
    # the matches of an exercise the reader does not take part in, old or new
    monkeypatch.setattr(search_selectors, "NEWEST_SCANNED_PER_RANKED", 1)
    monkeypatch.setattr(search_selectors, "_estimated_matches", lambda queryset: estimate)
    hidden = Exercise.objects.create(name="US only", status="active")
    hidden.institutes.set([us_aisi])
    _matching_run(exercise=hidden, user=us_staff, samples=2, word="potoroo", name="Hidden old")
    old = _matching_run(exercise=exercise, user=uk_staff, samples=5, word="potoroo", name="Old")
    _matching_run(exercise=exercise, user=uk_staff, samples=10, word="bandicoot", name="Newer")
    recent = _matching_run(exercise=exercise, user=uk_staff, samples=recent_matches, word="potoroo", name="Newest")
    _matching_run(exercise=hidden, user=us_staff, samples=2, word="potoroo", name="Hidden new")
    matching = set(SampleResult.objects.filter(item__run__in=[old, recent]).values_list("pk", flat=True))
    with override_settings(SEARCH_RANK_MAX=20):
        assert _sample_refs(uk_staff, "potoroo") == matching
        assert _counted(uk_staff, "potoroo") == (5 + recent_matches, False)
    with override_settings(SEARCH_RANK_MAX=3):
        found = search_sample_matches(user=uk_staff, q="potoroo")
        assert len(set(found.ids)) == 3 and set(found.ids) <= matching and found.capped
        if recent_matches:
            assert found.ids[0] == max(matching)  # the newest match the reader sees comes first


@pytest.mark.django_db
def test_the_cap_counts_only_matches_the_reader_may_see(exercise, uk_aisi, us_aisi, uk_staff, us_staff, cyber,
                                                       api_for):
    # 6 matches in an exercise UK does not take part in, 2 in one it does: with a cap of 3, UK staff get their 2, all
    # ranked and not capped (the access layer filters inside the limited scan, not after it)
    hidden = Exercise.objects.create(name="US only", status="active")
    hidden.institutes.set([us_aisi])
    _matching_run(exercise=hidden, user=us_staff, samples=6, word="wombat", name="Hidden")
    mine = _matching_run(exercise=exercise, user=uk_staff, samples=2, word="wombat", name="Mine")
    with override_settings(SEARCH_RANK_MAX=3):
        assert _sample_refs(uk_staff, "wombat") == set(
            SampleResult.objects.filter(item__run=mine).values_list("pk", flat=True))
        assert _counted(uk_staff, "wombat") == (2, False)
        body = api_for(uk_staff).get("/api/v1/search/", {"q": "wombat", "kind": "sample"}).json()
        assert body["count"] == 2 and body["capped"] is False
        assert _counted(us_staff, "wombat") == (3, True)


@pytest.mark.django_db
def test_a_partner_viewer_finds_no_sample_under_a_low_cap(client, sign_in, exercise, uk_staff, partner_viewer,
                                                         cyber, api_for):
    run = _matching_run(exercise=exercise, user=uk_staff, samples=4, word="numbat")
    sample = SampleResult.objects.filter(item__run=run).first()
    with override_settings(SEARCH_RANK_MAX=1):
        assert _sample_refs(partner_viewer, "numbat") == set()
        assert _counted(partner_viewer, "numbat") == (0, False)
        api = api_for(partner_viewer)
        for kind in ("", "sample"):
            body = api.get("/api/v1/search/", {"q": "numbat", "kind": kind}).json()
            assert body["count"] == 0 and body["results"] == [] and body["capped"] is False
        sign_in(client, partner_viewer)
        page = client.get("/search/", {"q": "numbat", "kind": "sample"})
        assert page.status_code == 200 and "numbat</mark>" not in page.content.decode()
        assert "are ranked" not in page.content.decode()
        assert client.get(f"/samples/{sample.pk}/").status_code == 404


def _search_query_counts(urls: list) -> list[int]:
    """The SQL queries of each (client, url, params) request, each answering 200."""
    out = []
    for who, url, params in urls:
        with CaptureQueriesContext(connection) as queries:
            assert who.get(url, params).status_code == 200
        out.append(len(queries))
    return out


@pytest.mark.django_db
def test_a_capped_search_costs_the_same_queries_at_two_sizes(client, sign_in, exercise, uk_staff, cyber, api_for):
    sign_in(client, uk_staff)
    api = api_for(uk_staff)
    urls = [
        (client, "/search/", {"q": "dingo"}),
        (client, "/search/", {"q": "dingo", "kind": "sample"}),
        (api, "/api/v1/search/", {"q": "dingo"}),
        (api, "/api/v1/search/", {"q": "dingo", "kind": "sample"}),
    ]

    with override_settings(SEARCH_RANK_MAX=4):
        _matching_run(exercise=exercise, user=uk_staff, samples=6, word="dingo", name="Small")
        _search_query_counts(urls)  # warm-up
        small = _search_query_counts(urls)
        _matching_run(exercise=exercise, user=uk_staff, samples=40, word="dingo", name="Large")
        assert _counted(uk_staff, "dingo") == (4, True)
        assert _search_query_counts(urls) == small


@pytest.mark.django_db
def test_the_cap_keeps_the_number_of_queries(client, sign_in, settings, exercise, uk_staff, cyber, api_for):
    run = finished_run(exercise=exercise, user=uk_staff, samples=6)
    SampleResult.objects.filter(item__run=run).update(output="the bilby answer")
    samples_index(item_id=run.items.get().pk)
    sign_in(client, uk_staff)
    api = api_for(uk_staff)
    urls = [
        (client, "/search/", {"q": "bilby"}),
        (client, "/search/", {"q": "bilby", "kind": "sample"}),
        (api, "/api/v1/search/", {"q": "bilby"}),
        (api, "/api/v1/search/", {"q": "bilby", "kind": "sample"}),
    ]

    _search_query_counts(urls)  # warm-up
    uncapped = _search_query_counts(urls)
    settings.SEARCH_RANK_MAX = 2
    assert _search_query_counts(urls) == uncapped
