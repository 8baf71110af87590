from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("mail", "0007_blockedsender"),
    ]

    operations = [
        migrations.AddField(
            model_name="mailbox",
            name="imap_password_sealed",
            field=models.TextField(blank=True, editable=False),
        ),
    ]
