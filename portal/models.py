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
