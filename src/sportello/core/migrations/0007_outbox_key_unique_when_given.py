"""An outbox row's key is unique through a partial index, WHERE key IS NOT NULL.

Most rows (one per published event batch) have no key: the unique column indexed their NULLs in
two indexes (its own and Django's LIKE index, which no query used), on every API create.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0006_enqueue_from_row"),
    ]

    operations = [
        migrations.AlterField(
            model_name="outboxmessage",
            name="key",
            field=models.CharField(blank=True, max_length=200, null=True),
        ),
        migrations.AddConstraint(
            model_name="outboxmessage",
            constraint=models.UniqueConstraint(
                condition=models.Q(("key__isnull", False)), fields=("key",), name="outbox_key_unique"
            ),
        ),
    ]
