"""The pop-up, live: a ringing call reaches the sockets of the agents it rings (and no other's),
with the caller's file and the open tickets each may see; it leaves the other screens when one
agent answers, and every screen when the call ends."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.utils import timezone

from sportello.accounts.models import Role
from sportello.customers.services import Sender
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import Ticket
from tests.chat.conftest import agent_socket, receive_until, refusal
from tests.conftest import client_for, make_user
from tests.phone.conftest import events_of, post_generic

pytestmark = pytest.mark.django_db(transaction=True)

PATH = "/ws/agent/phone/"
ANSWERED = events_of("generic_inbound_answered.json")
MISSED_NEW_CALL = events_of("generic_inbound_missed.json")[0]


def callers_ticket(group=None) -> Ticket:
    return ingest(
        Inbound(channel="email", sender=Sender(name="Lina Weber", email="lina@example.de", phone="+493023125741"),
                subject="Invoice 4711", body_text="The invoice is wrong.", group=group, acknowledge=False)
    ).ticket  # fmt: skip


def test_customers_and_anonymous_visitors_are_refused(customer_user):
    async def scenario() -> None:
        assert await refusal(agent_socket(customer_user, PATH)) == 4403
        assert await refusal(agent_socket(None, PATH)) == 4403

    async_to_sync(scenario)()


def test_a_call_pops_up_on_the_rung_agents_and_goes_away_when_answered_and_ended(cti, emma, christopher, agent2):
    _account, token = cti
    ticket = callers_ticket()

    async def scenario() -> None:
        emma_socket, chris_socket, other = (agent_socket(u, PATH) for u in (emma, christopher, agent2))
        for socket in (emma_socket, chris_socket, other):
            assert (await socket.connect())[0]
        await database_sync_to_async(post_generic)(token, ANSWERED[0])  # newCall naming Emma and Christopher
        for socket in (emma_socket, chris_socket):
            call = await receive_until(socket, "call")
            assert call["state"] == "ringing"
            assert call["number"] == "+493023125741" and call["shown"] == "+49 30 23125741"
            assert call["customer"]["name"] == "Lina Weber"
            assert call["customer"]["url"] == f"/customers/{ticket.customer_id}/"
            assert call["tickets"] == [
                {"number": ticket.number, "subject": "Invoice 4711", "url": f"/tickets/{ticket.number}/"}
            ]
            assert call["new_ticket_url"] == f"/tickets/new/?kind=phone_call&customer_id={ticket.customer_id}"
        assert await other.receive_nothing(timeout=0.5)  # not named by the PBX

        await database_sync_to_async(post_generic)(token, ANSWERED[1])  # Emma answers
        mine = await receive_until(emma_socket, "call")
        assert (mine["state"], mine["mine"], mine["answered_by"]) == ("answered", True, "Emma Taylor")
        theirs = await receive_until(chris_socket, "call")
        assert (theirs["state"], theirs["mine"]) == ("answered", False)  # the pop-up leaves this screen

        await database_sync_to_async(post_generic)(token, ANSWERED[2])  # hang-up
        for socket in (emma_socket, chris_socket):
            assert (await receive_until(socket, "call"))["state"] == "ended"
        for socket in (emma_socket, chris_socket, other):
            await socket.disconnect()

    async_to_sync(scenario)()
    assert ticket.entries.filter(kind="call").count() == 1


def test_a_page_opened_while_the_call_rings_shows_it(cti, emma):
    _account, token = cti
    post_generic(token, ANSWERED[0])

    async def scenario() -> None:
        socket = agent_socket(emma, PATH)
        assert (await socket.connect())[0]
        call = await receive_until(socket, "call")
        assert call["state"] == "ringing" and call["number"] == "+493023125741"
        await socket.disconnect()

    async_to_sync(scenario)()


def test_a_restricted_agent_sees_only_the_tickets_of_their_groups(cti, first_level, second_level):
    _account, token = cti
    rita = make_user("rita", Role.AGENT, restricted_to_groups=True)
    second_level.members.add(rita)
    hidden = callers_ticket(group=first_level)

    async def scenario() -> None:
        socket = agent_socket(rita, PATH)
        assert (await socket.connect())[0]
        await database_sync_to_async(post_generic)(token, [(k, v) for k, v in ANSWERED[0] if k != "user[]"])
        call = await receive_until(socket, "call")
        assert call["customer"]["name"] == "Lina Weber"
        assert call["tickets"] == []  # the caller's ticket is first level's
        await socket.disconnect()

    async_to_sync(scenario)()
    assert hidden.number


def test_a_call_whose_hang_up_never_came_stops_showing(cti, emma):
    _account, token = cti
    start = timezone.now()
    with time_machine.travel(start - timedelta(minutes=11), tick=False):
        post_generic(token, ANSWERED[0])

    async def scenario() -> None:
        socket = agent_socket(emma, PATH)
        assert (await socket.connect())[0]
        assert await socket.receive_nothing(timeout=0.5)
        await socket.disconnect()

    async_to_sync(scenario)()


def test_an_unknown_callers_pop_up_offers_a_new_ticket_with_the_number(cti, emma):
    _account, token = cti
    post_generic(token, MISSED_NEW_CALL)
    from sportello.phone.live import ringing_for

    (call,) = ringing_for(emma)
    assert call["customer"] is None and call["tickets"] == []
    assert call["new_ticket_url"] == "/tickets/new/?kind=phone_call&phone=%2B492214710334"
    page = client_for(emma).get(call["new_ticket_url"]).content.decode()
    assert 'value="+492214710334"' in page  # the number, "+" and all, on the New ticket form
