"""`rows.insert` writes what the ORM would write, though it skips the fields' work for final values."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from sportello.core import rows
from sportello.core.models import OutboxMessage
from sportello.mail.models import RawMessage, RawState
from sportello.tickets.models import Channel, Direction, Entry, EntryKind, Ticket

pytestmark = pytest.mark.django_db


def prepared_by_the_fields(instance: object) -> list[object]:
    _sql, columns, _returned = rows._statement(type(instance), connection.vendor, ())
    return [field.get_db_prep_save(field.pre_save(instance, True), connection) for _name, field, _final in columns]


def comparable(values: list[object]) -> list[object]:
    # PostgreSQL's JSON values are adapter objects, each its own: compare what they hold.
    return [getattr(value, "obj", value) for value in values]


def test_the_parameters_are_what_each_field_prepares(ticket, customer):
    entry = Entry(
        ticket=ticket,
        kind=EntryKind.MESSAGE,  # an enum member: goes through the field
        channel="email",  # the same as a plain string
        direction=Direction.INBOUND,
        author_customer=customer,
        body_text="Hello",
        metadata={"message_id": "<a@b>", "to": ["x@example.com"]},
        time_spent=None,
        ticket_version=3,
        created_at=timezone.now() - timedelta(hours=1),
    )
    raw = RawMessage(sha256="0" * 64, size=12, envelope_to=["support@example.com"], state=RawState.PROCESSED)
    raw.processed_at = datetime(2026, 1, 2, 3, 4, 5)  # naive: the field makes it aware (and warns)
    outbox = OutboxMessage(kind="event", payload={"events": []})
    with pytest.warns(RuntimeWarning, match="naive datetime"):
        expected = [comparable(prepared_by_the_fields(row)) for row in (entry, raw, outbox)]
    with pytest.warns(RuntimeWarning, match="naive datetime"):
        given = [
            comparable(rows.parameters(row, rows._statement(type(row), connection.vendor, ())[1], connection))
            for row in (entry, raw, outbox)
        ]
    assert given == expected


def test_an_inserted_entry_reads_back_as_written(ticket, customer):
    when = timezone.now().replace(microsecond=0) - timedelta(days=2)
    entry = Entry(
        ticket=ticket,
        channel=Channel.EMAIL,
        direction=Direction.INBOUND,
        author_customer=customer,
        body_text="The printer is broken again",
        metadata={"cc": ["boss@example.com"]},
        internal=True,
        ticket_version=ticket.version,
        created_at=when,
    )
    rows.insert(entry)
    stored = Entry.objects.get(pk=entry.pk)
    assert (stored.ticket_id, stored.author_customer_id, stored.author_user_id) == (ticket.pk, customer.pk, None)
    assert (stored.body_text, stored.metadata, stored.internal, stored.created_at) == (
        "The printer is broken again",
        {"cc": ["boss@example.com"]},
        True,
        when,
    )
    assert stored.kind == EntryKind.MESSAGE and Ticket.objects.filter(pk=ticket.pk).exists()


def test_placeholders_are_numbered_in_order_and_a_doubled_percent_is_one():
    assert rows.numbered("SELECT %s, %s WHERE name LIKE 'a%%' OR id = %s") == (
        "SELECT $1, $2 WHERE name LIKE 'a%' OR id = $3"
    )
    with pytest.raises(ValueError, match="only %s"):
        rows.numbered("SELECT %(name)s")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the numbering cursor is PostgreSQL's")
def test_a_long_statement_with_many_values_answers_right_every_time(ticket):
    # Longer than 4,096 characters, more than 50 parameters: psycopg would split it again each
    # time; the cursor numbers its placeholders once and PostgreSQL keeps it prepared.
    values = list(range(1, 61))
    sql = "SELECT " + " + ".join(["%s::int"] * len(values)) + ", %s::text LIKE 'ab%%'" + " " * 4200
    assert len(sql) > 4096
    for _ in range(3):  # prepared from its second run on (prepare_threshold)
        with rows.bound_cursor() as bound:
            assert type(bound.cursor).__name__ == "NumberingCursor"
            bound.execute(sql, [*values, "abc"])
            assert bound.fetchone() == (sum(values), True)
