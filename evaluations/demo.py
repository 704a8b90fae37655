"""Demo data of the registry and catalogue, called by seed_demo: idempotent."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.models import Organisation, User
from evaluations.models import (
    EvalTask,
    Finding,
    ModelVersion,
    RegisteredModel,
    RiskArea,
    Run,
    RunItem,
    SampleResult,
    TaskVersion,
)
from evaluations.services import findings as findings_services
from evaluations.services import search as search_services
from portal.audit import audit_record

DEMO_MODEL_NAME = "Demo mock model"
# A second configuration, so the demo evaluation runs on two models (mockllm: offline, answers with token usage).
DEMO_MODELS: dict[str, tuple[str, str, dict[str, Any], str]] = {
    DEMO_MODEL_NAME: ("mockllm/model", "", {"max_tokens": 16}, "Inspect's mock model: answers without a network."),
    "Demo mock model (sampling)": ("mockllm/model", "", {"max_tokens": 16, "temperature": 0.7, "seed": 7},
                                   "The mock model with another generation configuration."),
}
# ``make local-model`` serves gemma3-270m here; when it answers, seed_demo registers it too.
LOCAL_MODEL: tuple[str, str, str, dict[str, Any], str] = ("Gemma 3 270M (local llama.cpp)", "openai-api-completions/llamacpp/gemma3-270m",
               "http://127.0.0.1:8765/v1", {"max_tokens": 8, "temperature": 0.0, "timeout": 60},
               "A small base model served on 127.0.0.1 by `make local-model`.")


def local_model_served(host: str = "127.0.0.1", port: int = 8765) -> bool:
    import socket

    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False
DEMO_TASKS = {
    "arithmetic": ("Arithmetic (built-in)", "Ten one-line sums, few-shot; offline."),
    "capital_cities": ("Capital cities (built-in)", "Capitals of ten countries, few-shot; offline."),
    "instruction_following": ("Instruction following (built-in)", "Five format instructions; offline."),
}


@transaction.atomic
def seed_evaluations(*, exercise: Any, created_by: Any) -> dict[str, Any]:
    """Register the ``mockllm/model`` demo model and the three built-in tasks in ``exercise``, owned by
    ``created_by``'s institute. Running it again changes nothing."""
    owner_id = created_by.organisation_id
    wanted = dict(DEMO_MODELS)
    if local_model_served():
        name, provider_model, base_url, config, notes = LOCAL_MODEL
        wanted[name] = (provider_model, base_url, config, notes)
    models = []
    for name, (provider_model, base_url, config, notes) in wanted.items():
        registered = RegisteredModel.objects.filter(name=name, owner_id=owner_id).first()
        if registered is None:
            registered = RegisteredModel.objects.create(name=name, owner_id=owner_id, created_by=created_by,
                                                        notes=notes)
            ModelVersion.objects.create(registered_model=registered, number=1, provider_model=provider_model,
                                        base_url=base_url, config=config,
                                        max_connections=1 if base_url else 4, created_by=created_by)
            audit_record(actor=created_by, action="model.create", obj=registered,
                         after={"name": registered.name, "seed": True}, exercise_id=exercise.pk)
        registered.exercises.add(exercise)
        models.append(registered)
    model = models[0]
    tasks = []
    for registry_name, (name, description) in DEMO_TASKS.items():
        task = EvalTask.objects.filter(name=name, owner_id=owner_id).first()
        if task is None:
            task = EvalTask.objects.create(name=name, description=description, owner_id=owner_id,
                                           created_by=created_by)
            TaskVersion.objects.create(eval_task=task, number=1, kind=TaskVersion.Kind.REGISTRY,
                                       registry_name=registry_name, args={}, created_by=created_by)
            audit_record(actor=created_by, action="task.create", obj=task, after={"name": name, "seed": True},
                         exercise_id=exercise.pk)
        task.exercises.add(exercise)
        tasks.append(task)
    return {"model": model, "models": models, "tasks": tasks}


DEMO_FINDING_TITLE = "Demo: the mock model answers sums with a fixed reply"
DEMO_EXCERPT = ("user: What is 2 + 3?\nassistant: Default output from mockllm/model\n"
                "(reviewer note: seen again in internal run 42)")
DEMO_REDACTED = "(reviewer note: seen again in internal run 42)"
DEMO_SAMPLES = [("1", "What is 2 + 3?", "5"), ("2", "What is 7 - 4?", "3"), ("3", "What is 6 x 2?", "12")]


def seed_findings(*, exercise: Any, evaluations: dict[str, Any]) -> Any:
    """One released demo finding, so the partner viewer's first sign-in shows something: a demo run of the demo model
    on the arithmetic task with seeded results (marked as such; nothing was executed), a finding by uk.staff quoting
    one sample with one span redacted, submitted, signed off by both approvers and released by us.approver to
    Partner Institute CA, all through the ordinary services (audited). Running it again changes nothing."""
    existing = Finding.objects.filter(exercise=exercise, title=DEMO_FINDING_TITLE).first()
    if existing is not None:
        return existing
    users = {u.email: u for u in User.objects.filter(email__in=[
        "uk.staff@example.org", "uk.approver@example.org", "us.approver@example.org"])}
    partner = Organisation.objects.filter(name="Partner Institute CA", kind=Organisation.Kind.PARTNER).first()
    if len(users) != 3 or partner is None:
        return None
    author = users["uk.staff@example.org"]
    if author.organisation is None:
        return None
    model = evaluations["model"].current_version
    task = next(t for t in evaluations["tasks"] if t.current_version.registry_name == "arithmetic").current_version
    area, _ = RiskArea.objects.get_or_create(slug="safeguards", defaults={"name": "Safeguards", "ordering": 40})
    with transaction.atomic():
        run = Run.objects.create(exercise=exercise, created_by=author, owner=author.organisation,
                                 name="Demo run (seeded results)", state=Run.State.SUCCEEDED)
        run.model_versions.set([model])
        run.task_versions.set([task])
        item = RunItem.objects.create(run=run, model_version=model, task_version=task, model_label=model.provider_model,
                                      task_label=task.registry_name, state=RunItem.State.SUCCEEDED,
                                      total_samples=len(DEMO_SAMPLES), done_samples=len(DEMO_SAMPLES),
                                      metrics={"match": {"accuracy": 0.0, "stderr": 0.0}})
        samples = [SampleResult.objects.create(
            item=item, sample_id=sample_id, epoch=1, input=question, input_text=question, target=target,
            output="Default output from mockllm/model", scores={"match": "I"}, score=0.0,
            messages=[{"role": "user", "content": question},
                      {"role": "assistant", "content": "Default output from mockllm/model"}])
            for sample_id, question, target in DEMO_SAMPLES]
        search_services.samples_index(item_id=item.pk)  # searchable at once (no worker needed for the demo)
        audit_record(actor=author, action="run.seed_demo", obj=run, exercise_id=exercise.pk,
                     after={"seeded": True, "samples": len(samples)})
        start = DEMO_EXCERPT.index(DEMO_REDACTED)
        finding = findings_services.finding_create(actor=author, exercise=exercise, data={
            "title": DEMO_FINDING_TITLE, "severity": "low", "risk_area": area.slug,
            "summary": ("The demo model gives the same reply to every arithmetic question, so it scores **0%**.\n\n"
                        "This finding exists to show the workflow: evidence, redaction, two sign-offs, release."),
            "evidence": [{"sample": samples[0].pk, "excerpt": DEMO_EXCERPT, "message_indices": [0, 1],
                          "redactions": [[start, start + len(DEMO_REDACTED)]]}],
            "run_items": [item.pk],
        })
        findings_services.finding_submit(actor=author, finding=finding)
        findings_services.finding_sign_off(actor=users["uk.approver@example.org"], finding=finding)
        findings_services.finding_sign_off(actor=users["us.approver@example.org"], finding=finding)
        findings_services.finding_release(actor=users["us.approver@example.org"], finding=finding,
                                          partners=[partner.pk])
    return finding


DEMO_COMPARISON_RUN = "Demo comparison (seeded results)"
DEMO_COMPARISON_SAMPLES = 200


def seed_comparison(*, exercise: Any, evaluations: dict[str, Any]) -> Any:
    """A demo run of both demo models on the arithmetic task with seeded results (marked as such; nothing was
    executed): 200 sums each, the second model right less often on the same questions, so that the compare page
    has a paired difference to show and the run form's power planning has earlier results to learn from.
    Deterministic; running it again changes nothing."""
    import random

    existing = Run.objects.filter(exercise=exercise, name=DEMO_COMPARISON_RUN).first()
    if existing is not None:
        return existing
    author = User.objects.filter(email="uk.staff@example.org").first()
    models = [m.current_version for m in evaluations["models"] if m.name in DEMO_MODELS]
    if author is None or author.organisation is None or len(models) < 2:
        return None
    task = next(t for t in evaluations["tasks"] if t.current_version.registry_name == "arithmetic").current_version
    rng = random.Random(7)  # nosec B311 - demo data, not security
    questions = [(str(i), rng.randint(2, 60), rng.randint(2, 60)) for i in range(1, DEMO_COMPARISON_SAMPLES + 1)]
    # The first model is right on about 80 % of the sums; the second on most of those and a few others (~68 %).
    first_right = [rng.random() < 0.80 for _ in questions]
    second_right = [(rng.random() < 0.80) if right else (rng.random() < 0.25) for right in first_right]
    with transaction.atomic():
        run = Run.objects.create(exercise=exercise, created_by=author, owner=author.organisation,
                                 name=DEMO_COMPARISON_RUN, state=Run.State.SUCCEEDED)
        run.model_versions.set(models[:2])
        run.task_versions.set([task])
        for model, right in zip(models[:2], (first_right, second_right), strict=True):
            accuracy = sum(right) / len(right)
            stderr = (accuracy * (1 - accuracy) / (len(right) - 1)) ** 0.5
            item = RunItem.objects.create(
                run=run, model_version=model, task_version=task, model_label=model.provider_model,
                task_label=task.registry_name, state=RunItem.State.SUCCEEDED, total_samples=len(right),
                done_samples=len(right), metrics={"match": {"accuracy": accuracy, "stderr": stderr}})
            rows = []
            for (sample_id, a, b), ok in zip(questions, right, strict=True):
                question = f"What is {a} + {b}?"
                answer = str(a + b) if ok else str(a + b + 1)
                rows.append(SampleResult(
                    item=item, sample_id=sample_id, epoch=1, input=question, input_text=question, target=str(a + b),
                    output=answer, scores={"match": "C" if ok else "I"}, score=1.0 if ok else 0.0,
                    messages=[{"role": "user", "content": question}, {"role": "assistant", "content": answer}]))
            SampleResult.objects.bulk_create(rows)
            search_services.samples_index(item_id=item.pk)
        audit_record(actor=author, action="run.seed_demo", obj=run, exercise_id=exercise.pk,
                     after={"seeded": True, "samples": 2 * len(questions)})
    return run
