"""Demo data of the registry and catalogue, called by seed_demo: idempotent."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from evaluations.models import EvalTask, ModelVersion, RegisteredModel, TaskVersion
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
