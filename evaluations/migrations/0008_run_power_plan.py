"""Issue 13: a run's power plan (stored with it for the approvers), the baseline of a model version × evaluation
version in an exercise, and the notice of a result significantly below it."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("evaluations", "0007_scale_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="run",
            name="power_plan",
            field=models.JSONField(blank=True, default=dict, help_text=(
                "Per evaluation: the minimum detectable difference at the planned samples and epochs (issue 13), "
                "written with every create and edit.")),
        ),
        migrations.AlterField(
            model_name="notification",
            name="kind",
            field=models.CharField(choices=[
                ("approval_needed", "Approval needed"), ("approved", "Approved"), ("rejected", "Rejected"),
                ("finished", "Finished"), ("failed", "Failed"), ("finding_submitted", "Finding submitted for review"),
                ("sign_off_needed", "Sign-off wanted"), ("signed_off", "Signed off"),
                ("changes_requested", "Changes requested"), ("released", "Released"), ("withdrawn", "Withdrawn"),
                ("mentioned", "Mentioned in a comment"), ("regression", "Below its baseline")], max_length=30),
        ),
        migrations.CreateModel(
            name="TrendBaseline",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("reason", models.TextField(blank=True)),
                ("set_at", models.DateTimeField(auto_now=True)),
                ("exercise", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                               related_name="trend_baselines", to="evaluations.exercise")),
                ("item", models.ForeignKey(
                    help_text="The finished item new results are compared with (e.g. a signed-off run's).",
                    on_delete=django.db.models.deletion.CASCADE, related_name="+", to="evaluations.runitem")),
                ("model_version", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+",
                                                    to="evaluations.modelversion")),
                ("set_by", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+",
                                             to=settings.AUTH_USER_MODEL)),
                ("task_version", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+",
                                                   to="evaluations.taskversion")),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("exercise", "model_version", "task_version"),
                                                        name="one_trend_baseline_per_pair")],
            },
        ),
    ]
