"""Trigram indexes for the agents' customer search on PostgreSQL.

`find_customers` matches part of a name or address (`icontains`: `UPPER(col::text) LIKE
UPPER('%…%')`), which without an index reads every customer and every address: ~40 ms of the
database per search at 50,000 customers. A GIN index of trigrams on the same expression answers
such a LIKE from the index. SQLite (small installs) has no such index and scans.
"""

from django.db import migrations

INDEXES = [
    ("customer_name_trgm", "customers_customer", "name"),
    ("identity_value_trgm", "customers_identity", "value"),
]


def create(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in INDEXES:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )


def drop(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("customers", "0005_integration")]

    operations = [migrations.RunPython(create, drop)]
