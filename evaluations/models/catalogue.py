"""The evaluation catalogue: Inspect tasks (registry or uploaded dataset). Editing makes a new TaskVersion."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class EvalTask(models.Model):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    owner = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="eval_tasks")
    exercises = models.ManyToManyField("evaluations.Exercise", related_name="eval_tasks")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def current_version(self) -> TaskVersion | None:
        return self.versions.order_by("-number").first()


class TaskVersion(models.Model):
    class Kind(models.TextChoices):
        REGISTRY = "registry", "Registered Inspect task"
        DATASET = "dataset", "Uploaded dataset"

    eval_task = models.ForeignKey(EvalTask, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    registry_name = models.CharField(max_length=300, blank=True, help_text="e.g. evaluations/arithmetic")
    args = models.JSONField(default=dict, blank=True)
    dataset_file = models.FileField(upload_to="datasets/%Y/%m/", blank=True)
    dataset_sha256 = models.CharField(max_length=64, blank=True)
    sample_count = models.PositiveIntegerField(null=True, blank=True)
    solver = models.CharField(max_length=50, blank=True)
    solver_args = models.JSONField(default=dict, blank=True)
    scorer = models.CharField(max_length=50, blank=True)
    scorer_args = models.JSONField(default=dict, blank=True)
    grader_model_version = models.ForeignKey(
        "evaluations.ModelVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        help_text="Grader model of a model-graded scorer.",
    )
    dataset_name = models.CharField(max_length=255, blank=True, help_text="The uploaded file's original name.")
    dataset_format = models.CharField(max_length=10, blank=True, help_text="csv or jsonl")
    preview = models.JSONField(default=list, blank=True, help_text="The first samples, for display.")
    needs_network = models.BooleanField(default=False, help_text="Downloads data at run time.")
    cluster_field = models.CharField(
        max_length=100, blank=True,
        help_text="A sample metadata field whose samples are not independent (e.g. passage_id): comparisons "
                  "cluster standard errors by it unless asked otherwise. Blank: by sample only. An analysis "
                  "setting, not part of what is run: changed in place on the current version (audited) and "
                  "carried to later versions.",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["eval_task", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["eval_task", "number"], name="unique_task_version_number"),
        ]

    def __str__(self) -> str:
        return f"{self.eval_task.name} v{self.number}"
