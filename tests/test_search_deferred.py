"""search.deferred(): bulk writers index each ticket once, whole, when the block ends."""

from __future__ import annotations

import pytest
from django.db import transaction

from sportello.customers.services import Sender
from sportello.search import backend
from sportello.search.backend import deferred, search_tickets
from sportello.tickets.access import tickets_visible_to
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.services import TicketChanges, update_ticket

pytestmark = pytest.mark.django_db


def make(subject: str, body: str = "Hello"):
    sender = Sender(name="Nadia Petrova", email="nadia@example.com")
    return ingest(Inbound(channel="web", sender=sender, subject=subject, body_text=body, acknowledge=False)).ticket


def test_nothing_is_indexed_inside_and_everything_after(agent):
    visible = tickets_visible_to(agent)
    with deferred():
        first = make("Quokka sighting", body="A marsupial in the garden")
        second = make("Wombat burrow")
        update_ticket(second, agent, TicketChanges(subject="Wombat burrow under the fence"))
        assert search_tickets("quokka", visible) == []
        assert search_tickets("marsupial", visible) == []
        assert search_tickets("wombat", visible) == []
    assert search_tickets("quokka", visible) == [first]
    assert search_tickets("marsupial", visible) == [first]
    assert search_tickets("fence", visible) == [second]
    assert search_tickets("nadia@example.com", visible) == [second, first]


def test_a_ticket_written_five_times_is_built_once(agent, monkeypatch):
    built: list[int] = []
    real = backend.build_document

    def counting(ticket_id, **kw):
        built.append(ticket_id)
        return real(ticket_id, **kw)

    monkeypatch.setattr(backend, "build_document", counting)
    with transaction.atomic(), deferred():
        ticket = make("Kettle")
        for n in range(4):
            update_ticket(ticket, agent, TicketChanges(subject=f"Kettle broken {n}"))
        assert built == []
    assert built == [ticket.pk]
    assert search_tickets("broken", tickets_visible_to(agent)) == [ticket]


def test_documents_roll_back_with_the_callers_transaction(agent):
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        with deferred():
            make("Platypus")
        raise Boom
    assert search_tickets("platypus", tickets_visible_to(agent)) == []
    ticket = make("Platypus again")  # and indexing outside the block is immediate again
    assert search_tickets("platypus", tickets_visible_to(agent)) == [ticket]
