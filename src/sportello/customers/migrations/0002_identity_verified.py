from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="identity",
            name="verified",
            field=models.BooleanField(default=False),
        ),
    ]
