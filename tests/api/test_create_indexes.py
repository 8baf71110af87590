"""The indexes a ticket create maintains: none that another index of the same table already answers.

Every index on the tables a create writes costs every create (PostgreSQL updates each one, and
writes WAL for it). An index whose columns lead another index adds nothing a look-up could use:
the longer one answers it, foreign key checks included. The look-ups the dropped ones served
still work (below), now through the composite indexes.
"""

from __future__ import annotations

import pytest
from django.db import connection

from sportello.tickets.models import Entry, Ticket

pytestmark = pytest.mark.django_db

# The tables one create writes rows of, through the models this app owns.
TABLES = [Ticket._meta.db_table, Entry._meta.db_table]


def btree_indexes(table: str) -> dict[str, list[str]]:
    """Plain (b-tree, not unique, not a primary key) indexes of `table`: name -> columns in order."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return {
        name: list(info["columns"])
        for name, info in constraints.items()
        if info["index"] and not info["unique"] and not info["primary_key"] and info["type"] in ("btree", "idx")
    }


@pytest.mark.parametrize("table", TABLES)
def test_no_index_of_a_created_row_is_led_by_the_columns_of_another(table):
    indexes = btree_indexes(table)
    covered = [
        f"{short} {indexes[short]} is answered by {long} {indexes[long]}"
        for short in indexes
        for long in indexes
        if short != long
        and len(indexes[short]) < len(indexes[long])
        and indexes[long][: len(indexes[short])] == indexes[short]
    ]
    assert covered == []


def test_the_look_ups_by_customer_group_assignee_and_ticket_are_still_indexed():
    leading = {columns[0] for table in TABLES for columns in btree_indexes(table).values()}
    assert {"customer_id", "group_id", "assignee_id", "ticket_id"} <= leading
