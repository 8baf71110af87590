"""Human-friendly, sequential reference numbers (#10001, #10002, …).

PostgreSQL: a sequence (`sportello_seq_<name>`). `nextval` never waits for another transaction,
so concurrent intakes do not queue behind one another; a rolled-back intake leaves a gap, as in
every large help desk. SQLite: a counter row, incremented with one `UPDATE … RETURNING` inside the
caller's transaction (SQLite runs one writer at a time anyway), so numbers are gap-free there.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from sportello.core import lookups
from sportello.core.models import Counter


def sequence_name(name: str) -> str:
    return f"sportello_seq_{name}"


def next_number(name: str = "ticket") -> int:
    """Take the next number of a sequence; call inside the transaction that uses it."""
    connection = transaction.get_connection()
    assert connection.in_atomic_block, "next_number needs a transaction"
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(%s)", [sequence_name(name)])
            return int(cursor.fetchone()[0])
    table = connection.ops.quote_name(Counter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET value = value + 1 WHERE name = %s RETURNING value", [name])
        row = cursor.fetchone()
    if row is not None:
        return int(row[0])
    Counter.objects.get_or_create(name=name, defaults={"value": settings.TICKET_NUMBER_START - 1})
    return next_number(name)


def next_number_and_stamp(name: str = "ticket") -> tuple[int, int | None]:
    """The next number, and the version of the near-static lookups (core/lookups.py) read in the
    same statement: intake needs both and pays one round trip (two the first time, when the
    version's row is made). None: the counter row was missing (SQLite), so nothing is cached."""
    connection = transaction.get_connection()
    assert connection.in_atomic_block, "next_number needs a transaction"
    table = connection.ops.quote_name(Counter._meta.db_table)
    stamp = f"(SELECT value FROM {table} WHERE name = %s)"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SELECT nextval(%s), {stamp}", [sequence_name(name), lookups.STAMP])
        else:
            cursor.execute(
                f"UPDATE {table} SET value = value + 1 WHERE name = %s RETURNING value, {stamp}", [name, lookups.STAMP]
            )
        row = cursor.fetchone()
    if row is None:  # SQLite without the counter row yet
        return next_number(name), None
    return int(row[0]), lookups.ensure_stamp() if row[1] is None else int(row[1])
