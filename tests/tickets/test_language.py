"""Setting a ticket's language (the language its mails go out in) through the ticket services:
one history row, the version bumped, a TICKET_UPDATED event; stale copies and light agents refused."""

from __future__ import annotations

import pytest

from sportello.core import events
from sportello.core.errors import Conflict, Forbidden, InvalidInput
from sportello.core.models import OutboxMessage
from sportello.tickets.models import Change, Ticket
from sportello.tickets.services import set_ticket_language

pytestmark = pytest.mark.django_db


def published() -> list[dict]:  # type: ignore[type-arg]
    return [e for row in OutboxMessage.objects.order_by("id") for e in row.payload["events"]]


def test_the_language_is_set_with_history_version_and_event(agent, ticket):
    Ticket.objects.filter(pk=ticket.pk).update(language="en")
    ticket.refresh_from_db()
    before = len(published())

    changed = set_ticket_language(ticket, agent, "de", expected_version=ticket.version)

    stored = Ticket.objects.get(pk=ticket.pk)
    assert stored.language == "de" and stored.version == ticket.version + 1 == changed.version
    change = Change.objects.get(ticket=ticket, field="language")
    assert (change.actor, change.old_value, change.new_value) == (agent, "en", "de")
    assert change.ticket_version == stored.version
    [event] = published()[before:]
    assert (event["name"], event["ticket_id"]) == (events.TICKET_UPDATED, ticket.pk)
    assert event["data"] == {"fields": ["language"]}


def test_the_same_language_writes_nothing(agent, ticket):
    Ticket.objects.filter(pk=ticket.pk).update(language="it")
    version, before = Ticket.objects.get(pk=ticket.pk).version, len(published())
    set_ticket_language(ticket, agent, "it")
    assert Ticket.objects.get(pk=ticket.pk).version == version
    assert not Change.objects.filter(ticket=ticket, field="language").exists() and len(published()) == before


def test_refused_unknown_language_stale_copy_and_light_agent(agent, light_agent, ticket):
    with pytest.raises(InvalidInput):
        set_ticket_language(ticket, agent, "klingon")
    with pytest.raises(Conflict):
        set_ticket_language(ticket, agent, "de", expected_version=ticket.version - 1)
    with pytest.raises(Forbidden):
        set_ticket_language(ticket, light_agent, "de")
    assert not Change.objects.filter(ticket=ticket, field="language").exists()
