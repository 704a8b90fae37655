"""Speed at scale (issue 13): every list page, the exercise page, search and the comparison, at two data sizes.

    DATABASE_URL=postgresql://root@127.0.0.1:5432/anything REDIS_URL=redis://127.0.0.1:6379/8 \
        .venv/bin/python bench/pages_scale.py [--repeat 20] [--small 100,1000] [--big 10000,1000000] \
        [--small-db portal_scale_small] [--big-db portal_scale_big] [--slow 3] [--skip search,compare]
    make bench                                                          # the same with embedded services

For each size (RUNS,SAMPLES) it makes or reuses the database with ``bench/generate_scale.py`` (a big load takes a
few minutes once, then is reused), then, in a fresh subprocess per size (one after the other, the same code,
the same repeat count), requests each URL through Django's test ``Client``
(in-process: the whole Django stack — middleware, sessions with MFA, access layer, ORM, templates — without a
network hop or a server's workers, so what it times is the portal's own work; after ``portal.warmup.warm_up`` and
``heap_freeze``, as gunicorn's master does before it forks the workers) as a signed-in user: 2 warm-up
requests, then ``--repeat`` timed ones; p50 and p95 of those. The SQL queries of one request are counted with
``CaptureQueriesContext``. URLs:
  - every list view of the URL resolver: patterns named ``*list`` (HTML and the API routers'), the people pages,
    and the samples of a run (HTML and API; the run holding the comparison pair, the biggest run; and the HTML page
    of a typical run, the median number of samples, to tell the database's size from the run's; the biggest run's
    samples with errors only, its last page and a page in the middle of its first item, the deepest offset);
  - the exercise page (the dashboard) of the exercise holding the comparison pair;
  - search, ``/search/?q=`` and ``/api/v1/search/?q=``, when they resolve (a note otherwise);
  - the comparison of the pair of ``--compare-samples`` items (``/runs/compare/?items=a,b`` and
    ``/api/v1/compare/?items=a,b``); in a big database also the pairs of 250 samples (the small database's pair:
    its ratio is the database's size alone), 1,000 and 3,000 samples (how it scales with the items' samples).
Prints per URL: p50/p95 at both sizes, the ratio of the p95s (target <= 1.5) and the query counts at both sizes
(target: equal). ``--rounds`` (default 2) alternates the sizes (small, big, small, big) so that both see the
same load from other work; per URL the round with the lowest p95 is reported. Exit code 0: it prints ratios, it
asserts nothing. The small database has 100 runs (not 10): with 10 the API's run list showed 10 rows against
the big database's 50 (its page size) and timed the page's fill, not the database's size. ``--slow N`` also prints the N slowest SQL statements of each URL at the big size.
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

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

EXTRA_LISTS = {"run-samples", "api-run-samples", "manage_users", "manage_invitations", "manage_organisations"}
SKIP = {"task-catalogue"}  # Inspect's installed tasks, not database rows
ACTOR = {"manage_users": "admin", "manage_invitations": "admin", "manage_organisations": "admin",
         "api-organisation-list": "admin", "audit_list": "uk_approver", "api-audit-event-list": "uk_approver"}
SEARCH_QUERY = "plus"


def _list_patterns() -> list[tuple[str, str]]:
    """(name, route) of the list views, walked from the URL resolver."""
    from django.urls import URLPattern, URLResolver, get_resolver

    found: list[tuple[str, str]] = []

    def walk(patterns: Any, prefix: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern) and p.name:
                route = prefix + str(p.pattern)
                is_list = p.name.endswith(("-list", "_list")) and "<" not in route and "(?P" not in route
                if p.name in SKIP or not (is_list or p.name in EXTRA_LISTS):
                    continue
                if "\\.(?P<format>" in route or route.endswith("\\.(?P<format>[a-z0-9]+)/?$"):
                    continue
                found.append((p.name, route))

    walk(get_resolver().url_patterns, "")
    unique: dict[str, str] = {}
    for name, route in found:
        unique.setdefault(name, route)
    return sorted(unique.items())


def _resolves(path: str) -> bool:
    from django.urls import Resolver404, resolve

    try:
        resolve(path)
    except Resolver404:
        return False
    return True


def measure(*, database: str, runs: int, samples: int, compare_samples: int, repeat: int,
            slow: int, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """In this process: make or reuse the database, then time every URL. Returns the figures (JSON-ready)."""
    sys.path.insert(0, str(BASE_DIR / "bench"))
    from generate_scale import USERS, load

    load(database=database, runs=runs, samples=samples, compare_samples=compare_samples)
    from portal.warmup import heap_freeze, warm_up

    warm_up()  # what the web process does before its workers serve (portal/gunicorn.conf.py, when_ready)
    heap_freeze()
    from allauth.usersessions.models import UserSession
    from django.contrib.sessions.models import Session
    from django.db import connection
    from django.db.models import Count
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from accounts.models import User
    from evaluations.models import Run, RunItem
    from tests.support.helpers import sign_in

    with connection.cursor() as cursor:
        cursor.execute("SELECT pairs FROM bench_scale_info")
        pairs = cursor.fetchone()[0]
        pairs = json.loads(pairs) if isinstance(pairs, str) else pairs
    main_size, first, _ = pairs[0]  # (the pairs are labelled by size since 3 Dec: the second item is not needed here)
    compare_run = RunItem.objects.get(pk=first).run
    # a typical run: the median number of samples among runs with samples (the same in both databases)
    typical = (Run.objects.annotate(n=Count("items__samples")).filter(n__gt=0).exclude(pk=compare_run.pk)
               .order_by("n", "pk"))
    typical_run = typical[typical.count() // 2]
    # earlier bench sessions would make the sessions page longer in the database measured more often
    UserSession.objects.all().delete()
    Session.objects.all().delete()
    clients: dict[str, Client] = {}
    for key, (email, *_rest) in USERS.items():
        clients[key] = sign_in(Client(), User.objects.get(email=email))

    urls: list[tuple[str, str, str]] = []  # (label, path, actor)
    for name, _route in _list_patterns():
        kwargs = {"pk": compare_run.pk} if name in {"run-samples", "api-run-samples"} else {}
        label = f"{name} (the comparison pair's run)" if kwargs else name
        urls.append((label, reverse(name, kwargs=kwargs), ACTOR.get(name, "uk_staff")))
    urls.append(("run-samples (a typical run)",
                 reverse("run-samples", kwargs={"pk": typical_run.pk}), "uk_staff"))
    urls.append(("run-samples, errors only", reverse("run-samples", kwargs={"pk": compare_run.pk}) + "?error=yes",
                 "uk_staff"))
    urls.append(("run-samples, last page", reverse("run-samples", kwargs={"pk": compare_run.pk}) + "?page=99999",
                 "uk_staff"))  # a page number past the end shows the last page
    from portal.pagination import PAGE_SIZE

    middle = max(1, main_size // 2 // PAGE_SIZE)  # the middle of the first item of the pair: the deepest offset
    urls.append(("run-samples, middle of an item", reverse("run-samples", kwargs={"pk": compare_run.pk})
                 + f"?page={middle}", "uk_staff"))
    urls.append(("exercise page (dashboard)", reverse("exercise_detail", kwargs={"pk": compare_run.exercise_id}),
                 "uk_staff"))
    notes = [f"{database}: the typical run has {typical_run.n} samples, the comparison pair's run "
             f"{2 * main_size:,}"]
    for label, path in (("search", f"/search/?q={SEARCH_QUERY}"), ("api search", f"/api/v1/search/?q={SEARCH_QUERY}")):
        if _resolves(path.split("?")[0]):
            urls.append((label, path, "uk_staff"))
        else:
            notes.append(f"{path.split('?')[0]} does not resolve (search not merged yet): skipped")
    for size, a, b in pairs:  # labelled by size: the small database's pair is timed in the big one too
        tag = f"{size:,} samples each"
        urls.append((f"compare ({tag})", f"/runs/compare/?items={a},{b}", "uk_staff"))
        urls.append((f"api compare ({tag})", f"/api/v1/compare/?items={a},{b}", "uk_staff"))

    if skip:
        urls = [url for url in urls if not any(part in url[0] for part in skip)]
        notes.append(f"skipped the URLs whose label holds any of {', '.join(skip)} (--skip)")
    results: dict[str, Any] = {}
    for label, path, actor in urls:
        client = clients[actor]
        headers = {"HTTP_ACCEPT": "application/json"} if path.startswith("/api/") else {}
        status = 0
        for _ in range(2):
            status = client.get(path, **headers).status_code
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            response = client.get(path, **headers)
            if hasattr(response, "streaming_content"):
                b"".join(response.streaming_content)
            times.append(time.perf_counter() - t0)
        with CaptureQueriesContext(connection) as queries:
            client.get(path, **headers)
        times.sort()
        entry: dict[str, Any] = {
            "path": path, "actor": actor, "status": status, "queries": len(queries),
            "p50": statistics.median(times), "p95": times[max(0, round(0.95 * len(times)) - 1)],
        }
        if slow:
            entry["slow"] = sorted(((float(q["time"]), q["sql"][:400]) for q in queries.captured_queries),
                                   reverse=True)[:slow]
        results[label] = entry
        print(f"  [{database}] {label}: p95 {entry['p95'] * 1000:.0f} ms, {entry['queries']} queries "
              f"(HTTP {status})", file=sys.stderr, flush=True)
    return {"database": database, "runs": runs, "samples": samples, "urls": results, "notes": notes,
            "load": os.getloadavg()}


def _size(text: str) -> tuple[int, int]:
    runs, samples = (int(part) for part in text.split(","))
    return runs, samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=_size, default=(100, 1000), help="RUNS,SAMPLES of the small database (100 runs: every list's first page is full at both sizes)")
    parser.add_argument("--big", type=_size, default=(10000, 1000000), help="RUNS,SAMPLES of the big database")
    parser.add_argument("--small-db", default="portal_scale_small")
    parser.add_argument("--big-db", default="portal_scale_big")
    parser.add_argument("--compare-samples", type=int, default=10_000,
                        help="samples of each item of the big database's comparison pair")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2, help="alternate small and big this many times")
    parser.add_argument("--slow", type=int, default=0, help="print the N slowest SQL statements per URL (big)")
    parser.add_argument("--skip", default="", help="comma-separated parts of labels of URLs not to measure "
                        "(e.g. search,compare)")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # child: DATABASE,RUNS,SAMPLES,COMPARE
    args = parser.parse_args()
    if args.measure:
        database, runs, samples, compare = args.measure.split(",")
        print(json.dumps(measure(database=database, runs=int(runs), samples=int(samples),
                                 compare_samples=int(compare), repeat=args.repeat, slow=args.slow,
                                 skip=tuple(part for part in args.skip.split(",") if part))))
        return
    sizes = ((args.small_db, args.small, min(10_000, args.small[1] // 4), 0),
             (args.big_db, args.big, min(args.compare_samples, args.big[1] // 4), args.slow))
    rounds: list[list[dict[str, Any]]] = [[], []]
    for round_number in range(args.rounds):  # small, big, small, big, ...: both sizes see the same load
        for index, (database, (runs, samples), compare, slow) in enumerate(sizes):
            print(f"round {round_number + 1}, {database}: {runs:,} runs, {samples:,} samples; load average "
                  f"{os.getloadavg()[0]:.1f}", flush=True)
            child = subprocess.run(
                [sys.executable, __file__, "--measure", f"{database},{runs},{samples},{compare}",
                 "--repeat", str(args.repeat), "--slow", str(slow if round_number == 0 else 0), "--skip", args.skip],
                stdout=subprocess.PIPE, text=True, check=True, cwd=BASE_DIR)
            lines = child.stdout.strip().splitlines()
            for line in lines[:-1]:
                print(line)
            rounds[index].append(json.loads(lines[-1]))
    figures = []
    for per_round in rounds:  # per URL: the round with the lowest p95 (the least disturbed by other work)
        best = dict(per_round[0])
        best["urls"] = {label: min((r["urls"][label] for r in per_round if label in r["urls"]),
                                   key=lambda entry: entry["p95"])
                        for label in per_round[0]["urls"]}
        for label, entry in per_round[0]["urls"].items():
            if "slow" in entry:
                best["urls"][label] = {**best["urls"][label], "slow": entry["slow"]}
        best["loads"] = [r["load"][0] for r in per_round]
        figures.append(best)
    small, big = figures
    print()
    print(f"Django test Client, in-process; {args.repeat} timed requests per URL after 2 warm-up ones; {args.rounds} "
          f"rounds, small and big alternately, per URL the round with the lowest p95. Load average after each "
          f"small round {small['loads']}, after each big round {big['loads']}.")
    for note in small["notes"] + [n for n in big["notes"] if n not in small["notes"]]:
        print(f"NOTE: {note}")
    header = (f"{'URL':<46} {'p50 small':>10} {'p95 small':>10} {'p50 big':>9} {'p95 big':>9} {'ratio':>6} "
              f"{'queries':>9}")
    print(header)
    print("-" * len(header))
    for label, entry in big["urls"].items():
        other = small["urls"].get(label)
        if other is None:
            print(f"{label:<46} {'-':>10} {'-':>10} {entry['p50'] * 1000:>7.0f}ms {entry['p95'] * 1000:>7.0f}ms "
                  f"{'-':>6} {'-':>4}/{entry['queries']:<4}")
            continue
        ratio = entry["p95"] / other["p95"] if other["p95"] else float("nan")
        same = "" if other["queries"] == entry["queries"] else "  <- queries differ"
        status = "" if entry["status"] == other["status"] == 200 else f"  (HTTP {other['status']}/{entry['status']})"
        print(f"{label:<46} {other['p50'] * 1000:>8.0f}ms {other['p95'] * 1000:>8.0f}ms {entry['p50'] * 1000:>7.0f}ms "
              f"{entry['p95'] * 1000:>7.0f}ms {ratio:>6.2f} {other['queries']:>4}/{entry['queries']:<4}{same}{status}")
    if args.slow:
        print()
        for label, entry in big["urls"].items():
            print(f"{label} ({entry['path']}), slowest statements at the big size:")
            for seconds, sql in entry.get("slow", []):
                print(f"   {float(seconds) * 1000:8.1f} ms  {sql}")


if __name__ == "__main__":
    main()
