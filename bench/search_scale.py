"""Search and exercise-dashboard benchmark (issue 13): the same search and dashboard at two data sizes.

    DATABASE_URL=postgresql://root@127.0.0.1:5432/<db> REDIS_URL=redis://127.0.0.1:6379/<n> \
        .venv/bin/python bench/search_scale.py [--small 1000] [--large 200000] [--runs 1000] [--repeat 20] \
        [--rounds 2] [--rank-max 5000,1000] [--fill insert|task] [--writes] [--keep] [--db-prefix NAME]

Each size has its own database on DATABASE_URL's server (``<prefix>_small`` and ``<prefix>_large``, created and
migrated by a child process), which holds one exercise (two institutes, a staff user) with ``--runs`` finished runs
(one item each) and N samples spread over them, inserted in SQL (one INSERT ... SELECT over generate_series, generated
in the server like a COPY) with texts drawn from a vocabulary of 5,000 words (a rare word in 1 in 10,000 samples, a
common one in 1 in 20). ``--fill insert`` (the default; 1,000,000 samples load in minutes): the rows carry their
vector from the INSERT (``evaluations_sample_search_vector``, the function the indexing task's UPDATE calls) and the
GIN index is dropped for the load and built again after it; ``--fill task``: inserted unindexed, then
``samples_index`` of each item (the indexing task's path, timed). Then ``--rounds`` times, small and large alternately
(each in a fresh child process on its own database, so that both sizes see the same load from other work), for each
``--rank-max`` value (SEARCH_RANK_MAX), it times as the staff user, ``--repeat`` times each (median and 95th
percentile, and the number of SQL queries):
  search rare   : the API's reads for a rare word: the sample matches (ids, count, cap), the findings' count, the
                  first page of 20 hits and its details and highlights (search_results)
  search common : the same for a word in 5% of the samples
  search phrase : a two-word phrase
  dashboard     : exercise_overview (the exercise page's reads, grid and timeline included)
and prints the ratio large/small per line from the round with the lowest p95 of each size (the issue's target: p95
within 1.5x, same query count), how many samples were ranked and whether the search was capped, and at the large size
the EXPLAIN (ANALYZE, BUFFERS) of the matches' query and of the page of hits. ``--writes``: also inserts the large
size into a copy of the table without the ``search_vector`` column. The two databases are dropped at the end (also
after an error); ``--keep`` keeps them and reuses them next time when they hold the same sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

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


COLUMNS = ("item_id, sample_id, epoch, input, input_text, target, output, scores, score, explanation, input_tokens, "
           "output_tokens, total_tokens, error, messages, metadata, created_at")
GIN_INDEX = "evaluations_sampleresult_search"


def _load_samples(items: list[int], count: int, table: str = "evaluations_sampleresult", *,
                  vector: bool = False) -> float:
    """Insert ``count`` samples spread over ``items`` in one INSERT ... SELECT (generated in the server: no rows
    travel, as fast as a COPY); ``vector``: with their ``search_vector`` filled in the same statement by
    ``evaluations_sample_search_vector``, the function ``services/search.py``'s UPDATE calls. Returns the seconds."""
    first, n_items = min(items), len(items)
    assert max(items) - first + 1 == n_items, "items must have consecutive ids"
    rows = f"""
        SELECT {first} + (g % {n_items}) AS item_id, g::text AS sample_id, 1 AS epoch, 'null'::jsonb AS input,
               'Question ' || g || ' ' || t.text AS input_text, 'null'::jsonb AS target,
               CASE WHEN g % 10000 = 7 THEN '{RARE} ' ELSE '' END
               || CASE WHEN g % 20 = 3 THEN '{COMMON} answer ' ELSE 'answer ' END || t.text AS output,
               '{{}}'::jsonb AS scores, (g % 2)::float AS score, 'graded ' || (g % 97) AS explanation,
               0 AS input_tokens, 0 AS output_tokens, 0 AS total_tokens, '' AS error,
               jsonb_build_array(jsonb_build_object('role', 'assistant', 'content', t.text)) AS messages,
               '{{}}'::jsonb AS metadata, now() AS created_at
        FROM generate_series(1, {count}) AS g, LATERAL ({TEXT_SQL.format(vocab=VOCABULARY)}) AS t(text)
    """  # noqa: S608  # nosec B608 - numbers and constants only
    if vector:
        vector_sql = "evaluations_sample_search_vector(output, input_text, explanation, messages)"
        sql = f"INSERT INTO {table} ({COLUMNS}, search_vector) SELECT {COLUMNS}, {vector_sql} FROM ({rows}) AS r"  # noqa: S608  # nosec B608 - constants only
    else:
        sql = f"INSERT INTO {table} ({COLUMNS}) {rows}"  # noqa: S608  # nosec B608 - constants only
    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(sql)  # nosemgrep: portal-raw-sql-formatting - numbers and the script's constants only
    return time.perf_counter() - start


def _load_indexed(items: list[int], count: int) -> tuple[float, float]:
    """The fast load of a big table: the GIN index dropped, the rows inserted with their vectors (one statement),
    the index built again from its own definition (a bulk build, much faster than a million row-by-row GIN
    inserts). Returns (seconds of the insert, seconds of the index build)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_indexdef(%s::regclass)", [GIN_INDEX])
        definition = cursor.fetchone()[0]
        cursor.execute(f"DROP INDEX {GIN_INDEX}")  # nosemgrep: portal-raw-sql-formatting - the script's constant
        try:
            seconds = _load_samples(items, count, vector=True)
        finally:
            start = time.perf_counter()
            cursor.execute("SET maintenance_work_mem = '1GB'")
            cursor.execute(definition)  # nosemgrep: portal-raw-sql-formatting - the index's own definition
            cursor.execute("RESET maintenance_work_mem")
    return seconds, time.perf_counter() - start


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
    from evaluations.selectors.search import (
        search_hits,
        search_hits_count,
        search_results,
        search_sample_matches,
    )

    user, exercise = world["user"], world["exercise"]

    def search(q: str):  # type: ignore[no-untyped-def]
        def run() -> None:  # the API's reads: the samples' bounded matches, the findings' count, a page
            samples = search_sample_matches(user=user, q=q)
            search_hits_count(user=user, q=q, kind="", samples=samples)
            page = list(search_hits(user=user, q=q, samples=samples)[:20])
            search_results(user=user, q=q, hits=page)
        return run

    return {
        "search rare": _time(search(RARE), repeat),
        "search common": _time(search(COMMON), repeat),
        "search phrase": _time(search(f'"{COMMON} answer"'), repeat),
        "dashboard": _time(lambda: exercise_overview(user=user, exercise=exercise), repeat),
    }


def _explain(world, q: str) -> str:  # type: ignore[no-untyped-def]
    """EXPLAIN (ANALYZE, BUFFERS) of the sample search's page of hits and of its bounded count."""
    from evaluations.selectors.search import _sample_matches, search_hits, search_query, search_sample_matches

    cap, user = settings.SEARCH_RANK_MAX, world["user"]
    out = []
    for name, queryset in (
        ("the matches (count, cap, ranked set)", _sample_matches(user=user, query=search_query(q), limit=cap + 1)),
        ("the page of hits", search_hits(user=user, q=q, samples=search_sample_matches(user=user, q=q))[:20]),
    ):
        sql, params = queryset.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}", params)  # nosemgrep: portal-raw-sql-formatting - EXPLAIN of the script's own query, values as parameters
            lines = [row[0] if len(row[0]) < 160 else row[0][:150] + " ...}" for row in cursor.fetchall()]
            out.append(f"-- {name}, q={q!r}\n" + "\n".join(lines))
    return "\n".join(out)


VERSION = 1  # bump when the loaded data changes: a kept database of another version is loaded again


def _database_url(database: str) -> str:
    return urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{database}"))


def _server(statement: Any, *params: str) -> list[Any]:
    """One statement on the server's ``postgres`` database (CREATE and DROP DATABASE), autocommit; its rows."""
    import psycopg

    with psycopg.connect(_database_url("postgres"), autocommit=True) as conn:
        cursor = conn.execute(statement, list(params) or None)
        return cursor.fetchall() if cursor.description else []


def _child(database: str, *arguments: str) -> dict[str, Any]:
    """Run this script as a child on ``database`` (its own process and connection, DATABASE_URL pointing there);
    prints what the child prints and returns its last line, JSON."""
    env = {**os.environ, "DATABASE_URL": _database_url(database)}
    child = subprocess.run([sys.executable, __file__, *arguments], stdout=subprocess.PIPE, text=True, check=True,
                           cwd=BASE_DIR, env=env)
    lines = child.stdout.strip().splitlines()
    for line in lines[:-1]:
        print(line, flush=True)
    return json.loads(lines[-1])


def _prepare(*, database: str, label: str, count: int, args: argparse.Namespace) -> dict[str, Any]:
    """Make ``database`` hold ``count`` samples in ``args.runs`` runs (a kept database of the same size, fill and
    version is reused); returns its world (the ids the measuring child needs)."""
    from psycopg import sql

    wanted = {"runs": args.runs, "samples": count, "fill": args.fill, "version": VERSION}
    if _server("SELECT 1 FROM pg_database WHERE datname = %s", database):
        if args.keep:
            import psycopg

            with psycopg.connect(_database_url(database)) as conn:
                if conn.execute("SELECT to_regclass('bench_search_info')").fetchone()[0]:
                    info = conn.execute("SELECT info FROM bench_search_info").fetchone()[0]
                    if {key: info.get(key) for key in wanted} == wanted:
                        print(f"{label}: {database} already holds {count:,} samples in {args.runs:,} runs; reused",
                              flush=True)
                        return info["world"]
        _server(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(database)))
    _server(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    loaded = _child(database, "--child", "load", "--label", label, "--count", str(count), "--runs", str(args.runs),
                    "--fill", args.fill, *(["--writes"] if args.writes and label == "large" else []))
    return loaded["world"]


def _child_load(args: argparse.Namespace) -> dict[str, Any]:
    """In the child: migrate the new database, make the world, load the samples, VACUUM ANALYZE, record the info."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    world = _world(args.label, args.runs)
    if args.fill == "insert":
        seconds, indexing = _load_indexed(world["items"], args.count)
        how = f"loaded with their vectors in {seconds:.1f} s, GIN index built in {indexing:.1f} s"
    else:
        seconds = _load_samples(world["items"], args.count)
        indexing = _index(world["items"])
        how = f"loaded in {seconds:.1f} s, indexed (samples_index of each item) in {indexing:.1f} s"
    with connection.cursor() as cursor:
        # what autovacuum does after a bulk load: statistics, and the GIN index's pending list merged
        cursor.execute("VACUUM ANALYZE")
    print(f"{args.label}: {args.count:,} samples in {args.runs:,} runs {how}; load average {_loadavg()}", flush=True)
    if args.writes:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("CREATE TEMP TABLE bench_plain (LIKE evaluations_sampleresult INCLUDING ALL) "
                               "ON COMMIT DROP")
                cursor.execute("ALTER TABLE bench_plain DROP COLUMN search_vector")
            plain = _load_samples(world["items"], args.count, table="bench_plain")
        print(f"writes: {args.count:,} samples {how}; into a copy without search_vector {plain:.1f} s", flush=True)
    ids = {"user": world["user"].pk, "exercise": world["exercise"].pk, "items": [min(world["items"]),
                                                                               max(world["items"])]}
    info = {"runs": args.runs, "samples": args.count, "fill": args.fill, "version": VERSION, "world": ids}
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_search_info (info jsonb)")
        cursor.execute("INSERT INTO bench_search_info VALUES (%s)", [json.dumps(info)])
    return info


def _child_measure(args: argparse.Namespace) -> dict[str, Any]:
    """In the child: time the searches and the dashboard at each SEARCH_RANK_MAX; with ``--explain``, print how
    many samples each ranked and the EXPLAINs (the first round, large)."""
    from accounts.models import User
    from evaluations.models import Exercise
    from evaluations.selectors.search import search_sample_matches

    world = {"user": User.objects.get(pk=args.user), "exercise": Exercise.objects.get(pk=args.exercise)}
    queries = {RARE: "search rare", COMMON: "search common", f'"{COMMON} answer"': "search phrase"}
    figures: dict[str, dict[str, tuple[float, float, int]]] = {}
    for cap in (int(c) for c in args.caps.split(",")):
        settings.SEARCH_RANK_MAX = cap
        figures[str(cap)] = _measure(world, args.repeat)
        if args.explain:
            found = {queries[q]: search_sample_matches(user=world["user"], q=q) for q in queries}
            print(f"{args.label}, SEARCH_RANK_MAX={cap:,}: " + ", ".join(
                f"{name} {c.count:,} ranked{' (capped)' if c.capped else ''}" for name, c in found.items()))
            if args.label == "large":
                print(_explain(world, COMMON))
                if str(cap) == args.caps.split(",")[0]:
                    print(_explain(world, RARE))
                    print(_explain(world, f'"{COMMON} answer"'))
    return {"figures": figures, "load": _loadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2, help="alternate small and large this many times")
    parser.add_argument("--rank-max", default="",
                        help="SEARCH_RANK_MAX values to measure, comma-separated (default: the setting)")
    parser.add_argument("--fill", choices=("insert", "task"), default="insert",
                        help="insert: vectors computed in the load's INSERT, the GIN index built after it (fast, for "
                             "1,000,000); task: rows inserted unindexed, then samples_index of each item (the "
                             "indexing task's path, timed)")
    parser.add_argument("--writes", action="store_true",
                        help="also insert the large size into a copy of the table without search_vector")
    parser.add_argument("--db-prefix", default="portal_search_scale",
                        help="the two databases are <prefix>_small and <prefix>_large, on DATABASE_URL's server")
    parser.add_argument("--keep", action="store_true",
                        help="keep the two databases, and reuse them when they hold the same sizes")
    parser.add_argument("--child", choices=("load", "measure"), help=argparse.SUPPRESS)
    parser.add_argument("--label", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--user", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--exercise", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--caps", help=argparse.SUPPRESS)
    parser.add_argument("--explain", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child_load(args) if args.child == "load" else _child_measure(args)))
        return
    caps = [c for c in args.rank_max.split(",") if c] or [str(settings.SEARCH_RANK_MAX)]
    sizes = {"small": args.small, "large": args.large}
    databases = {label: f"{args.db_prefix}_{label}" for label in sizes}
    rounds: dict[str, list[dict[str, Any]]] = {label: [] for label in sizes}
    loads: dict[str, list[str]] = {label: [] for label in sizes}
    try:
        worlds = {label: _prepare(database=databases[label], label=label, count=count, args=args)
                  for label, count in sizes.items()}
        for round_number in range(args.rounds):  # small, large, small, large, ...: both sizes see the same load
            for label in sizes:
                world = worlds[label]
                measured = _child(databases[label], "--child", "measure", "--label", label, "--user",
                                  str(world["user"]), "--exercise", str(world["exercise"]), "--caps", ",".join(caps),
                                  "--repeat", str(args.repeat), *(["--explain"] if round_number == 0 else []))
                rounds[label].append(measured["figures"])
                loads[label].append(measured["load"].split()[0])
                print(f"round {round_number + 1}, {label}: measured; load average {measured['load']}", flush=True)
    finally:
        if not args.keep:
            from psycopg import sql

            for database in databases.values():
                _server(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
    print(f"\n{args.repeat} timed calls per line after a warm-up; {args.rounds} rounds, small and large alternately, "
          f"per line the round with the lowest p95. Load average after each small round {loads['small']}, after "
          f"each large round {loads['large']}.")
    for cap in caps:
        best = {label: {name: min((r[cap][name] for r in rounds[label]), key=lambda f: f[1])
                        for name in rounds[label][0][cap]} for label in sizes}
        print(f"SEARCH_RANK_MAX={int(cap):,}")
        print(f"{'':16}{'small p50':>11}{'p95':>9}{'q':>4}{'large p50':>12}{'p95':>9}{'q':>4}{'p95 ratio':>11}")
        for name, (s50, s95, sq) in best["small"].items():
            l50, l95, lq = best["large"][name]
            print(f"{name:16}{s50 * 1000:>9.1f}ms{s95 * 1000:>7.1f}ms{sq:>4}{l50 * 1000:>10.1f}ms{l95 * 1000:>7.1f}ms"
                  f"{lq:>4}{l95 / s95:>10.2f}x")


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


if __name__ == "__main__":
    main()
