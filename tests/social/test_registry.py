"""The registry of channel adapters: which adapter carries a reply, and that tickets name no channel."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sportello.tickets import delivery
from sportello.tickets.models import Channel, Direction, Entry, Ticket
from tests.social.conftest import payload, post

pytestmark = pytest.mark.django_db
TICKETS = Path(delivery.__file__).resolve().parent


def outgoing(ticket: Ticket, **metadata: object) -> Entry:
    return Entry(ticket=ticket, channel=ticket.channel, direction=Direction.OUTBOUND, metadata=metadata)


def test_mail_and_social_are_registered_and_mail_is_the_fallback() -> None:
    assert delivery.adapter_of(Channel.EMAIL).name == "email"  # type: ignore[union-attr]
    assert delivery.adapter_of(Channel.SOCIAL).name == "social"  # type: ignore[union-attr]
    assert delivery.adapter_of(Channel.WEB) is None


def test_a_reply_goes_the_way_the_customer_last_wrote(ticket, platform, telegram) -> None:
    # A mail ticket: by mail.
    assert delivery.adapter_for(outgoing(ticket)).name == "email"
    # A web form ticket: no adapter of its own, so by mail.
    ticket.channel = Channel.WEB
    assert delivery.adapter_for(outgoing(ticket)).name == "email"
    # A Telegram conversation's ticket: back through the platform; the agent may choose mail.
    social = Ticket.objects.get(
        number=post(platform, telegram, payload("telegram_text.json")).json()["results"][0]["ticket"]
    )
    assert delivery.adapter_for(outgoing(social)).name == "social"
    assert delivery.adapter_for(outgoing(social, via="email")).name == "email"
    # A forward goes to a third party's address, whatever the ticket's channel.
    assert delivery.adapter_for(outgoing(social, forward={"to": ["x@example.com"]})).name == "email"


def test_tickets_deliver_through_the_registry_only() -> None:
    """No module of tickets/ names a channel app: the circle tickets ↔ mail is gone for good."""
    modules = [path for path in TICKETS.rglob("*.py") if "migrations" not in path.parts]
    assert len(modules) > 10
    for path in modules:
        assert not re.search(r"sportello\.(mail|social|chat|phone|webform)\b", path.read_text()), path


def test_a_reply_on_a_phone_ticket_is_mailed_unless_the_agent_chooses_a_channel(ticket) -> None:
    """Calls are recorded, not delivered: the phone registers no adapter, so the fallback carries it."""
    ticket.channel = Channel.PHONE
    assert delivery.adapter_of(Channel.PHONE) is None
    assert delivery.adapter_for(outgoing(ticket)).name == "email"
    assert delivery.adapter_for(outgoing(ticket, via="social")).name == "social"
