"""Factories for the registry/catalogue rows a run needs (rows created directly, without the registry's services)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evaluations.models import EvalTask, Exercise, ModelVersion, RegisteredModel, TaskVersion

FIXTURE_TASKS = str(Path(__file__).with_name("fixture_tasks.py").resolve())


def model_version(*, exercise: Exercise, user: Any, name: str = "Mock model", provider_model: str = "mockllm/model",
                  max_connections: int = 4, **fields: Any) -> ModelVersion:
    registered = RegisteredModel.objects.create(name=name, owner=user.organisation, created_by=user)
    registered.exercises.add(exercise)
    return ModelVersion.objects.create(registered_model=registered, number=1, provider_model=provider_model,
                                       max_connections=max_connections, created_by=user, **fields)


def task_version(*, exercise: Exercise, user: Any, name: str = "counting", task: str = "counting",
                 args: dict[str, Any] | None = None) -> TaskVersion:
    """A version of the test-only @task ``task`` in tests/runs/fixture_tasks.py."""
    eval_task = EvalTask.objects.create(name=name, owner=user.organisation, created_by=user)
    eval_task.exercises.add(exercise)
    return TaskVersion.objects.create(eval_task=eval_task, number=1, kind=TaskVersion.Kind.REGISTRY,
                                      registry_name=f"{FIXTURE_TASKS}@{task}", args=args or {}, created_by=user)
