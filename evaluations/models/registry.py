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


class ModelCredential(models.Model):
    """The write-only API key (and optional extra headers) of a registered model, encrypted with MultiFernet
    (settings.FIELD_ENCRYPTION_KEYS, newest first). Only who set it and when are ever shown."""

    registered_model = models.OneToOneField(RegisteredModel, on_delete=models.CASCADE, related_name="credential")
    ciphertext = models.BinaryField(help_text="Fernet token of a JSON object {api_key, headers}.")
    header_names = models.JSONField(default=list, blank=True, help_text="Names (never values) of extra headers.")
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    set_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Credential of {self.registered_model_id}"

    def __repr__(self) -> str:
        return f"<ModelCredential model={self.registered_model_id} set_at={self.set_at}>"


class ConnectionTest(models.Model):
    """One 'test connection' request: a short generation sent through Inspect from a worker."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    registered_model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="connection_tests")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="connection_tests")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    output_excerpt = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True, help_text="When a worker took the test.")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]

    def __str__(self) -> str:
        return f"Connection test {self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)
