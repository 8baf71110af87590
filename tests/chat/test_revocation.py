"""An agent's open sockets stop receiving a ticket's events once the agent may no longer see it."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async

from sportello.chat import services
from sportello.chat.models import AskIdentity, ChatChannel, Conversation
from sportello.tickets.models import Ticket
from sportello.tickets.services import TicketChanges, add_note, update_ticket
from tests.chat.conftest import PATIENCE, agent_socket, receive_until, visitor_socket
from tests.conftest import client_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_ticket_page_socket_is_closed_when_the_ticket_moves_out_of_the_agents_groups(
    ticket, admin, restricted_agent, first_level, second_level
):
    update_ticket(ticket, admin, TicketChanges(group=second_level))
    ticket.refresh_from_db()

    async def scenario() -> None:
        page = agent_socket(restricted_agent, f"/ws/agent/tickets/{ticket.number}/")
        assert (await page.connect())[0]
        fresh = await database_sync_to_async(Ticket.objects.get)(pk=ticket.pk)
        await database_sync_to_async(add_note)(fresh, admin, body_text="still yours to see")
        assert (await receive_until(page, "changed"))["what"] == "entry"  # visible: events arrive

        fresh = await database_sync_to_async(Ticket.objects.get)(pk=ticket.pk)
        await database_sync_to_async(update_ticket)(fresh, admin, TicketChanges(group=first_level))
        closed = await page.receive_output()
        assert closed == {"type": "websocket.close", "code": 4404, "reason": "no longer visible"}
        fresh = await database_sync_to_async(Ticket.objects.get)(pk=ticket.pk)
        await database_sync_to_async(add_note)(fresh, admin, body_text="not for Rita any more")
        assert await page.receive_nothing(timeout=0.3)
        await page.disconnect()

    async_to_sync(scenario)()


def test_the_console_stops_following_a_chat_whose_ticket_the_agent_may_no_longer_see(
    admin, restricted_agent, first_level, second_level
):
    ChatChannel.objects.create(name="Support", key="support", group=second_level, ask_identity=AskIdentity.NOTHING)

    async def scenario() -> None:
        visitor = visitor_socket("support")
        assert (await visitor.connect())[0]
        await visitor.send_json_to({"type": "hello"})
        await receive_until(visitor, "welcome")
        await visitor.send_json_to({"type": "message", "text": "My order is late"})
        await receive_until(visitor, "joined")
        chat = await database_sync_to_async(Conversation.objects.select_related("ticket", "channel").get)()
        await database_sync_to_async(services.accept_chat)(chat, restricted_agent)

        console = agent_socket(restricted_agent, "/ws/agent/console/")
        assert (await console.connect())[0]
        await visitor.send_json_to({"type": "message", "text": "Order 42"})
        assert (await receive_until(console, "message"))["text"] == "Order 42"

        ticket = await database_sync_to_async(Ticket.objects.get)()
        await database_sync_to_async(update_ticket)(ticket, admin, TicketChanges(group=first_level))
        await visitor.send_json_to({"type": "typing"})
        await visitor.send_json_to({"type": "message", "text": "My card number is 4111"})
        notice = await receive_until(console, "console")  # refresh: the chat is gone from the console
        assert notice["conversation"] == chat.pk
        # Once the visitor has the echo of that line, it went to every socket following the chat.
        while (await receive_until(visitor, "message"))["text"] != "My card number is 4111":
            pass
        # A marker the console does get, queued behind whatever the chat sent it: a new chat waiting.
        other = visitor_socket("support")
        assert (await other.connect())[0]
        await other.send_json_to({"type": "hello"})
        await receive_until(other, "welcome")
        await other.send_json_to({"type": "message", "text": "Anyone there?"})
        while (frame := await console.receive_json_from(timeout=PATIENCE))["type"] != "queue":
            assert frame["type"] not in ("message", "typing"), frame
        for communicator in (visitor, other, console):
            await communicator.disconnect()

    async_to_sync(scenario)()
    page = client_for(restricted_agent).get("/chat/console/part").content.decode()
    assert "My card number" not in page and "Order 42" not in page
