from django.db import migrations, models
import django.utils.timezone

import sportello.core.models


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0004_outbox_message"),
    ]

    operations = [
        migrations.CreateModel(
            name="Branding",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("product_name", models.CharField(default="Sportello", max_length=60)),
                (
                    "logo",
                    models.FileField(blank=True, max_length=200, upload_to=sportello.core.models.branding_logo_path),
                ),
                ("logo_type", models.CharField(blank=True, max_length=20)),
                ("primary_color", models.CharField(blank=True, max_length=7)),
                ("support_address", models.EmailField(blank=True, max_length=254)),
                ("updated_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={"verbose_name_plural": "branding"},
        ),
    ]
