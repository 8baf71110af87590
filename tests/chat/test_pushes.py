"""What the listeners push, in which order, and what an inbox needs to pass a change on."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async

from sportello.chat import live, services
from sportello.tickets.services import TicketChanges, update_ticket
from tests.chat.conftest import agent_socket, receive_until

pytestmark = pytest.mark.django_db


class RecordingLayer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        self.sent.append((group, message))


@pytest.fixture
def layer(monkeypatch) -> RecordingLayer:
    recording = RecordingLayer()
    monkeypatch.setattr(live, "get_channel_layer", lambda: recording)
    return recording


def test_a_chat_line_goes_to_its_conversation_before_the_ticket_pages_and_inboxes(
    chat_channel, agent, layer, django_capture_on_commit_callbacks
):
    visitor = services.new_visitor(chat_channel)
    with django_capture_on_commit_callbacks(execute=True):
        conversation, _ = services.post_visitor_message(chat_channel, visitor, "Hello")
    layer.sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.post_visitor_message(chat_channel, visitor, "Is anyone there?")
    groups = [group for group, _ in layer.sent]
    assert groups[0] == live.conversation_group(conversation.pk)
    assert layer.sent[0][1]["entry"]["text"] == "Is anyone there?"
    assert {live.ticket_group(conversation.ticket_id), live.INBOX_GROUP} <= set(groups[1:])
    inbox = next(message for group, message in layer.sent if group == live.INBOX_GROUP)
    assert inbox == {"type": "inbox.changed", "ticket": conversation.ticket_id, "number": conversation.ticket.number}


def test_moving_a_chats_ticket_to_another_group_tells_its_conversation_to_check_access(
    chat_channel, admin, second_level, layer, django_capture_on_commit_callbacks
):
    visitor = services.new_visitor(chat_channel)
    with django_capture_on_commit_callbacks(execute=True):
        conversation, _ = services.post_visitor_message(chat_channel, visitor, "Hello")
    layer.sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        update_ticket(conversation.ticket, admin, TicketChanges(priority=3))
    assert live.conversation_group(conversation.pk) not in [group for group, _ in layer.sent]
    with django_capture_on_commit_callbacks(execute=True):
        update_ticket(conversation.ticket, admin, TicketChanges(group=second_level))
    assert (
        live.conversation_group(conversation.pk),
        {"type": "chat.access", "conversation": conversation.pk},
    ) in layer.sent


@pytest.mark.django_db(transaction=True)
def test_an_inbox_passes_on_only_the_tickets_its_agent_may_see(chat_channel, agent, restricted_agent):
    # The chat channel's tickets go to the first level; the restricted agent is in the second only.
    async def scenario() -> None:
        sees_all = agent_socket(agent, "/ws/agent/inbox/")
        restricted = agent_socket(restricted_agent, "/ws/agent/inbox/")
        assert (await sees_all.connect())[0] and (await restricted.connect())[0]
        visitor = services.new_visitor(chat_channel)
        _, entry = await database_sync_to_async(services.post_visitor_message)(chat_channel, visitor, "Hello")
        number = await database_sync_to_async(lambda: entry.ticket.number)()
        assert (await receive_until(sees_all, "changed"))["ticket"] == number
        assert await restricted.receive_nothing(timeout=0.5)
        await sees_all.disconnect()
        await restricted.disconnect()

    async_to_sync(scenario)()
