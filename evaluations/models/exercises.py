from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models


class Exercise(models.Model):
    """A joint testing exercise: groups models, runs and findings; lists the institutes taking part and
    the partner organisations invited to read released findings."""

    class Status(models.TextChoices):
        PLANNING = "planning", "Planning"
        ACTIVE = "active", "Active"
        CLOSED = "closed", "Closed"

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    institutes = models.ManyToManyField(
        "accounts.Organisation", related_name="exercises", limit_choices_to={"kind": "institute"}
    )
    partners = models.ManyToManyField(
        "accounts.Organisation", related_name="invited_exercises", blank=True, limit_choices_to={"kind": "partner"}
    )
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PLANNING)
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValidationError({"ends_on": "The end date must be on or after the start date."})
