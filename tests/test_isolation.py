"""The test suite's own guard rails: no traffic beyond loopback, and async code that queries the
database synchronously fails as it would in production."""

from __future__ import annotations

import asyncio
import os
import socket

import pytest
from django.core.exceptions import SynchronousOnlyOperation
from pytest_socket import SocketConnectBlockedError

from sportello.accounts.models import User

TEST_NET = ("192.0.2.1", 80)  # RFC 5737 TEST-NET-1: documentation only, never routed


@pytest.mark.filterwarnings("ignore:A test tried to use socket")  # pytest-socket warns as it raises
def test_a_connection_beyond_loopback_is_refused_before_it_leaves():
    # pytest-socket's check runs inside connect(), before the real one: no SYN is sent.
    with pytest.raises(SocketConnectBlockedError, match=r"192\.0\.2\.1"):
        socket.create_connection(TEST_NET, timeout=30)
    with pytest.raises(SocketConnectBlockedError), socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
        sock.connect(("2001:db8::1", 80))  # RFC 3849 documentation prefix


def test_loopback_and_unix_sockets_still_connect(tmp_path):
    for family, address in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        try:
            server = socket.socket(family, socket.SOCK_STREAM)
            server.bind((address, 0))
        except OSError:  # no IPv6 on this machine
            continue
        with server:
            server.listen()
            with socket.create_connection(server.getsockname()[:2], timeout=30):
                server.accept()[0].close()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(tmp_path / "s"))
        server.listen()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(str(tmp_path / "s"))


def test_names_beyond_loopback_are_not_looked_up():
    """Looking a name up asks the network's resolver: tests get the answer of a machine offline."""
    for name in ("example.com", "sportello.test", "localhost.example"):
        with pytest.raises(socket.gaierror, match="tests resolve loopback names only"):
            socket.getaddrinfo(name, 80)
    for name, address in (("localhost", "127.0.0.1"), ("0x7f000001", "127.0.0.1"), ("127.1", "127.0.0.1")):
        assert address in {info[4][0] for info in socket.getaddrinfo(name, 80)}
    assert socket.getaddrinfo("::1", 80)[0][4][0] == "::1"


@pytest.mark.django_db
def test_a_synchronous_query_inside_async_code_fails():
    """The browser tests allow it for themselves only (tests/browser/conftest.py): a consumer that
    queries without database_sync_to_async must fail its tests, as it fails under a real server."""
    assert "DJANGO_ALLOW_ASYNC_UNSAFE" not in os.environ

    async def consumer_code() -> int:
        return User.objects.count()

    with pytest.raises(SynchronousOnlyOperation):
        asyncio.run(consumer_code())
