"""Findings (issue 11): evidence flags on samples, findings with evidence items and linked run items, the
two-institute sign-off, internal comments, and releases (immutable, redacted snapshots for partners).

Shapes agreed in notes/findings-contract.md. Workflow and rules: evaluations/services/findings.py and the access
rule (evaluations/rules_findings.py)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class RiskArea(models.Model):
    """A risk area findings are filed under (admins edit the list; seeded by a data migration)."""

    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    ordering = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["ordering", "name"]

    def __str__(self) -> str:
        return self.name


class EvidenceFlag(models.Model):
    """A staff member's flag on a sample while reviewing: a note and the chosen messages (by their index in the
    Inspect sample). Visible to everyone in the exercise; listed on the run page. Never in a snapshot."""

    sample = models.ForeignKey("evaluations.SampleResult", on_delete=models.PROTECT, related_name="evidence_flags")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(blank=True)
    message_indices = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Flag on sample {self.sample_id}"


class FindingState(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    SIGNED_OFF = "signed_off", "Signed off"
    RELEASED = "released", "Released"


class Severity(models.TextChoices):
    INFORMATIONAL = "informational", "Informational"
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class Finding(models.Model):
    State = FindingState
    Severity = Severity

    exercise = models.ForeignKey("evaluations.Exercise", on_delete=models.PROTECT, related_name="findings")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="findings")
    owner = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="findings",
                              help_text="The author's institute (its members edit and submit the finding).")
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True, help_text="Markdown source.")
    severity = models.CharField(max_length=20, choices=Severity.choices)
    risk_area = models.ForeignKey(RiskArea, on_delete=models.PROTECT, related_name="findings")
    state = models.CharField(max_length=20, choices=FindingState.choices, default=FindingState.DRAFT,
                             db_index=True)
    revision = models.PositiveIntegerField(default=1, help_text="Bumped by every edit; sign-offs name a revision.")
    model_versions = models.ManyToManyField("evaluations.ModelVersion", related_name="findings", blank=True)
    task_versions = models.ManyToManyField("evaluations.TaskVersion", related_name="findings", blank=True)
    run_items = models.ManyToManyField("evaluations.RunItem", through="FindingRunItem", related_name="findings",
                                       blank=True)
    changes_requested_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    signed_off_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["exercise", "state"])]

    def __str__(self) -> str:
        return self.title


class FindingRunItem(models.Model):
    """A run item a finding rests on, with its metrics and confidence intervals copied at the time of writing."""

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="result_links")
    run_item = models.ForeignKey("evaluations.RunItem", on_delete=models.PROTECT, related_name="finding_links")
    metrics = models.JSONField(default=dict, blank=True)
    intervals = models.JSONField(default=dict, blank=True)
    samples = models.PositiveIntegerField(default=0)
    position = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["finding", "position"]
        constraints = [models.UniqueConstraint(fields=["finding", "run_item"], name="unique_finding_run_item")]

    def __str__(self) -> str:
        return f"Run item {self.run_item_id} of finding {self.finding_id}"


class EvidenceItem(models.Model):
    """One sample quoted as evidence: the excerpt and the character spans of it that are redacted (``[start, end]``,
    end exclusive, in Unicode code points) in anything a partner can reach."""

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="evidence")
    sample = models.ForeignKey("evaluations.SampleResult", on_delete=models.PROTECT, related_name="evidence_items")
    excerpt = models.TextField()
    redactions = models.JSONField(default=list, blank=True)
    message_indices = models.JSONField(default=list, blank=True)
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ["finding", "position"]
        constraints = [models.UniqueConstraint(fields=["finding", "position"], name="unique_evidence_position")]

    def __str__(self) -> str:
        return f"Evidence {self.position} of finding {self.finding_id}"


class FindingSignOff(models.Model):
    """One approver's sign-off, for their institute, of one revision. An edit voids it (``voided_at``); at most one
    live sign-off per institute and revision (the database refuses a second)."""

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="sign_offs")
    revision = models.PositiveIntegerField()
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    institute = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    voided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["finding", "revision", "institute"], condition=Q(voided_at__isnull=True),
                                    name="one_sign_off_per_institute_per_revision"),
        ]

    def __str__(self) -> str:
        return f"Sign-off of finding {self.finding_id} rev {self.revision} by {self.approver_id}"


class FindingComment(models.Model):
    """Internal discussion; never in a snapshot. ``mentions``: the users an @mention named (they are notified)."""

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    mentions = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="+", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Comment {self.pk} on finding {self.finding_id}"


class Release(models.Model):
    """An immutable snapshot of a finding released to named partner organisations. ``sha256`` is the hex digest of
    the snapshot's canonical JSON; ``audit_head`` the audit chain's head hash at the moment of release. Withdrawal
    only sets ``withdrawn_at``/``withdrawn_by``; the database refuses any other change and every delete."""

    finding = models.ForeignKey(Finding, on_delete=models.PROTECT, related_name="releases")
    version = models.PositiveIntegerField()
    snapshot = models.JSONField()
    sha256 = models.CharField(max_length=64)
    partners = models.ManyToManyField("accounts.Organisation", related_name="finding_releases")
    released_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    released_at = models.DateTimeField()
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                     null=True, blank=True)
    audit_head = models.CharField(max_length=64)

    class Meta:
        ordering = ["finding", "-version"]
        constraints = [models.UniqueConstraint(fields=["finding", "version"], name="unique_release_version")]

    def __str__(self) -> str:
        return f"Release {self.version} of finding {self.finding_id}"
