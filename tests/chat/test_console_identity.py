"""The console marks a visitor who typed the address of a customer we already knew (issue #10,
item 14): anyone can type anyone's address, and the agent then sees her name and history."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from sportello.chat import services
from sportello.customers.models import Customer
from sportello.customers.services import Sender
from sportello.tickets.intake import Inbound, ingest
from tests.conftest import client_for


@pytest.fixture
def maria(db) -> Customer:
    ticket = ingest(
        Inbound(channel="email", sender=Sender(name="Maria Verdi", email="maria@example.com"), body_text="hi")
    ).ticket
    Customer.objects.filter(pk=ticket.customer_id).update(created_at=timezone.now() - timedelta(days=30))
    return ticket.customer


def queue_line(page: str, conversation_id: int) -> str:
    found = re.search(rf'<li data-conversation="{conversation_id}">(.*?)</li>', page, re.S)
    assert found, page
    return found.group(1)


def test_a_visitor_who_typed_a_known_address_is_marked_unverified(chat_channel, agent, maria):
    impostor = services.new_visitor(chat_channel, name="Not Maria", email="maria@example.com", previous=None)
    claimed, _ = services.post_visitor_message(chat_channel, impostor, "What is my balance?")
    newcomer = services.new_visitor(chat_channel, name="Nina", email="nina@example.org", previous=None)
    own, _ = services.post_visitor_message(chat_channel, newcomer, "Hello")
    assert claimed.customer_id == maria.pk and own.customer_id != maria.pk

    page = client_for(agent).get("/chat/console/part").content.decode()
    assert "Maria Verdi" in queue_line(page, claimed.pk)
    assert 'class="badge unverified"' in queue_line(page, claimed.pk)
    assert 'class="badge unverified"' not in queue_line(page, own.pk)
