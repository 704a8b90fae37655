"""Portal path benchmark: from the LAST approval to ingestion done, vs plain ``inspect eval`` on the command line.

    DATABASE_URL=postgresql://…/portal_bench REDIS_URL=redis://…/11 \
        .venv/bin/python bench/portal_path.py [--samples 1000] [--repeat 2]
    .venv/bin/python -m portal.devservices run -- .venv/bin/python bench/portal_path.py      # embedded services
    .venv/bin/python bench/portal_path.py --local-model http://127.0.0.1:8765/v1 --samples 20  # make local-model

Needs a migrated database (``DEBUG=1 .venv/bin/python manage.py migrate``) and Redis; no farm-bench.

  cli    : ``inspect eval bench/bench_tasks.py@bench_echo -T samples=N --model mockllm/model`` in a subprocess,
           wall time (a cold interpreter), timed by ``cli_once`` of bench/run_vs_cli.py (imported, not copied).
  portal : in the benchmark database: two institutes, their approvers, a staff user, an exercise, a registered
           ``mockllm/model`` version and a catalogue task version whose ``registry_name`` is
           ``bench/bench_tasks.py@bench_echo`` (the task carries its mockllm model with token usage, so the worker
           gets the very outputs the command line gets). A real Celery worker (prefork, concurrency 1, its own
           queue) is started and warmed with one 5-sample run through the same path. Then, per round: the run is
           created, submitted and approved by the UK approver (clock not running); the clock starts; the US
           approver approves via ``evaluations.services.runs.run_approve`` (-> run_start -> on_commit dispatch ->
           Redis -> worker: claim, ItemSpec from the database, run_item with database progress, samples_ingest
           into PostgreSQL, item_finish); the item row is polled every 50 ms until it is succeeded and its
           SampleResult rows number the samples; the clock stops.
Prints both times (best of --repeat) and the ratio portal/cli (target <= 1.10). The worker is stopped and the
benchmark's runs, results and logs are deleted at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

TASKS = f"{BASE_DIR}/bench/bench_tasks.py"
LOCAL_MODEL = "openai-api-completions/llamacpp/gemma3-270m"


def _environment(media_root: str) -> None:
    """Settings the strict Env parser needs, when not given (DATABASE_URL and REDIS_URL must be)."""
    for name in ("DATABASE_URL", "REDIS_URL"):
        if not os.environ.get(name):
            raise SystemExit(f"{name} is not set (or run under `python -m portal.devservices run --`).")
    defaults = {
        "DEBUG": "0",
        "SECRET_KEY": "bench-secret-key-not-for-production-0123456789abcdef0123456789abcdef",  # nosec B105
        "FIELD_ENCRYPTION_KEYS": "dGVzdC1maWVsZC1rZXktMDEyMzQ1Njc4OWFiY2RlZmc=",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "HF_HUB_OFFLINE": "1",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    # A queue of the benchmark's own (a `make run` worker on the same Redis never takes its items) and a media
    # root of its own (the logs of the run items), both shared with the worker through its environment.
    os.environ["CELERY_QUEUE"] = f"bench-{uuid.uuid4().hex[:12]}"
    os.environ["MEDIA_ROOT"] = media_root
    os.environ.setdefault("INSPECT_LOG_LEVEL", "warning")


class Fixture:
    """The rows a run needs, created in the benchmark database with a unique suffix (deleted by ``cleanup``)."""

    def __init__(self, args: argparse.Namespace) -> None:
        from accounts.models import Organisation, User
        from evaluations.models import EvalTask, Exercise, ModelVersion, RegisteredModel, TaskVersion

        tag = uuid.uuid4().hex[:8]
        self.tag = tag
        self.uk = Organisation.objects.create(name=f"Bench UK {tag}", kind="institute", country_code="GB")
        self.us = Organisation.objects.create(name=f"Bench US {tag}", kind="institute", country_code="US")
        self.staff = User.objects.create_user(
            f"bench.staff.{tag}@example.org", None, organisation=self.uk, role="staff"
        )
        self.uk_approver = User.objects.create_user(
            f"bench.uk.approver.{tag}@example.org", None, organisation=self.uk, role="approver"
        )
        self.us_approver = User.objects.create_user(
            f"bench.us.approver.{tag}@example.org", None, organisation=self.us, role="approver"
        )
        self.exercise = Exercise.objects.create(name=f"Bench exercise {tag}", status=Exercise.Status.ACTIVE)
        self.exercise.institutes.set([self.uk, self.us])
        registered = RegisteredModel.objects.create(
            name=f"Bench model {tag}", owner=self.uk, created_by=self.staff
        )
        registered.exercises.add(self.exercise)
        if args.local_model:
            self.model = ModelVersion.objects.create(
                registered_model=registered,
                number=1,
                provider_model=LOCAL_MODEL,
                base_url=args.local_model,
                config={"max_tokens": 8},
                max_connections=1,
                created_by=self.staff,
            )
            task_name = "bench_prompts"
        else:
            # bench_echo carries its own mockllm model (outputs with token usage); the version names the same
            self.model = ModelVersion.objects.create(
                registered_model=registered,
                number=1,
                provider_model="mockllm/model",
                max_connections=10,
                created_by=self.staff,
            )
            task_name = "bench_echo"
        eval_task = EvalTask.objects.create(name=f"bench {tag}", owner=self.uk, created_by=self.staff)
        eval_task.exercises.add(self.exercise)
        self.task_version = TaskVersion.objects.create(
            eval_task=eval_task,
            number=1,
            kind=TaskVersion.Kind.REGISTRY,
            registry_name=f"{TASKS}@{task_name}",
            args={},
            created_by=self.staff,
        )
        self.runs: list[int] = []

    def submitted_run(self, samples: int):  # type: ignore[no-untyped-def]
        """A run of ``samples`` samples, submitted and approved by the UK approver (waiting for the US one)."""
        from evaluations.models import TaskVersion
        from evaluations.services.runs import run_approve, run_create

        TaskVersion.objects.filter(pk=self.task_version.pk).update(args={"samples": samples})
        self.task_version.refresh_from_db()
        run = run_create(
            actor=self.staff,
            exercise=self.exercise,
            models=[self.model],
            tasks=[self.task_version],
            options={"name": f"Bench {samples} samples"},
            submit=True,
        )
        self.runs.append(run.pk)
        run_approve(actor=self.uk_approver, run=run)
        run.refresh_from_db()
        return run

    def cleanup(self) -> None:
        from django.db.models.deletion import ProtectedError

        from evaluations.models import Run, SampleResult

        SampleResult.objects.filter(item__run_id__in=self.runs).delete()
        try:
            Run.objects.filter(pk__in=self.runs).delete()
        except ProtectedError as exc:  # audit or notification rows keep them: the results are gone anyway
            print(f"(runs kept: {exc.args[0][:120]})")


def portal_once(fixture: Fixture, samples: int, timeout: float) -> float:
    """Last approval -> item succeeded with ``samples`` SampleResult rows. Returns the wall time."""
    from evaluations.models import RunItem, SampleResult
    from evaluations.services.runs import run_approve

    run = fixture.submitted_run(samples)
    (item_id,) = RunItem.objects.filter(run=run).values_list("pk", flat=True)
    t0 = time.perf_counter()
    run_approve(actor=fixture.us_approver, run=run)
    deadline = t0 + timeout
    while True:
        state, error = RunItem.objects.filter(pk=item_id).values_list("state", "error").get()
        if (
            state == RunItem.State.SUCCEEDED
            and SampleResult.objects.filter(item_id=item_id).count() == samples
        ):
            seconds = time.perf_counter() - t0
            break
        if state in (RunItem.State.FAILED, RunItem.State.CANCELLED):
            raise SystemExit(f"item {item_id} {state}: {error}")
        if time.perf_counter() > deadline:
            raise SystemExit(f"item {item_id} still {state} after {timeout:.0f} s")
        time.sleep(0.05)
    # the mockllm outputs' token usage reached the worker (progress written from each sample event)
    tokens = RunItem.objects.filter(pk=item_id).values_list("input_tokens", flat=True).get()
    if tokens <= 0:
        raise SystemExit(f"item {item_id}: no token usage recorded")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--local-model", default=None, help="base URL of `make local-model` (…/v1)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for one portal item")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="portal-path-")
    _environment(f"{tmp}/media")

    import django

    django.setup()
    from django.db import close_old_connections

    from bench.run_vs_cli import cli_once  # the command line, timed the same way as there
    from tests.support.workers import celery_worker

    extra_env = {"LLAMACPP_API_KEY": "local"} if args.local_model else {}
    fixture = Fixture(args)
    try:
        with celery_worker(concurrency=1, pool="prefork", extra_env=extra_env, ready_timeout=120) as worker:
            try:
                warm = portal_once(fixture, samples=5, timeout=args.timeout)  # a worker after its first item
            except SystemExit:
                print(worker.log()[-4000:])
                raise
            print(f"warm-up item (5 samples, cold worker) {warm:.1f} s", flush=True)
            rows = []
            for i in range(args.repeat):
                cli = cli_once(args, f"{tmp}/cli{i}")
                close_old_connections()
                portal = portal_once(fixture, samples=args.samples, timeout=args.timeout)
                rows.append((cli, portal))
                print(
                    f"[{i + 1}] cli {cli:6.1f} s   portal (last approval -> ingested) {portal:6.1f} s",
                    flush=True,
                )
        cli = min(r[0] for r in rows)
        portal = min(r[1] for r in rows)
        model = LOCAL_MODEL if args.local_model else "mockllm/model"
        print(f"samples {args.samples}, model {model}, best of {args.repeat}")
        print(f"inspect eval (cold CLI)                 {cli:7.1f} s")
        print(f"portal: last approval -> ingested (warm) {portal:6.1f} s")
        print(f"ratio portal/cli                        {portal / cli:7.2f}   (target <= 1.10)")
    finally:
        fixture.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
