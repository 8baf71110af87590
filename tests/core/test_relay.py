"""The web process's relay (no Redis) passes on events other processes committed, also one that
committed after a later one (PostgreSQL hands out ids before commit), and never its own."""

from __future__ import annotations

import pytest

from sportello.chat import live
from sportello.core import events
from sportello.core.models import OutboxMessage

pytestmark = pytest.mark.django_db


def committed(pk: int, ticket_id: int, by: str) -> None:
    event = {"name": events.TICKET_CREATED, "ticket_id": ticket_id, "data": {}}
    OutboxMessage.objects.create(pk=pk, kind=events.EVENT, payload={"events": [event], "by": by})


def inbox_tickets(sends: list) -> list[int]:  # type: ignore[type-arg]
    return [message["ticket"] for group, message in sends if group == live.INBOX_GROUP]


def test_an_event_committed_after_a_later_one_still_reaches_the_screens(ticket):
    tail = live._Tail(live._last_outbox_id())
    start = tail.cursor
    committed(start + 3, ticket.pk, by="worker:1")
    assert inbox_tickets(tail.read(me="web:1")) == [ticket.pk]
    committed(start + 1, ticket.pk, by="worker:2")  # its transaction began first, committed last
    assert inbox_tickets(tail.read(me="web:1")) == [ticket.pk]
    assert tail.read(me="web:1") == []  # each once


def test_the_relay_skips_what_its_own_process_pushed(ticket):
    tail = live._Tail(live._last_outbox_id())
    committed(tail.cursor + 1, ticket.pk, by="web:1")
    assert tail.read(me="web:1") == []
