"""The visitor's chat socket: conversation, reloads, and everything a hostile client may send."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async

from sportello.accounts.models import Availability, User
from sportello.chat.models import Conversation, ConversationState
from sportello.customers.models import Identity
from sportello.tickets.models import Entry
from tests.chat.conftest import receive_until, refusal, visitor_socket

pytestmark = pytest.mark.django_db(transaction=True)


async def _hello(communicator, **extra) -> dict:
    connected, _ = await communicator.connect()
    assert connected
    await communicator.send_json_to({"type": "hello", **extra})
    return await receive_until(communicator, "welcome")


def test_first_message_opens_a_chat_ticket_in_the_queue_and_a_reload_continues_it(chat_channel, agent):
    async def scenario() -> None:
        first = visitor_socket()
        welcome = await _hello(first, name="Vera Visitor", email="vera@example.com", language="it")
        assert welcome["online"] is True and welcome["conversation"] is None and welcome["greeting"] == "Ciao!"
        await first.send_json_to({"type": "message", "text": "Is my order shipped?"})
        joined = await receive_until(first, "joined")
        line = await receive_until(first, "message")
        assert line["text"] == "Is my order shipped?" and line["from"] == "visitor"
        await first.disconnect()

        again = visitor_socket()  # the page reloaded: the token continues the conversation
        welcome2 = await _hello(again, token=welcome["token"])
        assert welcome2["conversation"] == joined["conversation"]
        assert [m["text"] for m in welcome2["messages"]] == ["Is my order shipped?"]
        await again.send_json_to({"type": "message", "text": "Order 42"})
        assert (await receive_until(again, "message"))["text"] == "Order 42"
        await again.disconnect()

    async_to_sync(scenario)()
    conversation = Conversation.objects.get()
    assert conversation.state == ConversationState.WAITING
    ticket = conversation.ticket
    assert ticket.channel == "chat" and ticket.group == chat_channel.group and ticket.language == "it"
    assert list(ticket.entries.values_list("body_text", flat=True)) == ["Is my order shipped?", "Order 42"]
    assert Identity.objects.filter(customer=ticket.customer, value="vera@example.com").exists()


def test_a_visitor_cannot_join_another_visitors_conversation_nor_an_unknown_one(chat_channel, agent):
    async def scenario() -> None:
        owner = visitor_socket()
        await _hello(owner)
        await owner.send_json_to({"type": "message", "text": "my secret order 777"})
        conversation_id = (await receive_until(owner, "joined"))["conversation"]

        intruder = visitor_socket()
        welcome = await _hello(intruder)
        assert welcome["conversation"] is None and welcome["messages"] == []
        for guess in (conversation_id, 99999, "x", None, {"$gt": 0}):
            await intruder.send_json_to({"type": "join", "conversation": guess})
            refused = await receive_until(intruder, "error")
            assert refused["reason"] == "Unknown conversation"  # the same answer whether it exists or not
        await intruder.send_json_to({"type": "close"})
        assert (await receive_until(intruder, "error"))["reason"] == "Unknown conversation"
        # The owner keeps writing; the intruder hears nothing of it.
        await owner.send_json_to({"type": "message", "text": "still secret"})
        await receive_until(owner, "message")
        assert await intruder.receive_nothing(timeout=0.3)
        await owner.disconnect()
        await intruder.disconnect()

    async_to_sync(scenario)()
    assert Conversation.objects.get().state == ConversationState.WAITING


def test_a_forged_token_is_a_new_visitor(chat_channel, agent):
    async def scenario() -> None:
        owner = visitor_socket()
        welcome = await _hello(owner)
        await owner.send_json_to({"type": "message", "text": "hello"})
        await receive_until(owner, "joined")
        forger = visitor_socket()
        forged = welcome["token"][:-3] + ("aaa" if not welcome["token"].endswith("aaa") else "bbb")
        welcome2 = await _hello(forger, token=forged)
        assert welcome2["conversation"] is None and welcome2["token"] != welcome["token"]
        await owner.disconnect()
        await forger.disconnect()

    async_to_sync(scenario)()


def test_bad_frames_are_refused_with_a_reason_and_the_connection_survives(chat_channel, agent, settings):
    settings.CHAT_MAX_MESSAGE_CHARS = 50

    async def scenario() -> None:
        visitor = visitor_socket()
        connected, _ = await visitor.connect()
        assert connected
        await visitor.send_json_to({"type": "message", "text": "before hello"})
        assert (await receive_until(visitor, "error"))["reason"] == "say hello first"
        await _hello_again(visitor)
        for frame, reason in (
            ("{not json", "malformed JSON"),
            ("[" * 5000 + "]" * 5000, "malformed JSON"),
            ("[1, 2]", "a message needs a type"),
            ('{"type": 5}', "a message needs a type"),
            ('{"type": "__init__"}', "unknown message type"),
            ('{"type": "message", "text": ""}', "The message is empty"),
            ('{"type": "message", "text": {"a": 1}}', "The message is empty"),
            ('{"type": "message", "text": "' + "x" * 51 + '"}', "A message can have at most 50 characters"),
            ('{"type": "read", "entry": 1}', "Unknown conversation"),
        ):
            await visitor.send_to(text_data=frame)
            assert (await receive_until(visitor, "error"))["reason"] == reason, frame
        await visitor.send_to(bytes_data=b"\x00\x01")
        assert (await receive_until(visitor, "error"))["reason"] == "binary frames are not accepted"
        await visitor.send_json_to({"type": "ping"})
        assert (await receive_until(visitor, "pong"))["type"] == "pong"
        await visitor.disconnect()

    async def _hello_again(visitor) -> None:
        await visitor.send_json_to({"type": "hello"})
        await receive_until(visitor, "welcome")

    async_to_sync(scenario)()
    assert not Entry.objects.exists()


def test_an_oversized_frame_closes_the_socket_with_1009(chat_channel, settings):
    settings.CHAT_MAX_FRAME_BYTES = 1000

    async def scenario() -> None:
        visitor = visitor_socket()
        await _hello(visitor)
        await visitor.send_to(text_data='{"type": "message", "text": "' + "é" * 600 + '"}')
        closed = await visitor.receive_output()
        assert closed == {"type": "websocket.close", "code": 1009, "reason": "frame too large"}

    async_to_sync(scenario)()
    assert not Entry.objects.exists()


def test_flooding_is_slowed_down_then_disconnected(chat_channel, agent, settings):
    settings.CHAT_RATE_LIMIT = 5
    settings.CHAT_RATE_WINDOW = 60

    async def scenario() -> None:
        visitor = visitor_socket()
        await _hello(visitor)  # 1 of 5
        for _ in range(4):
            await visitor.send_json_to({"type": "ping"})
            await receive_until(visitor, "pong")
        await visitor.send_json_to({"type": "message", "text": "spam"})
        assert (await receive_until(visitor, "error"))["reason"] == "too many messages; slow down"
        for _ in range(4):
            await visitor.send_json_to({"type": "message", "text": "spam"})
            await receive_until(visitor, "error")
        await visitor.send_json_to({"type": "message", "text": "spam"})
        closed = await visitor.receive_output()
        assert closed["type"] == "websocket.close" and closed["code"] == 4429

    async_to_sync(scenario)()
    assert not Entry.objects.exists()


def test_an_unknown_or_disabled_channel_refuses_the_connection(chat_channel):
    chat_channel.enabled = False
    chat_channel.save()

    async def scenario() -> None:
        for key in ("website", "nope"):
            assert await refusal(visitor_socket(key)) == 4404

    async_to_sync(scenario)()


def test_required_identity_is_asked_before_the_first_message(chat_channel, agent):
    chat_channel.ask_identity = "required"
    chat_channel.save()

    async def scenario() -> None:
        visitor = visitor_socket()
        welcome = await _hello(visitor)
        assert welcome["ask"] == "required"
        await visitor.send_json_to({"type": "message", "text": "hi"})
        assert (await receive_until(visitor, "error"))["field"] == "email"
        await visitor.send_json_to({"type": "hello", "token": welcome["token"], "name": "V", "email": "not-an-email"})
        assert (await receive_until(visitor, "error"))["reason"] == "That email address does not look right"
        await visitor.send_json_to({"type": "hello", "token": welcome["token"], "name": "V", "email": "v@example.com"})
        await receive_until(visitor, "welcome")
        await visitor.send_json_to({"type": "message", "text": "hi"})
        await receive_until(visitor, "joined")
        await visitor.disconnect()

    async_to_sync(scenario)()
    assert Conversation.objects.get().customer.identities.filter(value="v@example.com").exists()


def test_offline_the_visitor_leaves_a_message_that_becomes_a_ticket_of_the_same_customer(chat_channel, agent):
    User.objects.filter(pk=agent.pk).update(availability=Availability.AWAY)

    async def scenario() -> dict:
        visitor = visitor_socket()
        welcome = await _hello(visitor, name="Olga", email="olga@example.com")
        assert welcome["online"] is False
        await visitor.send_json_to({"type": "leave_message", "name": "Olga", "email": "", "text": ""})
        assert (await receive_until(visitor, "error"))["reason"] == "The message is empty"
        await visitor.send_json_to({"type": "leave_message", "name": "Olga", "email": "", "text": "Call me back"})
        left = await receive_until(visitor, "left")
        await visitor.disconnect()
        return left

    left = async_to_sync(scenario)()
    entry = Entry.objects.get(ticket__number=left["ticket"])
    assert entry.channel == "chat" and entry.metadata["offline"] is True
    identities = set(entry.ticket.customer.identities.values_list("value", flat=True))
    assert "olga@example.com" in identities and any(v.startswith("chat:") for v in identities)
    assert not Conversation.objects.exists()


@database_sync_to_async
def _count_entries() -> int:
    return Entry.objects.count()


def test_a_visitor_sends_a_file_into_their_own_conversation_only(chat_channel, agent, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    settings.CHAT_MAX_FILE_BYTES = 1000
    settings.CHAT_UPLOAD_LIMIT = 2

    async def scenario() -> tuple[str, str]:
        owner = visitor_socket()
        welcome = await _hello(owner)
        await owner.send_json_to({"type": "message", "text": "see the photo"})
        await receive_until(owner, "joined")
        other = visitor_socket()
        stranger_token = (await _hello(other))["token"]
        await other.disconnect()
        await owner.disconnect()  # the conversation stays open without a socket
        return welcome["token"], stranger_token

    token, stranger_token = async_to_sync(scenario)()
    web = Client()  # from the website: no session, no CSRF cookie, the token is the credential
    url = "/chat/upload/website"

    def post(token: str, content: bytes = b"PNG...", name: str = "photo.png"):
        return web.post(url, {"token": token, "file": SimpleUploadedFile(name, content, "image/png")})

    answer = post(token)
    assert answer.status_code == 200, answer.json()
    assert answer["Access-Control-Allow-Origin"] == "*"
    entry = Entry.objects.get(pk=answer.json()["entry"])
    assert entry.body_text == "📎 photo.png" and entry.attachments.get().filename == "photo.png"
    assert entry.ticket == Conversation.objects.get().ticket
    assert post(stranger_token).status_code == 404  # no conversation of their own to send into
    assert post("forged").status_code == 404
    assert post(token, b"x" * 1001).status_code == 413
    assert post(token).status_code == 200
    assert post(token).status_code == 422  # the third file within the window
    assert web.get(url).status_code == 405
    assert Entry.objects.filter(attachments__isnull=False).count() == 2


def test_outside_the_channels_business_hours_the_widget_takes_a_message(chat_channel, agent):
    from datetime import time as clock

    from sportello.chat.services import agents_online
    from sportello.sla.models import Calendar, CalendarInterval

    closed = Calendar.objects.create(name="Never open", time_zone="UTC")
    chat_channel.hours = closed
    chat_channel.save()
    assert agents_online(chat_channel) is False  # an agent is online, but the hours say closed
    always = Calendar.objects.create(name="Always open", time_zone="UTC")
    for weekday in range(7):
        CalendarInterval.objects.create(calendar=always, weekday=weekday, start=clock(0, 0), end=clock(0, 0))
    chat_channel.hours = always
    chat_channel.save()
    assert agents_online(chat_channel) is True

    async def scenario() -> bool:
        visitor = visitor_socket()
        welcome = await _hello(visitor)
        await visitor.disconnect()
        return welcome["online"]

    chat_channel.hours = closed
    chat_channel.save()
    assert async_to_sync(scenario)() is False


def test_the_visitors_lines_come_back_with_the_name_they_gave(chat_channel, agent):
    """The echo of the first line (sent by the socket itself, as it joins) carries the name as the
    later lines (pushed to the conversation) and the history after a reload do."""

    async def scenario() -> None:
        visitor = visitor_socket()
        welcome = await _hello(visitor)
        await visitor.send_json_to({"type": "hello", "token": welcome["token"], "name": "Vera Visitor"})
        welcome = await receive_until(visitor, "welcome")
        await visitor.send_json_to({"type": "message", "text": "Is my order shipped?"})
        first = await receive_until(visitor, "message")
        assert (first["from"], first["name"], first["text"]) == ("visitor", "Vera Visitor", "Is my order shipped?")
        await visitor.send_json_to({"type": "message", "text": "Order 42"})
        assert (await receive_until(visitor, "message"))["name"] == "Vera Visitor"
        await visitor.disconnect()

        again = visitor_socket()
        history = (await _hello(again, token=welcome["token"]))["messages"]
        assert [(m["name"], m["text"]) for m in history] == [
            ("Vera Visitor", "Is my order shipped?"),
            ("Vera Visitor", "Order 42"),
        ]
        await again.disconnect()

    async_to_sync(scenario)()
