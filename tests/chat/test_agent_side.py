"""The agent's side: console socket and actions, ticket presence, live inbox, availability."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.core import mail
from django.test import Client

from sportello.accounts.models import Availability, User
from sportello.chat import services
from sportello.chat.models import Conversation, ConversationState
from sportello.core.errors import Conflict, Forbidden
from sportello.customers.services import Sender
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import Ticket
from sportello.tickets.services import add_note
from tests.chat.conftest import PATIENCE, PatientCommunicator, agent_socket, receive_until, refusal, visitor_socket
from tests.conftest import client_for

pytestmark = pytest.mark.django_db(transaction=True)


async def _visitor_writes(text: str = "Help please", **hello) -> tuple:
    visitor = visitor_socket()
    connected, _ = await visitor.connect()
    assert connected
    await visitor.send_json_to({"type": "hello", **hello})
    welcome = await receive_until(visitor, "welcome")
    await visitor.send_json_to({"type": "message", "text": text})
    joined = await receive_until(visitor, "joined")
    await receive_until(visitor, "message")
    return visitor, joined["conversation"], welcome


def test_agent_accepts_answers_and_the_visitor_sees_it_with_typing_and_read_receipts(chat_channel, agent):
    async def scenario() -> None:
        console = agent_socket(agent, "/ws/agent/console/")
        assert (await console.connect())[0]
        visitor, conversation_id, _ = await _visitor_writes()
        await receive_until(console, "queue")  # the queue changed: a chat is waiting

        chat = await database_sync_to_async(Conversation.objects.select_related("ticket", "channel").get)()
        await database_sync_to_async(services.accept_chat)(chat, agent)
        state = await receive_until(visitor, "state")
        assert state == {"type": "state", "conversation": conversation_id, "state": "active", "agent": "Alice Agent"}
        await receive_until(console, "console")

        await console.send_json_to({"type": "typing", "conversation": conversation_id})
        assert (await receive_until(visitor, "typing"))["conversation"] == conversation_id
        chat = await database_sync_to_async(Conversation.objects.select_related("ticket").get)()
        await database_sync_to_async(services.send_agent_message)(chat, agent, "Hello, I am Alice")
        line = await receive_until(visitor, "message")
        assert line["from"] == "agent" and line["name"] == "Alice Agent" and line["text"] == "Hello, I am Alice"
        assert (await receive_until(console, "message"))["text"] == "Hello, I am Alice"

        await visitor.send_json_to({"type": "read", "entry": line["id"]})
        assert (await receive_until(console, "read"))["entry"] == line["id"]
        await visitor.send_json_to({"type": "typing"})
        assert (await receive_until(console, "typing"))["conversation"] == conversation_id
        await visitor.send_json_to({"type": "message", "text": "Thanks!"})
        assert (await receive_until(console, "message"))["text"] == "Thanks!"

        # An internal note on the chat's ticket never reaches the visitor.
        ticket = await database_sync_to_async(Ticket.objects.get)()
        await database_sync_to_async(add_note)(ticket, agent, body_text="customer seems upset")
        await receive_until(visitor, "message")  # "Thanks!" echo
        assert await visitor.receive_nothing(timeout=0.3)

        await visitor.disconnect()
        await console.disconnect()

    async_to_sync(scenario)()
    chat = Conversation.objects.get()
    assert chat.state == ConversationState.ACTIVE and chat.agent == agent and chat.visitor_read > 0
    ticket = chat.ticket
    assert ticket.assignee == agent and ticket.channel == "chat"
    assert [(e.direction, e.body_text) for e in ticket.entries.filter(internal=False)] == [
        ("inbound", "Help please"),
        ("outbound", "Hello, I am Alice"),
        ("inbound", "Thanks!"),
    ]
    assert not ticket.entries.filter(delivery__in=["queued", "sending"]).exists()  # nothing mailed
    assert mail.outbox == []


def test_only_one_agent_takes_a_chat_when_two_accept(chat_channel, agent, admin):
    async_to_sync(_visitor_writes)()
    chat = Conversation.objects.select_related("ticket", "channel").get()
    services.accept_chat(chat, admin)
    with pytest.raises(Conflict):
        services.accept_chat(Conversation.objects.select_related("ticket", "channel").get(), agent)
    assert Conversation.objects.get().agent == admin


def test_the_accept_is_a_conditional_update_even_from_a_stale_read(chat_channel, agent, admin):
    async_to_sync(_visitor_writes)()
    first = Conversation.objects.select_related("ticket", "channel").get()
    second = Conversation.objects.select_related("ticket", "channel").get()  # both read "waiting"
    services.accept_chat(first, agent)
    with pytest.raises(Conflict):
        services.accept_chat(second, admin)
    assert Conversation.objects.get().agent == agent


def test_an_agent_holds_at_most_the_channels_limit(chat_channel, agent):
    chat_channel.max_chats_per_agent = 1
    chat_channel.save()
    for name in ("one", "two"):
        async_to_sync(_visitor_writes)(name)
    one, two = Conversation.objects.select_related("ticket", "channel").order_by("pk")
    services.accept_chat(one, agent)
    with pytest.raises(Exception, match="1 chats open already"):
        services.accept_chat(two, agent)


def test_transfer_to_an_agent_and_to_a_group_then_close_and_mail_the_transcript(
    chat_channel, agent, admin, second_level
):
    visitor_state: dict = {}

    async def scenario() -> None:
        visitor, _, _ = await _visitor_writes("Where is my parcel?", email="pia@example.com")
        chat = await database_sync_to_async(Conversation.objects.select_related("ticket", "channel").get)()
        await database_sync_to_async(services.accept_chat)(chat, agent)
        await receive_until(visitor, "state")
        chat = await database_sync_to_async(Conversation.objects.select_related("ticket", "channel").get)()
        await database_sync_to_async(services.transfer_chat)(chat, agent, to_agent=admin)
        assert (await receive_until(visitor, "state"))["agent"] == "Ada Admin"
        chat = await database_sync_to_async(Conversation.objects.select_related("ticket", "channel").get)()
        await database_sync_to_async(services.transfer_chat)(chat, admin, to_group=second_level)
        assert (await receive_until(visitor, "state"))["state"] == "waiting"
        chat = await database_sync_to_async(Conversation.objects.select_related("ticket", "channel").get)()
        await database_sync_to_async(services.accept_chat)(chat, admin)
        await receive_until(visitor, "state")
        chat = await database_sync_to_async(Conversation.objects.select_related("ticket", "channel").get)()
        await database_sync_to_async(services.send_agent_message)(chat, admin, "Found it: it arrives tomorrow")
        await receive_until(visitor, "message")
        await database_sync_to_async(services.close_chat)(chat, admin)
        assert (await receive_until(visitor, "state"))["state"] == "closed"
        await visitor.send_json_to({"type": "transcript", "email": "pia@example.com"})
        visitor_state["transcript"] = await receive_until(visitor, "transcript")
        await visitor.send_json_to({"type": "transcript", "email": "pia@example.com"})
        visitor_state["again"] = await receive_until(visitor, "error")
        await visitor.disconnect()

    async_to_sync(scenario)()
    assert visitor_state["again"]["reason"] == "The transcript was sent already"
    chat = Conversation.objects.get()
    assert chat.state == ConversationState.CLOSED and chat.group == second_level
    assert chat.ticket.state == "solved" and chat.ticket.assignee == admin
    (message,) = [m for m in mail.outbox if "transcript" in m.body]
    assert message.to == ["pia@example.com"] and "Found it: it arrives tomorrow" in message.body
    assert "Where is my parcel?" in message.body


def test_a_light_agent_or_a_stranger_cannot_take_chats(chat_channel, light_agent, stranger):
    async_to_sync(_visitor_writes)()
    chat = Conversation.objects.select_related("ticket", "channel").get()
    for user in (light_agent, stranger):
        with pytest.raises(Forbidden):
            services.accept_chat(chat, user)
    assert Conversation.objects.get().state == ConversationState.WAITING


def test_agent_sockets_refuse_strangers_foreign_origins_and_hidden_tickets(ticket, stranger, restricted_agent, agent):
    async def scenario() -> None:
        for user in (None, stranger):
            for path in (
                "/ws/agent/console/",
                "/ws/agent/inbox/",
                "/ws/agent/presence/",
                f"/ws/agent/tickets/{ticket.number}/",
            ):
                assert await refusal(agent_socket(user, path)) == 4403, (user, path)
        # The web-form ticket has no group: an agent restricted to the second level cannot see it.
        assert await refusal(agent_socket(restricted_agent, f"/ws/agent/tickets/{ticket.number}/")) == 4404
        from sportello.chat.routing import websocket_application

        foreign = PatientCommunicator(
            websocket_application, "/ws/agent/inbox/", headers=[(b"origin", b"https://evil.example")]
        )
        foreign.scope["user"] = agent
        assert not (await foreign.connect())[0]

    async_to_sync(scenario)()


def test_a_signed_in_agent_reaches_their_socket_through_the_session_cookie(agent, ticket):
    client = client_for(agent)
    client.get("/")
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()

    async def scenario() -> None:
        from sportello.chat.routing import websocket_application

        socket = PatientCommunicator(
            websocket_application, f"/ws/agent/tickets/{ticket.number}/",
            headers=[(b"origin", b"http://127.0.0.1"), (b"cookie", cookie), (b"host", b"127.0.0.1")],
        )  # fmt: skip
        assert (await socket.connect())[0]
        await socket.disconnect()

    async_to_sync(scenario)()


def test_two_agents_on_one_ticket_see_each_other_typing_and_changes(ticket, agent, admin):
    async def scenario() -> None:
        alice = agent_socket(agent, f"/ws/agent/tickets/{ticket.number}/")
        assert (await alice.connect())[0]
        ada = agent_socket(admin, f"/ws/agent/tickets/{ticket.number}/")
        assert (await ada.connect())[0]
        assert (await receive_until(alice, "viewers"))["viewers"] == ["Ada Admin"]
        assert (await receive_until(ada, "viewers"))["viewers"] == ["Alice Agent"]
        await ada.send_json_to({"type": "typing"})
        assert (await receive_until(alice, "typing"))["name"] == "Ada Admin"
        await database_sync_to_async(ingest)(
            Inbound(channel="web", sender=Sender(email="carla@example.com"), body_text="Any news?", ticket=ticket,
                    acknowledge=False)
        )  # fmt: skip
        changed = await receive_until(alice, "changed")
        assert changed["what"] == "entry" and changed["internal"] is False and changed["mine"] is False
        await ada.disconnect()
        assert (await receive_until(alice, "viewers"))["viewers"] == []
        await alice.send_to(text_data="nonsense")
        assert (await receive_until(alice, "error"))["reason"] == "unknown message"
        await alice.disconnect()

    async_to_sync(scenario)()


def test_the_live_inbox_only_hears_of_tickets_the_agent_may_see(agent, restricted_agent, second_level, customer):
    async def scenario() -> None:
        everyone = agent_socket(agent, "/ws/agent/inbox/")
        restricted = agent_socket(restricted_agent, "/ws/agent/inbox/")
        assert (await everyone.connect())[0] and (await restricted.connect())[0]
        result = await database_sync_to_async(ingest)(
            Inbound(channel="web", sender=Sender(email="x@example.com"), body_text="no group", acknowledge=False)
        )
        assert (await receive_until(everyone, "changed"))["ticket"] == result.ticket.number
        assert await restricted.receive_nothing(timeout=0.3)
        second = await database_sync_to_async(ingest)(
            Inbound(channel="web", sender=Sender(email="y@example.com"), body_text="tier 2", group=second_level,
                    acknowledge=False)
        )  # fmt: skip
        assert (await receive_until(restricted, "changed"))["ticket"] == second.ticket.number
        await everyone.disconnect()
        await restricted.disconnect()

    async_to_sync(scenario)()


def test_closing_the_last_screen_makes_the_agent_offline_after_the_grace_period(agent, settings):
    settings.AGENT_OFFLINE_GRACE_SECONDS = 0.2

    async def scenario() -> None:
        first = agent_socket(agent, "/ws/agent/presence/")
        second = agent_socket(agent, "/ws/agent/presence/")
        assert (await first.connect())[0] and (await second.connect())[0]
        await first.disconnect()
        await _grace_periods_over()
        assert await _availability(agent) == Availability.ONLINE  # another screen is still open
        await second.disconnect()
        await _grace_periods_over()
        assert await _availability(agent) == Availability.OFFLINE
        back = agent_socket(agent, "/ws/agent/presence/")  # the agent comes back: online again
        assert (await back.connect())[0]
        assert await _availability(agent) == Availability.ONLINE
        await back.disconnect()

    async_to_sync(scenario)()


async def _grace_periods_over() -> None:
    """Wait until each closed screen's grace timer (chat/live.py) has run to its end: the moment the
    agent's availability is decided, however long a busy machine takes to get there."""
    timers = [task for task in asyncio.all_tasks() if task.get_coro().__qualname__ == "_offline_after_grace"]
    assert timers, "no grace timer is running: did the screen close?"
    await asyncio.wait_for(asyncio.gather(*timers), timeout=PATIENCE)


@database_sync_to_async
def _availability(user: User) -> str:
    return User.objects.get(pk=user.pk).availability


# --- HTTP ---------------------------------------------------------------------------------------------


def test_the_widget_script_is_served_to_any_site():
    response = Client().get("/chat/widget.js")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/javascript")
    assert response["Access-Control-Allow-Origin"] == "*"
    assert b"data-channel" in response.content


def test_console_pages_and_actions_refuse_strangers(chat_channel, agent, stranger):
    async_to_sync(_visitor_writes)()
    chat = Conversation.objects.get()
    anonymous = Client()
    outsider = client_for(stranger)
    for url in ("/chat/console", "/chat/console/part"):
        assert anonymous.get(url).status_code == 302
        assert outsider.get(url).status_code == 403
    for action in ("accept", "send", "transfer", "close"):
        url = f"/chat/console/{chat.pk}/{action}"
        assert anonymous.post(url, {"text": "hi", "target": f"agent:{agent.pk}"}).status_code == 302
        assert outsider.post(url, {"text": "hi", "target": f"agent:{agent.pk}"}).status_code == 403
    assert outsider.post("/chat/availability", {"availability": "online"}).status_code == 403
    assert Conversation.objects.get().state == ConversationState.WAITING
    assert client_for(agent).post("/chat/console/99999/accept").status_code == 404


def test_console_flow_over_http(chat_channel, agent, admin):
    async_to_sync(_visitor_writes)("I need help")
    chat = Conversation.objects.get()
    alice = client_for(agent)
    page = alice.get("/chat/console")
    assert page.status_code == 200 and b"I need help" in page.content
    headers = {"Accept": "application/json"}
    assert alice.post(f"/chat/console/{chat.pk}/accept", headers=headers).json() == {"ok": True}
    assert client_for(admin).post(f"/chat/console/{chat.pk}/accept", headers=headers).status_code == 409
    assert alice.post(f"/chat/console/{chat.pk}/send", {"text": "On it"}, headers=headers).status_code == 200
    assert (
        client_for(admin).post(f"/chat/console/{chat.pk}/send", {"text": "me too"}, headers=headers).status_code == 403
    )
    assert alice.post(f"/chat/console/{chat.pk}/transfer", {"target": "agent:x"}, headers=headers).status_code == 422
    assert alice.post(f"/chat/console/{chat.pk}/close", headers=headers).status_code == 200
    assert list(chat.ticket.entries.values_list("body_text", flat=True)) == ["I need help", "On it"]


def test_availability_is_set_from_the_header(agent):
    alice = client_for(agent)
    response = alice.post("/chat/availability", {"availability": "away", "next": "/tickets/"})
    assert response.status_code == 302 and response["Location"] == "/tickets/"
    assert User.objects.get(pk=agent.pk).availability == Availability.AWAY
    assert alice.post("/chat/availability", {"availability": "asleep"}).status_code == 422
    response = alice.post("/chat/availability", {"availability": "online", "next": "https://evil.example/"})
    assert response["Location"] == "/"
    assert b'id="availability-form"' in alice.get("/").content


def test_two_agents_clicking_accept_at_the_same_instant_one_wins(chat_channel, agent, admin):
    """Real concurrency: two threads, two database connections, one barrier (PostgreSQL leg)."""
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("threads need their own connections to a server database")
    async_to_sync(_visitor_writes)()
    chat_id = Conversation.objects.get().pk
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def click(user: User) -> None:
        try:
            chat = Conversation.objects.select_related("ticket", "channel").get(pk=chat_id)
            barrier.wait()
            services.accept_chat(chat, user)
            outcomes[user.username] = "won"
        except Conflict:
            outcomes[user.username] = "conflict"
        finally:
            connections.close_all()

    threads = [threading.Thread(target=click, args=(user,)) for user in (agent, admin)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes.values()) == ["conflict", "won"]
    winner = next(name for name, outcome in outcomes.items() if outcome == "won")
    assert Conversation.objects.get().agent.username == winner
