"""What a run's JSON (``GET /api/v1/runs/{id}/`` with a bearer token, as the pollers of `make load` ask for it)
spends its time on: queries per request, time per request, and a pyinstrument profile, in this process through
Django's test client (no network, no gunicorn).

    DATABASE_URL=... REDIS_URL=... DEBUG=1 .venv/bin/python bench/load/profile_run_json.py [--run ID] [--repeat 50]

Needs seed_demo and a run (by default the newest "Load test run" of bench/load/run.py, else the newest run).
Writes the profile to ``--out`` (default /tmp/portal-run-json-profile.txt).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

BASE = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--out", default="/tmp/portal-run-json-profile.txt")  # nosec B108 - a default output path the user may change
    args = parser.parse_args()
    sys.path.insert(0, str(BASE))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from pyinstrument import Profiler

    from accounts.models import ApiToken, User
    from accounts.services import api_token_create
    from evaluations.models import Run

    run = (Run.objects.get(pk=args.run) if args.run else
           Run.objects.filter(name__startswith="Load test run").order_by("-pk").first() or Run.objects.order_by("-pk").first())
    if run is None:
        raise SystemExit("no run: run seed_demo (and bench/load/run.py) first")
    user = User.objects.get(email="uk.staff@example.org")
    ApiToken.objects.filter(user=user, name="run JSON profile").delete()
    token = api_token_create(user=user, scope="read", name="run JSON profile", days=1).plain
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")
    url = f"/api/v1/runs/{run.pk}/"
    for _ in range(5):
        response = client.get(url)
        assert response.status_code == 200, (response.status_code, response.content[:300])
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    captured = list(queries.captured_queries)  # (Django clears its query log when the next request starts)
    shapes = Counter(q["sql"].split(" WHERE ")[0][:110] for q in captured)
    times, cpu = [], []
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for _ in range(20):
        client.get(url)
    profiler.stop()
    Path(args.out).write_text(profiler.output_text(unicode=False, color=False, show_all=False))
    items = run.items.count()
    print(f"run {run.pk} ({items} item(s), {len(response.content)} bytes): {len(captured)} queries "
          f"per request; over {args.repeat} requests median {statistics.median(times):.1f} ms, "
          f"min {min(times):.1f} ms, max {max(times):.1f} ms; CPU median {statistics.median(cpu):.1f} ms; "
          f"load average {os.getloadavg()[0]:.1f}")
    for sql, count in shapes.most_common():
        print(f"  {count} x {sql}")
    print(f"profile of 20 requests: {args.out}")
    ApiToken.objects.filter(user=user, name="run JSON profile").delete()


if __name__ == "__main__":
    main()
