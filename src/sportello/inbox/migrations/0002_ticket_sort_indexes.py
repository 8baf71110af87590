"""Indexes for the inbox's column sorts, on the tickets' table.

The ticket model's indexes serve the newest/oldest and priority sorts, per state too. Sorting a
view (one state or several) by creation or by number walks these instead, backwards for the
ascending sorts, and stops after one page. They are raw SQL in the inbox's own migration because the
sorts are the inbox's; the same statement works on PostgreSQL and SQLite.
"""

from django.db import migrations

INDEXES = {
    "inbox_ticket_state_created": "tickets_ticket (state, created_at DESC, id DESC)",
    "inbox_ticket_state_number": "tickets_ticket (state, number DESC)",
}


class Migration(migrations.Migration):
    dependencies = [
        ("inbox", "0001_initial"),
        ("tickets", "0004_delivery_retries"),
    ]

    operations = [
        migrations.RunSQL(
            sql=f"CREATE INDEX IF NOT EXISTS {name} ON {table}",
            reverse_sql=f"DROP INDEX IF EXISTS {name}",
        )
        for name, table in INDEXES.items()
    ]
