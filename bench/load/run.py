"""`make load`: locust against a `make run`-style portal (gunicorn + Celery worker + beat under honcho, the
Procfile) with the demo scaled up, for a bounded time, while a run executes.

    make load                                   # embedded PostgreSQL/Redis when DATABASE_URL/REDIS_URL are unset
    make load LOAD_ARGS="--duration 120 --pollers 50 --staff 10"
    DATABASE_URL=... REDIS_URL=... .venv/bin/python bench/load/run.py --duration 60

Steps: migrate and seed_demo; scale the demo (bench/load/data.py: ``--runs`` finished runs, two items each,
``--samples`` samples per item; idempotent); sign in ``--staff`` sessions (MFA passed) and make one bearer token
per poller (``api_token_create``, the service behind ``create_api_token``); start web, worker and beat on a free
port and wait for /readyz; start a run of ``bench/load/load_tasks.py@load_echo`` on the demo mock model (paced
mockllm answers) and approve it by both institutes; once its item has done a sample (``--start-after-samples``),
locust runs ``--duration`` seconds
headless (``bench/load/locustfile.py``): ``--pollers`` API clients polling the run's JSON every 2 s and the
staff sessions reading pages. Prints requests per second, p50/p95/p99, failures and 5xx per request name and
overall (also ``results.json`` in ``--out``); then cancels the run and stops the portal.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

BASE = Path(__file__).resolve().parents[2]
PY = sys.executable
LOCUST_PYTHON = BASE / ".run" / "locust-venv" / "bin" / "python"  # bin/ensure-locust


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - the local portal  # nosec B310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


def manage(*args: str) -> str:
    result = subprocess.run([PY, "manage.py", *args], cwd=BASE, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def plan_build(args: argparse.Namespace) -> dict[str, Any]:
    """Sessions, tokens and the ids the locust users read (Django set up in this process)."""
    from django.conf import settings
    from django.test import Client

    from accounts.models import User
    from accounts.services import api_token_create
    from bench.load.data import NAME_PREFIX
    from evaluations.management.commands.seed_demo import EXERCISE_NAME
    from evaluations.models import Exercise, Run, SampleResult
    from tests.support.helpers import sign_in

    exercise = Exercise.objects.get(name=EXERCISE_NAME)
    staff = list(User.objects.filter(email__in=["uk.staff@example.org", "us.staff@example.org", "admin@example.org",
                                                "uk.approver@example.org", "us.approver@example.org"]))
    sessions = []
    for n in range(args.staff):
        client = Client()
        sign_in(client, staff[n % len(staff)])
        sessions.append(client.cookies[settings.SESSION_COOKIE_NAME].value)
    pollers = [u for u in staff if u.role == "staff"]
    tokens = [api_token_create(user=pollers[n % len(pollers)], scope="read", name=f"load test {n + 1}", days=1).plain
              for n in range(args.pollers)]
    run_ids = list(Run.objects.filter(exercise=exercise, name__startswith=NAME_PREFIX).values_list("pk", flat=True))
    samples = list(SampleResult.objects.filter(item__run_id__in=run_ids[-50:]).values_list("pk", flat=True)[:500])
    return {"exercise": exercise.pk, "sessions": sessions, "session_cookie": settings.SESSION_COOKIE_NAME,
            "tokens": tokens, "runs": run_ids, "run_pages": max(1, Run.objects.count() // 25), "samples": samples,
            "pollers": args.pollers, "staff": args.staff}


def live_run_start(*, samples: int, delay: float) -> int:
    """A run of load_echo on the demo mock model, approved by both institutes (so it starts)."""
    from accounts.models import User
    from evaluations.management.commands.seed_demo import EXERCISE_NAME
    from evaluations.models import EvalTask, Exercise, ModelVersion, TaskVersion
    from evaluations.services.runs import run_approve, run_create

    users = {u.email: u for u in User.objects.filter(email__endswith="@example.org")}
    author = users["uk.staff@example.org"]
    exercise = Exercise.objects.get(name=EXERCISE_NAME)
    model = ModelVersion.objects.filter(registered_model__exercises=exercise, provider_model="mockllm/model",
                                        base_url="").order_by("pk").first()
    task, _ = EvalTask.objects.get_or_create(name="Load test (paced mock answers)", owner_id=author.organisation_id,
                                             defaults={"created_by": author, "description": "bench/load/load_tasks.py"})
    task.exercises.add(exercise)
    registry_name = f"{BASE / 'bench' / 'load' / 'load_tasks.py'}@load_echo"
    version, _ = TaskVersion.objects.update_or_create(
        eval_task=task, number=1,
        defaults={"kind": TaskVersion.Kind.REGISTRY, "registry_name": registry_name,
                  "args": {"samples": samples, "delay": delay}, "created_by": author})
    run = run_create(actor=author, exercise=exercise, models=[model], tasks=[version],
                     options={"name": f"Load test run ({samples} samples)"}, submit=True)
    run_approve(actor=users["uk.approver@example.org"], run=run)
    run_approve(actor=users["us.approver@example.org"], run=run)
    return run.pk


def live_run_wait_running(run_id: int, timeout: float, samples: int = 0) -> None:
    """Until the run's item is running and, with ``samples``, has done that many samples: an item is "running" from
    the moment its task starts, while the worker still imports Inspect and its task registry (10-15 s of CPU on this
    machine) before the first sample; the load is meant to meet a run that executes, not a worker starting."""
    from django.db.models import Sum

    from evaluations.models import RunItem

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = set(RunItem.objects.filter(run_id=run_id).values_list("state", flat=True))
        done = RunItem.objects.filter(run_id=run_id).aggregate(n=Sum("done_samples"))["n"] or 0
        if "running" in states and done >= samples:
            return
        if states and states <= {"failed", "cancelled", "succeeded"}:
            raise SystemExit(f"the load run {run_id} ended before the test: {states}")
        time.sleep(0.5)
    raise SystemExit(f"the load run {run_id} did not start within {timeout:.0f} s")


def live_run_cancel(run_id: int) -> str:
    from accounts.models import User
    from evaluations.models import Run, RunItem
    from evaluations.services.runs import run_cancel

    run = Run.objects.get(pk=run_id)
    done = sum(RunItem.objects.filter(run_id=run_id).values_list("done_samples", flat=True))
    state = run.state
    if state in {"running", "queued", "scheduled", "approved"}:
        run_cancel(actor=User.objects.get(email="uk.staff@example.org"), run=run)
    return f"the run was {state}, {done} samples done"


def cpu_seconds(portal: subprocess.Popen[bytes]) -> dict[str, float]:
    """CPU time (user + system) used so far by the portal's processes, by kind (web, worker, beat)."""
    import psutil

    used = {"web": 0.0, "worker": 0.0, "beat": 0.0}
    for proc in psutil.Process(portal.pid).children(recursive=True):
        try:
            command = " ".join(proc.cmdline())
            times = proc.cpu_times()
        except psutil.Error:
            continue
        kind = "web" if "gunicorn" in command else "beat" if " beat" in command else "worker" if "worker" in command else None
        if kind:
            used[kind] += times.user + times.system
    return used


def procfile_write(path: Path, *, nice: int) -> Path:
    """The Procfile, with the worker and beat at a lower priority (``nice``) than web: in production they run on
    other hosts (docs/operations.md), here the executing run's worker would take CPU from the pages measured."""
    lines = []
    for line in (BASE / "Procfile").read_text().splitlines():
        name, sep, command = line.partition(":")
        if nice and sep and name.strip() in {"worker", "beat"}:
            line = f"{name}: nice -n {nice} {command.strip()}"
        lines.append(line)
    path.write_text("\n".join(lines) + "\n")
    return path


def results_read(prefix: Path, duration: float) -> dict[str, Any]:
    rows = list(csv.DictReader(Path(f"{prefix}_stats.csv").read_text().splitlines()))
    failures_csv = Path(f"{prefix}_failures.csv")
    failures = list(csv.DictReader(failures_csv.read_text().splitlines())) if failures_csv.exists() else []
    fives = sum(int(f["Occurrences"]) for f in failures if re.match(r"(HTTPError\(['\"])?5\d\d\b", f["Error"]))
    out = []
    for row in rows:
        out.append({"name": row["Name"], "requests": int(row["Request Count"]), "failures": int(row["Failure Count"]),
                    "rps": float(row["Requests/s"]), "p50": float(row["50%"] or 0), "p95": float(row["95%"] or 0),
                    "p99": float(row["99%"] or 0), "max": float(row["Max Response Time"] or 0)})
    return {"duration": duration, "rows": out, "server_errors": fives,
            "failures": [{"error": f["Error"], "name": f["Name"], "count": int(f["Occurrences"])} for f in failures]}


def server_side_read(portal_log: Path) -> dict[str, Any]:
    """From gunicorn's access log (the format run.py sets): requests per web worker and the time they took in it
    (from reading the request to the response written; the rest of what the client saw is queueing)."""
    found = re.findall(r'pid=<(\d+)> "[A-Z]+ (\S+) [^"]*" \d+ \S+ (\d+)ms', portal_log.read_text(errors="replace"))
    times = sorted(int(ms) for _, path, ms in found if not path.startswith(("/readyz", "/healthz")))
    per_worker: dict[str, int] = {}
    for pid, path, _ in found:
        if not path.startswith(("/readyz", "/healthz")):
            per_worker[pid] = per_worker.get(pid, 0) + 1

    def pct(q: float) -> int:
        return times[min(len(times) - 1, int(q * len(times)))] if times else 0

    return {"per_worker": sorted(per_worker.values(), reverse=True), "p50": pct(0.5), "p95": pct(0.95),
            "p99": pct(0.99), "max": times[-1] if times else 0}


def slowest_read(requests_csv: Path) -> dict[str, Any]:
    """The slowest 1 % of requests (what sets p99), from the per-request log of the locustfile: by name, how many
    were a user's first request, and when in the test they started."""
    if not requests_csv.exists():
        return {}
    rows = list(csv.DictReader(requests_csv.read_text().splitlines()))
    if not rows:
        return {}
    rows.sort(key=lambda r: float(r["ms"]))
    slow = rows[-max(1, len(rows) // 100):]
    t0 = min(float(r["start"]) for r in rows)
    names: dict[str, int] = {}
    for r in slow:
        names[r["name"]] = names.get(r["name"], 0) + 1
    return {"count": len(slow), "from_ms": round(float(slow[0]["ms"])), "first_of_user": sum(r["nth"] == "1" for r in slow),
            "names": sorted(names.items(), key=lambda kv: -kv[1]),
            "started_at_s": sorted(round(float(r["start"]) - t0, 1) for r in slow)}


def results_print(results: dict[str, Any]) -> None:
    total = next((r for r in results["rows"] if r["name"] == "Aggregated"), {"requests": 0})["requests"]
    cpu = results["cpu_seconds"]
    print(f"\nload: {results['duration']:.0f} s; 5xx responses: {results['server_errors']}; gunicorn "
          f"{results['web_workers']} workers x {results['web_threads']} threads; CPU used: web {cpu['web']} s "
          f"({1000 * cpu['web'] / max(total, 1):.0f} ms a request), worker {cpu['worker']} s, beat {cpu['beat']} s; "
          f"machine load average {results['load_average'][0]:.1f} before, {results['load_average'][1]:.1f} after")
    print("| request | requests | req/s | p50 ms | p95 ms | p99 ms | max ms | failures |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results["rows"]:
        print(f"| {r['name']} | {r['requests']} | {r['rps']:.1f} | {r['p50']:.0f} | {r['p95']:.0f} | {r['p99']:.0f} | "
              f"{r['max']:.0f} | {r['failures']} |")
    server = results["server_side"]
    print(f"in gunicorn (access log): requests per worker {server['per_worker']}; p50 {server['p50']} ms, "
          f"p95 {server['p95']} ms, p99 {server['p99']} ms, max {server['max']} ms; Celery worker and beat at "
          f"nice {results['worker_nice']}, locust at nice {results['locust_nice']}; load started after "
          f"{results['start_after_samples']} samples of the live run")
    slow = results.get("slowest", {})
    if slow:
        print(f"slowest 1 %: {slow['count']} requests of {slow['from_ms']} ms or more, {slow['first_of_user']} of them a "
              f"user's first; {', '.join(f'{n} {name}' for name, n in slow['names'])}; started at "
              f"{', '.join(str(t) for t in slow['started_at_s'])} s")
    for f in results["failures"][:10]:
        print(f"failure: {f['count']} × {f['name']}: {f['error'][:200]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=60, help="seconds of load (default 60)")
    parser.add_argument("--pollers", type=int, default=50, help="API clients polling the run every 2 s")
    parser.add_argument("--staff", type=int, default=10, help="signed-in staff sessions reading pages")
    parser.add_argument("--runs", type=int, default=300, help="finished demo runs to have (scaled up once)")
    parser.add_argument("--samples", type=int, default=50, help="samples per item of those runs")
    parser.add_argument("--delay", type=float, default=0.05, help="seconds per mock answer of the live run")
    parser.add_argument("--spawn-rate", type=float, default=10,
                        help="users started per second (default 10: the 60 users in 6 s, so that the pollers' 2-s cycles"
                             " fall at different moments, as real clients' do; 60 starts them all in the same second)")
    parser.add_argument("--port", type=int, default=0, help="web port (default: a free one)")
    parser.add_argument("--worker-nice", type=int, default=10, choices=range(20), metavar="0-19",
                        help="nice level of the Celery worker and beat (default 10; 0: as the Procfile)")
    parser.add_argument("--start-after-samples", type=int, default=1, metavar="N",
                        help="start the load once the live run has done N samples (default 1: the worker has started"
                             " Inspect; 0: as soon as its item is running, while the worker still starts up)")
    parser.add_argument("--locust-nice", type=int, default=0, choices=range(20), metavar="0-19",
                        help="nice level of locust (default 0). On this machine locust shares the cores with the portal"
                             " it measures; a real test runs it on another host. Say which in any figure quoted")
    parser.add_argument("--locust-python", default=str(LOCUST_PYTHON),
                        help="the Python that runs locust (default .run/locust-venv's, made by `make install-load`:"
                             " locust in a virtualenv of its own, not the portal's; the locustfile needs only locust)")
    parser.add_argument("--out", default=None, help="directory for locust's CSV and results.json")
    args = parser.parse_args()
    if not Path(args.locust_python).exists():
        raise SystemExit(f"{args.locust_python} is missing: `make install-load` makes it (locust in a virtualenv of its own)")
    for name in ("DATABASE_URL", "REDIS_URL"):
        if not os.environ.get(name):
            raise SystemExit(f"{name} is not set (run under `python -m portal.devservices run --`, as `make load` does)")
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    sys.path.insert(0, str(BASE))
    out = Path(args.out or tempfile.mkdtemp(prefix="portal-load-"))
    out.mkdir(parents=True, exist_ok=True)
    print("load: migrate, seed_demo", flush=True)
    manage("migrate", "--noinput", "-v0")
    manage("seed_demo", "--json")
    import django

    django.setup()
    from bench.load.data import demo_scale

    t0 = time.monotonic()
    made = demo_scale(runs=args.runs, samples=args.samples)
    print(f"load: demo scaled up ({made}, {time.monotonic() - t0:.0f} s)", flush=True)
    plan = plan_build(args)
    port = args.port or free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PORTAL_PORT": str(port), "SITE_URL": url,
           # gunicorn's access log with the worker's pid and the time each request took in it (portal.log)
           "GUNICORN_CMD_ARGS": os.environ.get("GUNICORN_CMD_ARGS", "")
           + " --access-logformat '%(t)s pid=%(p)s \"%(r)s\" %(s)s %(b)s %(M)sms'"}
    procfile = procfile_write(out / "Procfile", nice=args.worker_nice)
    with open(out / "portal.log", "wb") as log:
        portal = subprocess.Popen([str(BASE / ".venv" / "bin" / "honcho"), "start", "-f", str(procfile)], cwd=BASE,
                                  env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    run_id = None
    try:
        deadline = time.monotonic() + 180
        while status_of(f"{url}/readyz") != 200:
            if portal.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the portal did not become ready; see {out / 'portal.log'}")
            time.sleep(1)
        samples = int(args.duration / args.delay * 1.5) + 100
        run_id = live_run_start(samples=samples, delay=args.delay)
        live_run_wait_running(run_id, timeout=180, samples=args.start_after_samples)
        plan["live_run"] = run_id
        (out / "plan.json").write_text(json.dumps(plan))
        users = args.pollers + args.staff
        print(f"load: {url}, run {run_id} running; locust {users} users for {args.duration:.0f} s", flush=True)
        prefix = out / "locust"
        cpu_before, load_before = cpu_seconds(portal), os.getloadavg()[0]
        nice = ["nice", "-n", str(args.locust_nice)] if args.locust_nice else []
        subprocess.run([*nice, args.locust_python, "-m", "locust", "-f", str(BASE / "bench" / "load" / "locustfile.py"), "--headless",
                        "-u", str(users), "-r", str(args.spawn_rate), "-t", f"{int(args.duration)}s", "--host", url,
                        "--csv", str(prefix), "--only-summary", "--stop-timeout", "5", "--loglevel", "WARNING"],
                       cwd=BASE, env={**os.environ, "LOAD_PLAN": str(out / "plan.json"),
                                          "LOAD_REQUEST_LOG": str(out / "requests.csv")}, check=False)
        if not Path(f"{prefix}_stats.csv").exists():
            raise SystemExit("locust wrote no statistics (see its output above)")
        cpu_after, load_after = cpu_seconds(portal), os.getloadavg()[0]
        results = results_read(prefix, args.duration)
        results["cpu_seconds"] = {k: round(cpu_after[k] - cpu_before[k], 1) for k in cpu_after}
        results["load_average"] = [load_before, load_after]
        results["web_workers"] = os.environ.get("WEB_WORKERS", "2 (default)")
        results["web_threads"] = os.environ.get("WEB_THREADS", "4 (default)")
        results["worker_nice"] = args.worker_nice
        results["locust_nice"] = args.locust_nice
        results["start_after_samples"] = args.start_after_samples
        results["live_run"] = live_run_cancel(run_id)
        run_id = None
        results["server_side"] = server_side_read(out / "portal.log")
        results["slowest"] = slowest_read(out / "requests.csv")
        (out / "results.json").write_text(json.dumps(results, indent=2))
        results_print(results)
        print(f"load: {results['live_run']}; files in {out}")
    finally:
        if run_id is not None:
            live_run_cancel(run_id)
        if portal.poll() is None:
            os.killpg(portal.pid, signal.SIGINT)
            try:
                portal.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(portal.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
