from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0010_recorded_entries_are_the_customers"),
    ]

    operations = [
        migrations.AddField(
            model_name="status",
            name="active",
            field=models.BooleanField(default=True),
        ),
        migrations.AddField(
            model_name="status",
            name="set_on_agent_reply",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="category",
            name="active",
            field=models.BooleanField(default=True),
        ),
    ]
