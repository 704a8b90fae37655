"""Models that belong to the portal as a whole."""

import uuid

from django.db import models


class WorkerProbe(models.Model):
    """A row written by the worker self-test task (``manage.py worker_selftest``).

    It proves the whole path (web → broker → worker → database) works, and lets tests check that a task
    killed mid-way runs again on another worker with its effect applied exactly once."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    delay_seconds = models.FloatField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    effect_count = models.PositiveIntegerField(default=0)
    completed_at = models.DateTimeField(null=True, blank=True)
    worker_hostname = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return f"probe {self.id}"


class AuditEvent(models.Model):
    """One row of the append-only, hash-chained audit trail. Written only by ``portal.audit.audit_record``.

    ``hash`` = sha256(previous row's hash + canonical JSON of this row's content); a database trigger
    refuses UPDATE and DELETE; ``manage.py audit_verify`` recomputes the chain."""

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey("accounts.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    actor_email = models.CharField(max_length=254, blank=True)
    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=100, db_index=True)
    object_type = models.CharField(max_length=100, blank=True, db_index=True)
    object_id = models.CharField(max_length=64, blank=True, db_index=True)
    exercise_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_email or 'system'} {self.action}"
