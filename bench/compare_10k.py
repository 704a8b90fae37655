"""Comparison benchmark (issue 13): the compare page's work for two items of N samples each vs 1,000 each.

    DATABASE_URL=postgresql://root@127.0.0.1:5432/<db> REDIS_URL=redis://127.0.0.1:6379/<n> \\
        .venv/bin/python bench/compare_10k.py [--samples 10000] [--base 1000] [--repeat 5] [--epochs 1]

Creates (before the clock) an exercise, two registered models on one evaluation version and, per size, a run
with two items of ``--samples`` (and ``--base``) binary-scored samples in PostgreSQL (the database of
DATABASE_URL, migrated first), like the portal's ingestion writes them (``scores`` JSON with value and numeric).
Then times, ``--repeat`` times each, what ``/runs/compare/`` and ``/api/v1/compare/`` do:
``items_for_compare`` (the access layer) + ``comparison_build`` (one query for both items' samples, every metric's
clustered estimate and Wilson interval, the paired difference, McNemar, the paired bootstrap, Holm and BH, the
side by side), and, separately, the statistics alone on the loaded scores. Prints the median and 95th percentile
of each, the ratio N / base, and the number of SQL queries at both sizes (the same). Deletes what it created.
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


def _setup():
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _make(samples: int, epochs: int, exercise, user, models, task):
    from evaluations.models import Run, RunItem, SampleResult

    run = Run.objects.create(exercise=exercise, created_by=user, owner_id=user.organisation_id,
                             name=f"bench {samples}", state=Run.State.SUCCEEDED)
    items = []
    for index, mv in enumerate(models):
        item = RunItem.objects.create(run=run, model_version=mv, task_version=task, model_label=mv.provider_model,
                                      task_label="bench", state=RunItem.State.SUCCEEDED, done_samples=samples)
        rows = []
        for s in range(samples):
            for e in range(1, epochs + 1):
                right = (s * 7 + e + index * 3) % 10 < (6 if index == 0 else 5)
                rows.append(SampleResult(item=item, sample_id=str(s), epoch=e, score=float(right),
                                         scores={"match": {"value": "C" if right else "I", "answer": "x",
                                                           "explanation": "bench", "numeric": float(right)}}))
        SampleResult.objects.bulk_create(rows, batch_size=2000)
        items.append(item)
    return run, items


CPU: list[float] = []


def _time(fn, repeat: int) -> list[float]:
    """Wall times; the process's CPU times go to CPU (the machine is shared: wall time includes waiting for a
    core)."""
    out = []
    CPU.clear()
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        out.append(time.perf_counter() - start)
        CPU.append(time.process_time() - cpu)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--base", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the larger comparison")
    args = parser.parse_args()
    _setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.models import Organisation, User
    from evaluations.models import EvalTask, Exercise, ModelVersion, RegisteredModel, TaskVersion
    from evaluations.selectors.comparisons import (
        _gc_paused,
        _samples_load,
        comparison_build,
        items_for_compare,
    )
    from evaluations.statistics.estimates import mean_estimate, sample_means
    from evaluations.statistics.paired import paired_compare

    def _paused_load(items):
        with _gc_paused():
            return _samples_load(items, "")

    org = Organisation.objects.create(name=f"Bench institute {time.time_ns()}", kind=Organisation.Kind.INSTITUTE,
                                      country_code="GB")
    user = User.objects.create(email=f"bench{time.time_ns()}@example.org", organisation=org,
                               role=User.Role.STAFF)
    exercise = Exercise.objects.create(name="Compare bench", status=Exercise.Status.ACTIVE)
    exercise.institutes.set([org])
    models = []
    for name in ("Bench A", "Bench B"):
        registered = RegisteredModel.objects.create(name=name, owner=org, created_by=user)
        models.append(ModelVersion.objects.create(registered_model=registered, number=1,
                                                  provider_model=f"mockllm/{name[-1]}", created_by=user))
    eval_task = EvalTask.objects.create(name="Bench task", owner=org, created_by=user)
    task = TaskVersion.objects.create(eval_task=eval_task, number=1, kind=TaskVersion.Kind.REGISTRY,
                                      registry_name="bench", created_by=user)
    made = []
    try:
        results = {}
        for size in (args.base, args.samples):
            run, items = _make(size, args.epochs, exercise, user, models, task)
            made.append(run)
            ids = [",".join(str(i.pk) for i in items)]

            def page(ids=ids):
                comparison_build(items=items_for_compare(user=user, values=ids), page=1)

            page()  # warm
            with CaptureQueriesContext(connection) as queries:
                page()
            loaded = _samples_load(items, "")
            pairs = [[(sid, v) for sid, s in loaded[i.pk].items() for v in s.values["match"]] for i in items]

            def stats_only(pairs=pairs):
                for p in pairs:
                    mean_estimate(p)
                paired_compare(sample_means(pairs[0]), sample_means(pairs[1]))

            if args.profile and size == args.samples:
                import cProfile
                import pstats

                profile = cProfile.Profile()
                profile.runcall(page)
                pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
            walls = _time(page, args.repeat)
            cpu = list(CPU)
            results[size] = {"page": walls, "cpu": cpu, "stats": _time(stats_only, args.repeat),
                             # as comparison_build loads them: without cyclic garbage collection
                             "load": _time(lambda items=items: _paused_load(items), args.repeat),
                             "queries": len(queries)}

        def p95(values):
            return sorted(values)[max(0, round(0.95 * len(values)) - 1)]

        for size, r in results.items():
            print(f"{size:>6} samples × 2 items: comparison median {statistics.median(r['page']):.3f} s, "
                  f"p95 {p95(r['page']):.3f} s (CPU median {statistics.median(r['cpu']):.3f} s); statistics alone median {statistics.median(r['stats']):.3f} s; "
                  f"loading the samples (query + decoding) median {statistics.median(r['load']):.3f} s; "
                  f"{r['queries']} queries")
        big, small = results[args.samples], results[args.base]
        print(f"ratio {args.samples} / {args.base}: comparison p95 {p95(big['page']) / p95(small['page']):.2f}, "
              f"statistics {statistics.median(big['stats']) / statistics.median(small['stats']):.2f}; "
              f"queries {big['queries']} vs {small['queries']}")
    finally:
        for run in made:
            run.delete()
        for mv in models:
            mv.delete()
            mv.registered_model.delete()
        task.delete()
        eval_task.delete()
        exercise.delete()
        user.delete()
        org.delete()


if __name__ == "__main__":
    main()
