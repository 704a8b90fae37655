"""factory-boy factories for the portal's models."""

from __future__ import annotations

import factory

from accounts.models import Organisation, User
from evaluations.models import Exercise

DEFAULT_PASSWORD = "correct-horse-battery-staple-42"


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
