from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("evaluations", "0009_search"),
    ]

    operations = [
        migrations.AddField(
            model_name="connectiontest",
            name="started_at",
            field=models.DateTimeField(blank=True, help_text="When a worker took the test.", null=True),
        ),
    ]
