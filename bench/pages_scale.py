"""Speed at scale (issue 13): every list page, the exercise page, search and the comparison, at two data sizes.

    DATABASE_URL=postgresql://root@127.0.0.1:5432/anything REDIS_URL=redis://127.0.0.1:6379/8 \
        .venv/bin/python bench/pages_scale.py [--repeat 20] [--small 100,1000] [--big 10000,1000000] \
        [--small-db portal_scale_small] [--big-db portal_scale_big] [--slow 3] [--skip search,compare]
    make bench                                                          # the same with embedded services

For each size (RUNS,SAMPLES) it makes or reuses the database with ``bench/generate_scale.py`` (a big load takes a
few minutes once, then is reused) in a child process of its own (``--serve``), which stays up for the whole run:
both children are set up the same way, then answer the parent's requests in turn. Each child requests the URLs
through Django's test ``Client`` (in-process: the whole Django stack — middleware, sessions with MFA, access layer,
ORM, templates — without a network hop or a server's workers, so what it times is the portal's own work; after
``portal.warmup.warm_up`` and ``heap_freeze``, as gunicorn's master does before it forks the workers) as a
signed-in user. Per URL: 2 warm-up requests at each size, then ``--repeat`` timed requests taking turns between
the sizes (small, big, big, small, ...), so that both sizes are timed on the same machine within milliseconds of
each other; p50 and p95 of each size's. (Until 4 Dec each size ran in its own process minutes after the other, and
the machine's drift in between moved lists of identical content by up to 1.85: docs/benchmarks.md §3.) The SQL
queries of one request are counted with ``CaptureQueriesContext``. URLs:
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
(target: equal), and the lists over 1.5. ``--rounds`` (default 2) times every URL that many times over; per URL and
size the round with the lowest p95 is reported. Exit code 0: it prints ratios, it
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


def _prepare(*, database: str, runs: int, samples: int, compare_samples: int,
             skip: tuple[str, ...] = ()) -> tuple[list[tuple[str, str, str]], dict[str, Any], list[str]]:
    """In this process: make or reuse the database, warm up, sign the users in and list the URLs to time.
    Returns (urls as (label, path, actor), the signed-in clients by actor, notes)."""
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
    clients: dict[str, Any] = {}
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
    return urls, clients, notes


def serve(*, database: str, runs: int, samples: int, compare_samples: int, skip: tuple[str, ...]) -> None:
    """The child of one size: prepare, say which URLs it has, then answer the parent's requests (one JSON line each
    way) until stdin closes. Timing happens here, around ``Client.get`` only: the pipe is outside it.

    Requests: ``{"op": "time", "label": L, "n": N}`` -> ``{"times": [seconds, ...], "status": S}``;
    ``{"op": "count", "label": L, "slow": K}`` -> ``{"queries": N, "slow": [[seconds, sql], ...]}``."""
    protocol = os.fdopen(os.dup(1), "w")  # the answers; everything else printed goes to stderr
    os.dup2(2, 1)
    urls, clients, notes = _prepare(database=database, runs=runs, samples=samples, compare_samples=compare_samples,
                                    skip=skip)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    by_label = {label: (path, actor) for label, path, actor in urls}
    protocol.write(json.dumps({"labels": [label for label, _path, _actor in urls], "notes": notes,
                               "paths": {label: path for label, path, _actor in urls}}) + "\n")
    protocol.flush()

    def get(label: str) -> Any:
        path, actor = by_label[label]
        headers = {"HTTP_ACCEPT": "application/json"} if path.startswith("/api/") else {}
        response = clients[actor].get(path, **headers)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
        return response

    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "time":
            times, status = [], 0
            for _ in range(request["n"]):
                t0 = time.perf_counter()
                status = get(request["label"]).status_code
                times.append(time.perf_counter() - t0)
            answer: dict[str, Any] = {"times": times, "status": status}
        else:
            with CaptureQueriesContext(connection) as queries:
                get(request["label"])
            answer = {"queries": len(queries),
                      "slow": sorted(((float(q["time"]), q["sql"][:400]) for q in queries.captured_queries),
                                     reverse=True)[:request.get("slow", 0)]}
        protocol.write(json.dumps(answer) + "\n")
        protocol.flush()


class _Child:
    """The parent's handle on one size's serving child."""

    def __init__(self, *, database: str, runs: int, samples: int, compare: int, skip: str) -> None:
        self.database = database
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", f"{database},{runs},{samples},{compare}", "--skip", skip],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=BASE_DIR)
        self.hello = self._read()

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None  # nosec B101 - set by Popen(stdout=PIPE)
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"the child measuring {self.database} stopped (its error is above)")
        return json.loads(line)

    def ask(self, **request: Any) -> dict[str, Any]:
        assert self.process.stdin is not None  # nosec B101 - set by Popen(stdin=PIPE)
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        assert self.process.stdin is not None  # nosec B101 - set by Popen(stdin=PIPE)
        self.process.stdin.close()
        self.process.wait()


def _percentile95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def measure_interleaved(*, small: _Child, big: _Child, repeat: int, rounds: int, slow: int) -> dict[str, Any]:
    """Per URL, per round: 2 warm-up requests in each child, then ``repeat`` timed requests taking turns (small,
    big, big, small, ...: neither size is always first), so that both sizes see the same machine within
    milliseconds; then one counted request in each. Per URL and size, the round with the lowest p95."""
    labels = big.hello["labels"]
    shared = set(small.hello["labels"])
    figures: dict[str, dict[str, Any]] = {}
    for round_number in range(rounds):
        for label in labels:
            children = [small, big] if label in shared else [big]
            status = {}
            for child in children:
                status[child.database] = child.ask(op="time", label=label, n=2)["status"]
            times: dict[str, list[float]] = {child.database: [] for child in children}
            for index in range(repeat):
                for child in (children if index % 2 == 0 else children[::-1]):
                    times[child.database] += child.ask(op="time", label=label, n=1)["times"]
            this_round = []
            for child in children:
                counted = child.ask(op="count", label=label, slow=slow if child is big and round_number == 0 else 0)
                entry = {"p50": statistics.median(times[child.database]), "p95": _percentile95(times[child.database]),
                         "queries": counted["queries"], "status": status[child.database],
                         "path": child.hello["paths"][label]}
                key = "small" if child is small else "big"
                this_round.append(f"{key} p95 {entry['p95'] * 1000:.0f} ms")
                if round_number == 0:  # the slowest statements are asked for in the first round only
                    entry["slow"] = counted["slow"]
                best = figures.setdefault(label, {}).get(key)
                if best is None or entry["p95"] < best["p95"]:
                    figures[label][key] = {**entry, "slow": best["slow"]} if best else entry
            print(f"  round {round_number + 1}: {label}: {', '.join(this_round)}", file=sys.stderr, flush=True)
    return figures


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
    parser.add_argument("--rounds", type=int, default=2, help="time every URL this many times over")
    parser.add_argument("--slow", type=int, default=0, help="print the N slowest SQL statements per URL (big)")
    parser.add_argument("--skip", default="", help="comma-separated parts of labels of URLs not to measure "
                        "(e.g. search,compare)")
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # child: DATABASE,RUNS,SAMPLES,COMPARE
    args = parser.parse_args()
    skip = tuple(part for part in args.skip.split(",") if part)
    if args.serve:
        database, runs, samples, compare = args.serve.split(",")
        serve(database=database, runs=int(runs), samples=int(samples), compare_samples=int(compare), skip=skip)
        return
    (small_runs, small_samples), (big_runs, big_samples) = args.small, args.big
    print(f"{args.small_db}: {small_runs:,} runs, {small_samples:,} samples; {args.big_db}: {big_runs:,} runs, "
          f"{big_samples:,} samples (each made if missing, then served by its own process)", flush=True)
    small = _Child(database=args.small_db, runs=small_runs, samples=small_samples,
                   compare=min(10_000, small_samples // 4), skip=args.skip)
    big = _Child(database=args.big_db, runs=big_runs, samples=big_samples,
                 compare=min(args.compare_samples, big_samples // 4), skip=args.skip)
    load_before = os.getloadavg()[0]
    try:
        figures = measure_interleaved(small=small, big=big, repeat=args.repeat, rounds=args.rounds, slow=args.slow)
    finally:
        small.close()
        big.close()
    print()
    print(f"Django test Client, in-process, one process per size, both signed in and warm; per URL 2 warm-up "
          f"requests, then {args.repeat} timed requests taking turns between the sizes; {args.rounds} rounds, per URL "
          f"and size the round with the lowest p95. Load average {load_before:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after.")
    for note in small.hello["notes"] + [n for n in big.hello["notes"] if n not in small.hello["notes"]]:
        print(f"NOTE: {note}")
    header = (f"{'URL':<46} {'p50 small':>10} {'p95 small':>10} {'p50 big':>9} {'p95 big':>9} {'ratio':>6} "
              f"{'queries':>9}")
    print(header)
    print("-" * len(header))
    over = []
    for label, sizes in figures.items():
        entry, other = sizes["big"], sizes.get("small")
        if other is None:
            print(f"{label:<46} {'-':>10} {'-':>10} {entry['p50'] * 1000:>7.0f}ms {entry['p95'] * 1000:>7.0f}ms "
                  f"{'-':>6} {'-':>4}/{entry['queries']:<4}")
            continue
        ratio = entry["p95"] / other["p95"] if other["p95"] else float("nan")
        if ratio > 1.5:
            over.append(label)
        same = "" if other["queries"] == entry["queries"] else "  <- queries differ"
        status = "" if entry["status"] == other["status"] == 200 else f"  (HTTP {other['status']}/{entry['status']})"
        print(f"{label:<46} {other['p50'] * 1000:>8.0f}ms {other['p95'] * 1000:>8.0f}ms {entry['p50'] * 1000:>7.0f}ms "
              f"{entry['p95'] * 1000:>7.0f}ms {ratio:>6.2f} {other['queries']:>4}/{entry['queries']:<4}{same}{status}")
    print(f"ratio > 1.5: {', '.join(over) if over else 'none'}")
    if args.slow:
        print()
        for label, sizes in figures.items():
            print(f"{label} ({sizes['big']['path']}), slowest statements at the big size:")
            for seconds, sql in sizes["big"].get("slow", []):
                print(f"   {float(seconds) * 1000:8.1f} ms  {sql}")


if __name__ == "__main__":
    main()
