"""Search and exercise-dashboard benchmark (issue 13): the same search and dashboard at two data sizes.

    DATABASE_URL=postgresql://root@127.0.0.1:5432/<db> REDIS_URL=redis://127.0.0.1:6379/<n> \
        .venv/bin/python bench/search_scale.py [--small 1000] [--large 200000] [--runs 1000] [--repeat 20]

For each size it loads a throwaway exercise (two institutes, a staff user) with ``--runs`` finished runs (one item
each) and N samples spread over them, inserted in SQL (generate_series) with texts drawn from a vocabulary of 5,000
words (a rare word in 1 in 10,000 samples, a common one in 1 in 20), then times, as the staff user, ``--repeat``
times each (median and 95th percentile, and the number of SQL queries):
  search rare   : search_hits(q=<rare word>) first page of 20 + search_results (the API's work)
  search common : the same for a word in 5% of the samples
  search phrase : a two-word phrase
  dashboard     : exercise_overview (the exercise page's reads, grid and timeline included)
and prints the ratio large/small per line (the issue's target: p95 within 1.5x, same query count), the EXPLAIN of the
sample search (the GIN index ``evaluations_sampleresult_search`` must be used), and what search costs on writes:
inserting the samples into the table vs into a copy of it without the ``search_vector`` column (the insert path of
an ingestion: since migration 0012 the column is filled afterwards), and the indexing itself, ``samples_index`` of
each item (what the indexing task does after an ingestion), timed apart. The common word matches more samples than
SEARCH_RANK_MAX at the large size: only the newest SEARCH_RANK_MAX are ranked (the script prints whether a search
was capped). Everything it creates is deleted at the end (also after an error).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

VOCABULARY = 5000
RARE, COMMON = "zyxquorrel", "model"
TEXT_SQL = """
    SELECT string_agg('w' || ((g::bigint * 7919 + k * 104729) % {vocab}), ' ')
    FROM generate_series(1, 40) AS k
"""


def _world(tag: str, runs: int):  # type: ignore[no-untyped-def]
    from accounts.models import Organisation, User
    from evaluations.models import Exercise, Run, RunItem

    uk = Organisation.objects.create(name=f"Bench UK {tag}", kind="institute", country_code="GB")
    us = Organisation.objects.create(name=f"Bench US {tag}", kind="institute", country_code="US")
    user = User.objects.create(email=f"bench-{tag}@example.org", organisation=uk, role="staff")
    exercise = Exercise.objects.create(name=f"Bench {tag}", status="active")
    exercise.institutes.set([uk, us])
    run_objs = Run.objects.bulk_create([Run(exercise=exercise, created_by=user, owner=uk, name=f"Bench run {n}",
                                            state="succeeded") for n in range(runs)])
    items = RunItem.objects.bulk_create([
        RunItem(run=run, model_label=f"mockllm/model-{n % 4}", task_label=f"bench-task-{n % 3}", state="succeeded",
                metrics={"match": {"accuracy": (n % 10) / 10, "stderr": 0.02}}) for n, run in enumerate(run_objs)])
    return {"orgs": [uk, us], "user": user, "exercise": exercise, "items": [i.pk for i in items]}


def _load_samples(items: list[int], count: int, table: str = "evaluations_sampleresult") -> float:
    """Insert ``count`` samples spread over ``items``; returns the seconds it took."""
    first, n_items = min(items), len(items)
    assert max(items) - first + 1 == n_items, "items must have consecutive ids"
    sql = f"""
        INSERT INTO {table} (item_id, sample_id, epoch, input, input_text, target, output, scores, score,
                             explanation, input_tokens, output_tokens, total_tokens, error, messages, metadata,
                             created_at)
        SELECT {first} + (g % {n_items}), g::text, 1, 'null'::jsonb, 'Question ' || g || ' ' || t.text, 'null'::jsonb,
               CASE WHEN g % 10000 = 7 THEN '{RARE} ' ELSE '' END
               || CASE WHEN g % 20 = 3 THEN '{COMMON} answer ' ELSE 'answer ' END || t.text,
               '{{}}'::jsonb, (g % 2)::float, 'graded ' || (g % 97), 0, 0, 0, '',
               jsonb_build_array(jsonb_build_object('role', 'assistant', 'content', t.text)), '{{}}'::jsonb, now()
        FROM generate_series(1, {count}) AS g, LATERAL ({TEXT_SQL.format(vocab=VOCABULARY)}) AS t(text)
    """  # noqa: S608  # nosec B608 - numbers and constants only
    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(sql)  # nosemgrep: portal-raw-sql-formatting - numbers and the script's constants only
    return time.perf_counter() - start


def _index(items: list[int]) -> float:
    """``samples_index`` of every item (the indexing task's work after an ingestion); returns the seconds."""
    from evaluations.services.search import samples_index

    start = time.perf_counter()
    for item_id in items:
        samples_index(item_id=item_id)
    return time.perf_counter() - start


def _time(fn, repeat: int) -> tuple[float, float, int]:  # type: ignore[no-untyped-def]
    fn()  # warm-up
    times, queries = [], 0
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        queries = len(captured)
    times.sort()
    return statistics.median(times), times[max(0, int(round(0.95 * len(times))) - 1)], queries


def _measure(world, repeat: int) -> dict[str, tuple[float, float, int]]:  # type: ignore[no-untyped-def]
    from evaluations.selectors.exercises import exercise_overview
    from evaluations.selectors.search import search_hits, search_results

    user, exercise = world["user"], world["exercise"]

    def search(q: str):  # type: ignore[no-untyped-def]
        def run() -> None:
            hits = search_hits(user=user, q=q)
            page = list(hits[:20])
            hits.count()
            search_results(user=user, q=q, hits=page)
        return run

    return {
        "search rare": _time(search(RARE), repeat),
        "search common": _time(search(COMMON), repeat),
        "search phrase": _time(search(f'"{COMMON} answer"'), repeat),
        "dashboard": _time(lambda: exercise_overview(user=user, exercise=exercise), repeat),
    }


def _explain(world) -> str:  # type: ignore[no-untyped-def]
    from evaluations.selectors.search import search_hits

    sql, params = search_hits(user=world["user"], q=RARE, kind="sample")[:20].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {sql}", params)  # nosemgrep: portal-raw-sql-formatting - EXPLAIN of the script's own query, values as parameters
        return "\n".join(row[0] for row in cursor.fetchall())


def _cleanup(world) -> None:  # type: ignore[no-untyped-def]
    from evaluations.models import Run, SampleResult

    SampleResult.objects.filter(item_id__in=world["items"]).delete()
    Run.objects.filter(exercise=world["exercise"]).delete()
    world["exercise"].delete()
    world["user"].delete()
    for org in world["orgs"]:
        org.delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--rank-max", type=int, default=0, help="SEARCH_RANK_MAX for this run (default: the setting)")
    args = parser.parse_args()
    if args.rank_max:
        settings.SEARCH_RANK_MAX = args.rank_max
    from evaluations.selectors.search import search_samples_capped

    results = {}
    for label, count in (("small", args.small), ("large", args.large)):
        world = _world(f"{label}-{os.getpid()}", args.runs)
        try:
            seconds = _load_samples(world["items"], count)
            indexing = _index(world["items"])
            with connection.cursor() as cursor:
                # what autovacuum does after a bulk load: statistics, and the GIN index's pending list merged
                cursor.execute("VACUUM ANALYZE evaluations_sampleresult, evaluations_runitem, evaluations_run")
            print(f"{label}: {count:,} samples in {args.runs:,} runs loaded in {seconds:.1f} s, "
                  f"indexed in {indexing:.1f} s")
            results[label] = _measure(world, args.repeat)
            capped = {q: search_samples_capped(user=world["user"], q=q) for q in (RARE, COMMON, f'"{COMMON} answer"')}
            print(f"{label}: capped at SEARCH_RANK_MAX={settings.SEARCH_RANK_MAX:,}: {capped}")
            if label == "large":
                print("EXPLAIN ANALYZE of the sample search (rare word):")
                print(_explain(world))
                with transaction.atomic():
                    with connection.cursor() as cursor:
                        cursor.execute("CREATE TEMP TABLE bench_plain (LIKE evaluations_sampleresult INCLUDING ALL) "
                                       "ON COMMIT DROP")
                        cursor.execute("ALTER TABLE bench_plain DROP COLUMN search_vector")
                    plain = _load_samples(world["items"], count, table="bench_plain")
                print(f"writes: {count:,} samples inserted {seconds:.1f} s, into a copy without search_vector "
                      f"{plain:.1f} s (x{seconds / plain:.2f}); indexed afterwards {indexing:.1f} s")
        finally:
            _cleanup(world)
    print(f"{'':16}{'small p50':>11}{'p95':>9}{'q':>4}{'large p50':>12}{'p95':>9}{'q':>4}{'p95 ratio':>11}")
    for name, (s50, s95, sq) in results["small"].items():
        l50, l95, lq = results["large"][name]
        print(f"{name:16}{s50 * 1000:>9.1f}ms{s95 * 1000:>7.1f}ms{sq:>4}{l50 * 1000:>10.1f}ms{l95 * 1000:>7.1f}ms"
              f"{lq:>4}{l95 / s95:>10.2f}x")


if __name__ == "__main__":
    main()
