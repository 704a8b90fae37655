"""Demo data of the registry and catalogue, called by seed_demo: idempotent."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from evaluations.models import EvalTask, ModelVersion, RegisteredModel, TaskVersion
from portal.audit import audit_record

DEMO_MODEL_NAME = "Demo mock model"
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
    model = RegisteredModel.objects.filter(name=DEMO_MODEL_NAME, owner_id=owner_id).first()
    if model is None:
        model = RegisteredModel.objects.create(name=DEMO_MODEL_NAME, owner_id=owner_id, created_by=created_by,
                                               notes="Inspect's mock model: answers without a network.")
        ModelVersion.objects.create(registered_model=model, number=1, provider_model="mockllm/model",
                                    config={"max_tokens": 16}, max_connections=4, created_by=created_by)
        audit_record(actor=created_by, action="model.create", obj=model, after={"name": model.name, "seed": True},
                     exercise_id=exercise.pk)
    model.exercises.add(exercise)
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
    return {"model": model, "tasks": tasks}
