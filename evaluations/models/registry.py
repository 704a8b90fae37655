"""Registered models under test. Every change to what is called makes a new ModelVersion; runs pin one."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class RegisteredModel(models.Model):
    name = models.CharField(max_length=200)
    owner = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="registered_models")
    exercises = models.ManyToManyField("evaluations.Exercise", related_name="registered_models")
    notes = models.TextField(blank=True, help_text="Model card link, version, access terms.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def current_version(self) -> ModelVersion | None:
        return self.versions.order_by("-number").first()


class ModelVersion(models.Model):
    registered_model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    provider_model = models.CharField(max_length=300, help_text="Inspect model string, e.g. openai-api/local/gemma.")
    base_url = models.URLField(max_length=500, blank=True)
    config = models.JSONField(default=dict, blank=True, help_text="Generation settings (temperature, max_tokens, ...).")
    max_connections = models.PositiveIntegerField(default=4)
    price_input_per_million = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    price_output_per_million = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["registered_model", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["registered_model", "number"], name="unique_model_version_number"),
        ]

    def __str__(self) -> str:
        return f"{self.registered_model.name} v{self.number}"
