"""Entries an agent took down for a customer (a call, a walk-in, a letter) are hers.

Before `metadata.recorded_by` existed, such entries were written with both authors: the
customer and, as `author_user`, the agent who logged them, so the ticket page, the portal and
the API named the agent. An inbound entry with both is one of those: the agent moves into
`metadata.recorded_by` (as intake writes it today) and the customer stays the only author.
"""

from django.db import migrations

BATCH = 1000


def customer_is_author(apps, schema_editor):
    Entry = apps.get_model("tickets", "Entry")
    both = Entry.objects.filter(
        direction="inbound", author_customer__isnull=False, author_user__isnull=False
    ).select_related("author_user")
    while True:
        rows = list(both[:BATCH])
        if not rows:
            return
        for entry in rows:
            agent = entry.author_user
            metadata = entry.metadata if isinstance(entry.metadata, dict) else {}
            name = f"{agent.first_name} {agent.last_name}".strip() or agent.username
            metadata.setdefault("recorded_by", {"id": agent.pk, "name": name})
            entry.metadata = metadata
            entry.author_user = None
        Entry.objects.bulk_update(rows, ["metadata", "author_user"])


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0009_delivered_read"),
    ]

    operations = [migrations.RunPython(customer_is_author, migrations.RunPython.noop, elidable=True)]
