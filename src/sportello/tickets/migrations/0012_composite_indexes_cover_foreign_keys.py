"""Drop the single-column indexes of Ticket.customer, .group, .assignee and Entry.ticket.

Each column leads a composite index that answers every look-up by it (ticket_customer,
ticket_group_state, ticket_assignee_state, entry_thread), the foreign key checks of a delete
included; the second index only cost every create (a ticket row maintained 19 indexes).

The state change is Django's (db_index=False); the database change is a plain DROP INDEX:
Django's AlterField would also drop and re-add the foreign key constraints on PostgreSQL, which
re-checks every row of a large table under lock, for nothing.
"""

from django.conf import settings
from django.db import migrations, models

# The indexes Django named for these foreign keys (same names on PostgreSQL and SQLite).
INDEXES = {
    "tickets_ticket_customer_id_f2d9135a": "tickets_ticket (customer_id)",
    "tickets_ticket_group_id_4c5eda1a": "tickets_ticket (group_id)",
    "tickets_ticket_assignee_id_3a5aa407": "tickets_ticket (assignee_id)",
    "tickets_entry_ticket_id_ee19e15a": "tickets_entry (ticket_id)",
}


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_token_scopes_and_expiry"),
        ("customers", "0007_custom_fields"),
        ("tickets", "0011_status_active_and_reply"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="entry",
                    name="ticket",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=models.deletion.CASCADE,
                        related_name="entries",
                        to="tickets.ticket",
                    ),
                ),
                migrations.AlterField(
                    model_name="ticket",
                    name="assignee",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=models.deletion.SET_NULL,
                        related_name="assigned_tickets",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="ticket",
                    name="customer",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=models.deletion.PROTECT,
                        related_name="tickets",
                        to="customers.customer",
                    ),
                ),
                migrations.AlterField(
                    model_name="ticket",
                    name="group",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=models.deletion.SET_NULL,
                        related_name="tickets",
                        to="accounts.group",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(f"DROP INDEX IF EXISTS {name}", f"CREATE INDEX IF NOT EXISTS {name} ON {on}")
                for name, on in INDEXES.items()
            ],
        ),
    ]
