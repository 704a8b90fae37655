"""factory-boy factories for the portal's models, and rows of the registry and catalogue a run needs (created
directly, without the registry's services)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import factory

from accounts.models import Organisation, User
from evaluations.models import EvalTask, Exercise, ModelVersion, RegisteredModel, TaskVersion

DEFAULT_PASSWORD = "correct-horse-battery-staple-42"
# The test-only @task file (its path, without importing inspect_ai here).
FIXTURE_TASKS = str(Path(__file__).with_name("fixture_tasks.py").resolve())


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Institute {n}")
    kind = Organisation.Kind.INSTITUTE
    country_code = "GB"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.org")
    organisation = factory.SubFactory(OrganisationFactory)
    role = User.Role.STAFF
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


class ExerciseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Exercise
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Exercise {n}")
    status = Exercise.Status.ACTIVE

    @factory.post_generation
    def institutes(obj, create, extracted, **kwargs):  # noqa: N805
        if create and extracted:
            obj.institutes.set(extracted)

    @factory.post_generation
    def partners(obj, create, extracted, **kwargs):  # noqa: N805
        if create and extracted:
            obj.partners.set(extracted)


def model_version(*, exercise: Exercise, user: Any, name: str = "Mock model", provider_model: str = "mockllm/model",
                  max_connections: int = 4, **fields: Any) -> ModelVersion:
    registered = RegisteredModel.objects.create(name=name, owner=user.organisation, created_by=user)
    registered.exercises.add(exercise)
    return ModelVersion.objects.create(registered_model=registered, number=1, provider_model=provider_model,
                                       max_connections=max_connections, created_by=user, **fields)


def task_version(*, exercise: Exercise, user: Any, name: str = "counting", task: str = "counting",
                 args: dict[str, Any] | None = None) -> TaskVersion:
    """A version of the test-only @task ``task`` in tests/support/fixture_tasks.py."""
    eval_task = EvalTask.objects.create(name=name, owner=user.organisation, created_by=user)
    eval_task.exercises.add(exercise)
    return TaskVersion.objects.create(eval_task=eval_task, number=1, kind=TaskVersion.Kind.REGISTRY,
                                      registry_name=f"{FIXTURE_TASKS}@{task}", args=args or {}, created_by=user)
