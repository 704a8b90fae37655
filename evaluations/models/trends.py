"""Regressions over time (issue 13): the baseline staff choose for a model version × evaluation version in an
exercise; newly finished items of that pair are tested against it (services/trends.py)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class TrendBaseline(models.Model):
    exercise = models.ForeignKey("evaluations.Exercise", on_delete=models.CASCADE, related_name="trend_baselines")
    model_version = models.ForeignKey("evaluations.ModelVersion", on_delete=models.CASCADE, related_name="+")
    task_version = models.ForeignKey("evaluations.TaskVersion", on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey("evaluations.RunItem", on_delete=models.CASCADE, related_name="+",
                             help_text="The finished item new results are compared with (e.g. a signed-off run's).")
    reason = models.TextField(blank=True)
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    set_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["exercise", "model_version", "task_version"],
                                    name="one_trend_baseline_per_pair"),
        ]

    def __str__(self) -> str:
        return f"Baseline item {self.item_id}"
