"""The production channel layer: the chat round trip through the real Redis on 127.0.0.1:6379."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async

from sportello.chat import services
from sportello.chat.models import Conversation
from tests.chat.conftest import agent_socket, receive_until, visitor_socket
from tests.conftest import service_or_skip, tcp_open

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def redis_layer(settings):
    service_or_skip("Redis on 127.0.0.1:6379", tcp_open("127.0.0.1", 6379))
    base = _production_layer("redis://127.0.0.1:6379/0")
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # A prefix of our own: other test runs may share this Redis.
            "CONFIG": {**base["CONFIG"], "prefix": f"sportello-test-{uuid.uuid4().hex[:8]}"},
        }
    }
    from channels.layers import get_channel_layer

    assert type(get_channel_layer()).__name__ == "RedisChannelLayer"


def _production_layer(redis_url: str) -> dict:
    """The layer settings.py configures when REDIS_URL is set."""
    import importlib
    import os
    from unittest import mock

    import sportello.settings

    with mock.patch.dict(os.environ, {"REDIS_URL": redis_url}):
        layer = importlib.reload(sportello.settings).CHANNEL_LAYERS["default"]
    importlib.reload(sportello.settings)
    assert layer["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    return layer


def test_visitor_and_agent_talk_through_redis(redis_layer, chat_channel, agent):
    async def scenario() -> None:
        console = agent_socket(agent, "/ws/agent/console/")
        assert (await console.connect())[0]
        visitor = visitor_socket()
        assert (await visitor.connect())[0]
        await visitor.send_json_to({"type": "hello"})
        await receive_until(visitor, "welcome")
        await visitor.send_json_to({"type": "message", "text": "via redis"})
        conversation_id = (await receive_until(visitor, "joined"))["conversation"]
        await receive_until(console, "queue")
        chat = await database_sync_to_async(Conversation.objects.select_related("ticket", "channel").get)()
        await database_sync_to_async(services.accept_chat)(chat, agent)
        assert (await receive_until(visitor, "state"))["state"] == "active"
        # Idle longer than redis-py 8's default read timeout (5 s): the consumers must survive it.
        await asyncio.sleep(6)
        chat = await database_sync_to_async(Conversation.objects.select_related("ticket", "channel").get)()
        await database_sync_to_async(services.send_agent_message)(chat, agent, "answered through redis")
        assert (await receive_until(visitor, "message"))["text"] == "answered through redis"
        await visitor.send_json_to({"type": "typing"})
        assert (await receive_until(console, "typing"))["conversation"] == conversation_id
        await visitor.disconnect()
        await console.disconnect()

    async_to_sync(scenario)()


def test_a_socket_that_falls_behind_keeps_its_backlog(redis_layer):
    """A console busy for a while finds every message waiting (Channels' default capacity, 100, dropped
    the rest: lines lost at the bench's 100 lines per second)."""
    from channels.layers import get_channel_layer

    async def scenario() -> None:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add("backlog-test", channel)
        for n in range(300):
            await layer.group_send("backlog-test", {"type": "chat.entry", "n": n})
        received = [(await asyncio.wait_for(layer.receive(channel), 5))["n"] for _ in range(300)]
        assert received == list(range(300))
        await layer.group_discard("backlog-test", channel)

    async_to_sync(scenario)()
