"""Joint test runs: a run (models x evaluations of one exercise), its approvals, its items (one Inspect evaluation
each), the per-sample results ingested from the items' logs, and in-portal notifications."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q


class RunState(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Waiting for approval"
    APPROVED = "approved", "Approved (scheduled)"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIALLY_SUCCEEDED = "partially_succeeded", "Partially succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    REJECTED = "rejected", "Rejected"


class Run(models.Model):
    State = RunState

    class Schedule(models.TextChoices):
        NOW = "now", "As soon as approved"
        AT = "at", "At a set time"
        RECURRING = "recurring", "Recurring (cron)"

    class Origin(models.TextChoices):
        PORTAL = "portal", "Run by the portal"
        IMPORTED = "imported", "Imported log"

    exercise = models.ForeignKey("evaluations.Exercise", on_delete=models.PROTECT, related_name="runs")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="runs")
    owner = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="runs")
    name = models.CharField(max_length=200)
    origin = models.CharField(max_length=20, choices=Origin.choices, default=Origin.PORTAL)
    state = models.CharField(max_length=30, choices=RunState.choices, default=RunState.DRAFT, db_index=True)
    model_versions = models.ManyToManyField("evaluations.ModelVersion", related_name="runs", blank=True)
    task_versions = models.ManyToManyField("evaluations.TaskVersion", related_name="runs", blank=True)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="executions",
        help_text="For an execution of a recurring run: the approved recurring run it repeats.",
    )

    # Options
    limit = models.PositiveIntegerField(null=True, blank=True, validators=[MinValueValidator(1)])
    sample_ids = models.JSONField(default=list, blank=True)
    epochs = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])
    max_samples = models.PositiveIntegerField(null=True, blank=True)
    max_connections = models.PositiveIntegerField(null=True, blank=True)
    seed = models.IntegerField(null=True, blank=True)
    token_budget = models.PositiveBigIntegerField(null=True, blank=True)
    cost_budget = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    fail_on_error = models.FloatField(
        null=True, blank=True, help_text="Fraction (0-1) or count (>1) of sample errors that fails an item."
    )

    # Schedule
    schedule = models.CharField(max_length=20, choices=Schedule.choices, default=Schedule.NOW)
    run_at = models.DateTimeField(null=True, blank=True)
    cron = models.CharField(max_length=100, blank=True, help_text="minute hour day-of-month month day-of-week")
    approval_valid_until = models.DateTimeField(null=True, blank=True)
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    revision = models.PositiveIntegerField(default=1, help_text="Bumped by every edit; approvals name a revision.")
    rejection_reason = models.TextField(blank=True)
    power_plan = models.JSONField(default=dict, blank=True, help_text=(
        "Per evaluation: the minimum detectable difference at the planned samples and epochs (issue 13), "
        "written with every create and edit."))

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["exercise", "state"]),
            # the run list's order (newest first): a page reads 25 rows, not a sort of every visible run (issue 13)
            models.Index(fields=["-created_at", "-id"], name="run_created_desc"),
            # an exercise's page (issue 13): its newest runs, and its timeline's newest submitted, approved and
            # finished runs, each read from an index instead of sorting all the exercise's runs
            models.Index(fields=["exercise", "-created_at", "-id"], name="run_exercise_created"),
            models.Index(fields=["exercise", "-submitted_at"], name="run_exercise_submitted"),
            models.Index(fields=["exercise", "-approved_at"], name="run_exercise_approved"),
            models.Index(fields=["exercise", "-finished_at"], name="run_exercise_finished"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(epochs__gte=1), name="run_epochs_positive"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.state in {RunState.APPROVED, RunState.QUEUED, RunState.RUNNING}


class RunApproval(models.Model):
    class Decision(models.TextChoices):
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="approvals")
    revision = models.PositiveIntegerField()
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="run_approvals")
    institute = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=20, choices=Decision.choices)
    reason = models.TextField(blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "revision", "institute"],
                condition=Q(decision="approved"),
                name="one_approval_per_institute_per_revision",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.decision} by {self.approver} (rev {self.revision})"


class ItemState(models.TextChoices):
    PENDING = "pending", "Waiting for approval"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class RunItem(models.Model):
    State = ItemState
    FINISHED = (ItemState.SUCCEEDED, ItemState.FAILED, ItemState.CANCELLED)

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="items")
    model_version = models.ForeignKey("evaluations.ModelVersion", on_delete=models.PROTECT, related_name="run_items", null=True)
    task_version = models.ForeignKey("evaluations.TaskVersion", on_delete=models.PROTECT, related_name="run_items", null=True)
    model_label = models.CharField(max_length=300, blank=True, help_text="Inspect model string (imports too).")
    task_label = models.CharField(max_length=300, blank=True, help_text="Inspect task name (imports too).")
    state = models.CharField(max_length=20, choices=ItemState.choices, default=ItemState.PENDING, db_index=True)

    # Progress
    total_samples = models.PositiveIntegerField(null=True, blank=True)
    done_samples = models.PositiveIntegerField(default=0)
    error_samples = models.PositiveIntegerField(default=0)
    input_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    eta_seconds = models.PositiveIntegerField(null=True, blank=True)

    # Execution
    queued_at = models.DateTimeField(null=True, blank=True, db_index=True)
    enqueued_at = models.DateTimeField(null=True, blank=True, help_text="When the last task message was sent.")
    lease_owner = models.CharField(max_length=200, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    log_path = models.CharField(max_length=500, blank=True, help_text="Storage name of the Inspect .eval log.")
    previous_log_path = models.CharField(max_length=500, blank=True, help_text="Log a retry continues from.")
    metrics = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "id"]
        indexes = [
            models.Index(fields=["state", "queued_at"]),
            models.Index(fields=["model_version", "state"]),
        ]

    def __str__(self) -> str:
        return f"{self.model_name} × {self.task_name}"

    @property
    def model_name(self) -> str:
        """The registered model and its version ("Mock model v2"); an imported log's item: its provider string.
        The provider string (``model_label``) is the detail shown beside it."""
        return str(self.model_version) if self.model_version_id else self.model_label

    @property
    def task_name(self) -> str:
        """The evaluation and its version ("Arithmetic v1"); an imported log's item: the Inspect task name."""
        return str(self.task_version) if self.task_version_id else self.task_label

    @property
    def progress(self) -> float | None:
        if not self.total_samples:
            return None
        return min(1.0, self.done_samples / self.total_samples)

    @property
    def log_content_type(self) -> str:
        """The media type of the item's Inspect log: JSON for an imported .json log, else the .eval zip."""
        return "application/json" if self.log_path.endswith(".json") else "application/zip"


class SampleResult(models.Model):
    item = models.ForeignKey(RunItem, on_delete=models.CASCADE, related_name="samples")
    sample_id = models.CharField(max_length=300)
    epoch = models.PositiveIntegerField(default=1)
    input = models.JSONField(null=True, blank=True)
    input_text = models.TextField(blank=True)
    target = models.JSONField(null=True, blank=True)
    output = models.TextField(blank=True)
    scores = models.JSONField(default=dict, blank=True)
    score = models.FloatField(null=True, blank=True, help_text="First scorer's value as a number.")
    explanation = models.TextField(blank=True)
    input_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    total_tokens = models.PositiveBigIntegerField(default=0)
    total_time = models.FloatField(null=True, blank=True)
    working_time = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    messages = models.JSONField(default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["item", "sample_id", "epoch"]
        constraints = [
            models.UniqueConstraint(fields=["item", "sample_id", "epoch"], name="unique_sample_per_item_epoch"),
        ]
        indexes = [
            models.Index(fields=["item", "score"]),
            models.Index(fields=["item", "error"], name="sample_item_error", condition=~Q(error="")),
            # The samples pages' order with the row's id: a page deep in an item takes its ids from an index-only
            # scan, then its rows by id (ItemOrderedSamples; issue 13).
            models.Index(fields=["item", "sample_id", "epoch"], include=["id"], name="sample_item_order_ids"),
        ]

    def __str__(self) -> str:
        return f"{self.sample_id} (epoch {self.epoch})"


class Notification(models.Model):
    class Kind(models.TextChoices):
        APPROVAL_NEEDED = "approval_needed", "Approval needed"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        FINISHED = "finished", "Finished"
        FAILED = "failed", "Failed"
        FINDING_SUBMITTED = "finding_submitted", "Finding submitted for review"
        SIGN_OFF_NEEDED = "sign_off_needed", "Sign-off wanted"
        SIGNED_OFF = "signed_off", "Signed off"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"
        RELEASED = "released", "Released"
        WITHDRAWN = "withdrawn", "Withdrawn"
        MENTIONED = "mentioned", "Mentioned in a comment"
        REGRESSION = "regression", "Below its baseline"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="notifications", null=True, blank=True)
    finding = models.ForeignKey("evaluations.Finding", on_delete=models.CASCADE, related_name="notifications",
                                null=True, blank=True)
    kind = models.CharField(max_length=30, choices=Kind.choices)
    text = models.TextField()
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "read_at"]),
            # the notifications page: one user's newest first, without sorting all of them (issue 13)
            models.Index(fields=["user", "-created_at"], name="notification_user_created"),
        ]

    def __str__(self) -> str:
        return self.text[:60]
