"""Scale the seeded demo up for `make load`: many finished runs, items and samples in the demo exercise.

    from bench.load.data import demo_scale
    demo_scale(runs=300, samples=50)      # idempotent: adds only the runs that are missing

The runs are marked as seeded ("Load run N (seeded results)", one audit event per call); nothing was executed.
Each run has one item per demo model on the arithmetic evaluation, each item ``samples`` SampleResult rows.
Needs Django set up and ``seed_demo`` run first.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

NAME_PREFIX = "Load run "


def demo_scale(*, runs: int = 300, samples: int = 50, batch: int = 50) -> dict[str, int]:
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import User
    from evaluations.management.commands.seed_demo import EXERCISE_NAME
    from evaluations.models import Exercise, ModelVersion, Run, RunItem, SampleResult, TaskVersion
    from portal.audit import audit_record

    exercise = Exercise.objects.get(name=EXERCISE_NAME)
    authors = list(User.objects.filter(email__in=["uk.staff@example.org", "us.staff@example.org"]))
    models = list(ModelVersion.objects.filter(registered_model__exercises=exercise,
                                              provider_model="mockllm/model").order_by("pk"))
    task = TaskVersion.objects.filter(eval_task__exercises=exercise, registry_name="arithmetic").order_by("pk").first()
    if not authors or not models or task is None:
        raise SystemExit("run `manage.py seed_demo` first (demo users, mock models and the arithmetic task)")
    have = Run.objects.filter(exercise=exercise, name__startswith=NAME_PREFIX).count()
    rng = random.Random(7)  # nosec B311 - load-test data, not security
    now = timezone.now()
    made = {"runs": 0, "items": 0, "samples": 0}
    for start in range(have, runs, batch):
        with transaction.atomic():
            new_runs = []
            for n in range(start, min(start + batch, runs)):
                author = authors[n % len(authors)]
                finished = now - timedelta(minutes=runs - n)
                new_runs.append(Run(exercise=exercise, created_by=author, owner_id=author.organisation_id,
                                    name=f"{NAME_PREFIX}{n + 1} (seeded results)", state=Run.State.SUCCEEDED,
                                    submitted_at=finished - timedelta(minutes=9),
                                    approved_at=finished - timedelta(minutes=8),
                                    started_at=finished - timedelta(minutes=7), finished_at=finished))
            Run.objects.bulk_create(new_runs)
            Run.model_versions.through.objects.bulk_create(
                [Run.model_versions.through(run_id=r.pk, modelversion_id=m.pk) for r in new_runs for m in models])
            Run.task_versions.through.objects.bulk_create(
                [Run.task_versions.through(run_id=r.pk, taskversion_id=task.pk) for r in new_runs])
            items = [RunItem(run=r, model_version=m, task_version=task, model_label=m.provider_model,
                             task_label=task.registry_name, state=RunItem.State.SUCCEEDED, total_samples=samples,
                             done_samples=samples, input_tokens=12 * samples, output_tokens=4 * samples,
                             metrics={"match": {"accuracy": round(rng.random(), 3), "stderr": 0.05}},
                             started_at=r.started_at, finished_at=r.finished_at)
                     for r in new_runs for m in models]
            RunItem.objects.bulk_create(items)
            rows = []
            for item in items:
                for i in range(samples):
                    a, b = rng.randint(1, 99), rng.randint(1, 99)
                    correct = rng.random() < 0.6
                    answer = str(a + b) if correct else "Default output from mockllm/model"
                    question = f"What is {a} + {b}?"
                    rows.append(SampleResult(
                        item=item, sample_id=str(i + 1), epoch=1, input=question, input_text=question,
                        target=str(a + b), output=answer, scores={"match": "C" if correct else "I"},
                        score=1.0 if correct else 0.0, input_tokens=12, output_tokens=4, total_tokens=16,
                        total_time=0.01, working_time=0.01,
                        messages=[{"role": "user", "content": question}, {"role": "assistant", "content": answer}]))
            SampleResult.objects.bulk_create(rows, batch_size=2000)
            made["runs"] += len(new_runs)
            made["items"] += len(items)
            made["samples"] += len(rows)
            audit_record(actor=authors[0], action="run.seed_load", obj=new_runs[0], exercise_id=exercise.pk,
                         after={"seeded": True, "runs": len(new_runs), "samples": len(rows)})
    return made


def main(argv: Any = None) -> None:  # python bench/load/data.py --runs 300 --samples 50
    import argparse
    import os
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--samples", type=int, default=50)
    args = parser.parse_args(argv)
    print(demo_scale(runs=args.runs, samples=args.samples))


if __name__ == "__main__":
    main()
