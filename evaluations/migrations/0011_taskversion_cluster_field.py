from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("evaluations", "0010_connection_test_started_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="taskversion",
            name="cluster_field",
            field=models.CharField(
                blank=True,
                help_text="A sample metadata field whose samples are not independent (e.g. passage_id): comparisons "
                "cluster standard errors by it unless asked otherwise. Blank: by sample only. An analysis "
                "setting, not part of what is run: changed in place on the current version (audited) and "
                "carried to later versions.",
                max_length=100,
            ),
        ),
    ]
