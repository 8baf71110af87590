"""A push from a thread that serves an HTTP request (asgi.py runs requests in a pool of threads)
reaches the sockets waiting on the ASGI server's event loop, with the in-memory channel layer."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from channels.layers import InMemoryChannelLayer, get_channel_layer

from sportello.chat import live
from tests.waiting import wait_for


@pytest.fixture
def server_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop in a thread of its own, as uvicorn's, with nothing else to do."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=120)
        loop.close()
        live._served.clear()


def test_a_push_from_a_request_thread_wakes_a_socket_waiting_on_the_server_loop(server_loop):
    layer = get_channel_layer()
    assert isinstance(layer, InMemoryChannelLayer)

    async def joined() -> str:
        channel = await layer.new_channel()
        await layer.group_add(live.INBOX_GROUP, channel)
        return channel

    channel = asyncio.run_coroutine_threadsafe(joined(), server_loop).result(timeout=120)
    try:
        live.serving(server_loop)  # as asgi.py notes it on every request
        heard = asyncio.run_coroutine_threadsafe(layer.receive(channel), server_loop)
        # The socket waits (its queue has a getter: asyncio's own list) before the push is sent.
        wait_for(
            lambda: layer.channels.get(channel) is not None and layer.channels[channel]._getters, "a waiting socket"
        )
        request = threading.Thread(target=live.push, args=(live.INBOX_GROUP, {"type": "changed", "ticket": 7}))
        request.start()
        request.join(timeout=120)
        # Put into the queue from another loop's thread, the waiting socket would not wake until
        # something else woke the server's loop: here nothing would.
        assert heard.result(timeout=120) == {"type": "changed", "ticket": 7}
    finally:
        asyncio.run_coroutine_threadsafe(layer.group_discard(live.INBOX_GROUP, channel), server_loop).result(120)
