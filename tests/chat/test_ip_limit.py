"""At most SPORTELLO_CHAT_MAX_CONNECTIONS_PER_IP open visitor sockets per client address."""

from __future__ import annotations

import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from sportello.chat import sockets
from tests.chat.conftest import visitor_socket

pytestmark = pytest.mark.django_db(transaction=True)


def an_address() -> str:
    """A fresh address per test: the cache outlives a test (and may be a shared Redis)."""
    return f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"


def visitor_from(address: str) -> WebsocketCommunicator:
    communicator = visitor_socket()
    communicator.scope["client"] = (address, 50000)
    return communicator


async def opened(communicator: WebsocketCommunicator) -> bool | int:
    """True when the socket stays open (it answers a frame); else the code it was closed with."""
    connected, code = await communicator.connect()
    if not connected:
        return code
    await communicator.send_json_to({"type": "ping"})
    output = await communicator.receive_output()
    return output["code"] if output["type"] == "websocket.close" else True


def test_extra_sockets_from_one_address_are_closed_with_4429_and_a_closed_one_frees_its_place(chat_channel, settings):
    settings.CHAT_MAX_CONNECTIONS_PER_IP = 2
    crowded, elsewhere = an_address(), an_address()

    async def scenario() -> None:
        first, second, third = visitor_from(crowded), visitor_from(crowded), visitor_from(crowded)
        assert await opened(first) is True
        assert await opened(second) is True
        assert await opened(third) == 4429
        other = visitor_from(elsewhere)
        assert await opened(other) is True  # another address has its own count
        assert sockets.open_count(crowded) == 2

        await first.disconnect()  # a closed socket gives its place back
        assert sockets.open_count(crowded) == 1
        fourth = visitor_from(crowded)
        assert await opened(fourth) is True
        assert await opened(visitor_from(crowded)) == 4429
        for communicator in (second, fourth, other):
            await communicator.disconnect()
        assert sockets.open_count(crowded) == 0 and sockets.open_count(elsewhere) == 0

    async_to_sync(scenario)()


def test_no_limit_when_set_to_zero_and_no_count_without_a_client_address(chat_channel, settings):
    settings.CHAT_MAX_CONNECTIONS_PER_IP = 0
    address = an_address()

    async def scenario() -> None:
        many = [visitor_from(address) for _ in range(3)]
        for communicator in many:
            assert await opened(communicator) is True
        assert sockets.open_count(address) == 0
        settings.CHAT_MAX_CONNECTIONS_PER_IP = 1
        unix = visitor_socket()  # a Unix socket: the ASGI server reports no client
        assert await opened(unix) is True
        for communicator in [*many, unix]:
            await communicator.disconnect()

    async_to_sync(scenario)()


def test_counts_of_a_process_that_died_stop_counting_after_two_periods(settings):
    settings.CHAT_MAX_CONNECTIONS_PER_IP = 2
    address = an_address()
    start = sockets.PERIOD * 1_000_000.0  # the start of a period, far from today's keys

    # Two sockets open; their process dies: no disconnect, no recount.
    assert sockets.admit(address, now=start) is not None
    assert sockets.admit(address, now=start + 1) is not None
    assert sockets.admit(address, now=start + 2) is None
    # In the next period they still count (the previous period holds them) ...
    assert sockets.admit(address, now=start + sockets.PERIOD + 1) is None
    # ... two periods on they do not.
    later = start + 2 * sockets.PERIOD + 1
    assert sockets.open_count(address, now=later) == 0
    assert sockets.admit(address, now=later) is not None


def test_an_open_socket_that_recounts_keeps_its_place_across_periods(settings):
    settings.CHAT_MAX_CONNECTIONS_PER_IP = 2
    address = an_address()
    start = sockets.PERIOD * 1_000_100.0
    first = sockets.admit(address, now=start)
    assert first is not None
    periods = {first}
    for step in (1, 2, 3):  # still open: counted again as each period begins
        period = sockets.period_of(start + step * sockets.PERIOD)
        sockets.recount(address, period)
        periods.add(period)
    now = start + 3 * sockets.PERIOD + 5
    assert sockets.open_count(address, now=now) == 1
    assert sockets.admit(address, now=now) is not None  # the second place
    assert sockets.admit(address, now=now) is None  # no third
    sockets.release(address, periods)
    assert sockets.open_count(address, now=now) == 1  # only the second one now
