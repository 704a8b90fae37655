"""What each request of the `make load` mix costs in one process, through Django's test client (no network, no
gunicorn): the first request of each kind in a fresh process (a cold gunicorn worker) and then the median wall
and CPU time of ``--repeat`` more, plus optionally a pyinstrument profile of the whole warm mix.

    DATABASE_URL=... REDIS_URL=... DEBUG=1 .venv/bin/python bench/load/profile_pages.py [--repeat 20] [--profile]
    DATABASE_URL=... REDIS_URL=... DEBUG=0 SECRET_KEY=x FIELD_ENCRYPTION_KEYS=... SECURE_SSL_REDIRECT=0 ... (production)
    ... --warm     # the same after portal.warmup.warm_up(), as gunicorn.conf.py does before a worker serves

Needs what bench/load/run.py made (seed_demo, the scaled-up demo and its "Load test run"). CPU time is robust to
a busy machine (wall time is not): compare CPU.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

BASE = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--warm", action="store_true", help="call portal.warmup.warm_up() first")
    parser.add_argument(
        "--profile", action="store_true", help="pyinstrument profile of 5 rounds of the warm mix"
    )
    parser.add_argument("--out", default="/tmp/portal-pages-profile.txt")  # nosec B108 - a default the user may change
    args = parser.parse_args()
    sys.path.insert(0, str(BASE))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    c0 = time.process_time()
    import django

    django.setup()
    setup_cpu = time.process_time() - c0
    from django.conf import settings
    from django.test import Client

    from accounts.models import ApiToken, User
    from accounts.services import api_token_create
    from bench.load.data import NAME_PREFIX
    from evaluations.models import Exercise, Run, SampleResult
    from tests.support.helpers import sign_in

    warm_cpu = 0.0
    if args.warm:
        from portal.warmup import warm_up

        c0 = time.process_time()
        warm_up()
        warm_cpu = time.process_time() - c0
    user = User.objects.get(email="uk.staff@example.org")
    live = (
        Run.objects.filter(name__startswith="Load test run").order_by("-pk").first()
        or Run.objects.order_by("-pk").first()
    )
    finished = Run.objects.filter(name__startswith=NAME_PREFIX).order_by("-pk").first()
    if live is None or finished is None:
        raise SystemExit("run bench/load/run.py once first (the scaled-up demo and a load test run)")
    sample = SampleResult.objects.filter(item__run=finished).order_by("pk").first()
    exercise = Exercise.objects.get(pk=live.exercise_id)
    ApiToken.objects.filter(user=user, name="pages profile").delete()
    token = api_token_create(user=user, scope="read", name="pages profile", days=1).plain
    staff = Client(HTTP_HOST="127.0.0.1")
    sign_in(staff, user)
    api = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")
    mix = [
        ("/api/v1/runs/[id]/", api, f"/api/v1/runs/{live.pk}/"),
        ("/runs/[id]/ (running)", staff, f"/runs/{live.pk}/"),
        ("/runs/[id]/items/ (htmx poll)", staff, f"/runs/{live.pk}/items/"),
        ("/runs/[id]/ (finished)", staff, f"/runs/{finished.pk}/"),
        ("/runs/?page=[n]", staff, "/runs/?page=3"),
        ("/", staff, "/"),
        ("/exercises/[id]/", staff, f"/exercises/{exercise.pk}/"),
        ("/runs/[id]/samples/", staff, f"/runs/{finished.pk}/samples/"),
        ("/samples/[id]/", staff, f"/samples/{sample.pk if sample else 0}/"),
        ("/findings/", staff, "/findings/"),
        ("/models/", staff, "/models/"),
        ("/tasks/", staff, "/tasks/"),
        ("/notifications/", staff, "/notifications/"),
    ]

    def timed(client: Client, url: str) -> tuple[float, float]:
        t0, c0 = time.perf_counter(), time.process_time()
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000

    first = {name: timed(client, url) for name, client, url in mix}
    warm: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in mix}
    for _ in range(args.repeat):
        for name, client, url in mix:
            warm[name].append(timed(client, url))
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        profiler.start()
        for _ in range(5):
            for _name, client, url in mix:
                client.get(url)
        profiler.stop()
        Path(args.out).write_text(profiler.output_text(unicode=False, color=False, show_all=False))
    print(
        f"DEBUG={int(settings.DEBUG)}; django.setup() {setup_cpu * 1000:.0f} ms CPU"
        + (f"; warm_up() {warm_cpu * 1000:.0f} ms CPU" if args.warm else "")
        + f"; load average {os.getloadavg()[0]:.1f}"
    )
    print("| request | first request: wall ms | CPU ms | then: median wall ms | median CPU ms |")
    print("|---|---|---|---|---|")
    for name, _, _ in mix:
        walls, cpus = [w for w, _ in warm[name]], [c for _, c in warm[name]]
        print(
            f"| {name} | {first[name][0]:.0f} | {first[name][1]:.0f} | {statistics.median(walls):.1f} | "
            f"{statistics.median(cpus):.1f} |"
        )
    total_first = sum(c for _, c in first.values())
    total_warm = sum(statistics.median([c for _, c in warm[name]]) for name, _, _ in mix)
    print(f"| all {len(mix)} (sum) | | {total_first:.0f} | | {total_warm:.1f} |")
    if args.profile:
        print(f"profile of 5 rounds of the warm mix: {args.out}")
    ApiToken.objects.filter(user=user, name="pages profile").delete()


if __name__ == "__main__":
    main()
