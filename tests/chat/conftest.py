"""Chat fixtures: a chat channel answered by the first-level group, and socket helpers."""

from __future__ import annotations

import pytest
from channels.testing import WebsocketCommunicator

from sportello.accounts.models import User
from sportello.chat.models import AskIdentity, ChatChannel
from sportello.chat.routing import websocket_application
from tests.kb.conftest import billing, draft_article, internal_article, invoice_article, invoices  # noqa: F401 — articles

ORIGIN = (b"origin", b"http://127.0.0.1")


@pytest.fixture
def chat_channel(first_level) -> ChatChannel:
    return ChatChannel.objects.create(
        name="Website", key="website", group=first_level, ask_identity=AskIdentity.OPTIONAL, greeting="Ciao!"
    )


def visitor_socket(key: str = "website") -> WebsocketCommunicator:
    return WebsocketCommunicator(
        websocket_application, f"/ws/chat/{key}/", headers=[(b"origin", b"https://shop.example")]
    )


def agent_socket(user: User | None, path: str) -> WebsocketCommunicator:
    """An agent's socket as the session middleware would see it: `user` signed in, our own origin."""
    communicator = WebsocketCommunicator(websocket_application, path, headers=[ORIGIN])
    if user is not None:
        communicator.scope["user"] = user
    return communicator


async def receive_until(communicator: WebsocketCommunicator, kind: str, timeout: float = 3) -> dict:
    """The next JSON frame of type `kind`, skipping others (presence chatter, queue notices)."""
    while True:
        frame = await communicator.receive_json_from(timeout=timeout)
        if frame.get("type") == kind:
            return frame


async def refusal(communicator: WebsocketCommunicator) -> int | None:
    """The close code a refused socket gets (accepted, then closed with a reason); None if it stays open."""
    connected, code = await communicator.connect()
    if not connected:
        return code
    output = await communicator.receive_output(timeout=3)
    return output["code"] if output["type"] == "websocket.close" else None


@pytest.fixture(scope="session", autouse=True)
def _release_pooled_connections(django_db_setup, django_db_blocker):  # type: ignore[no-untyped-def]
    """The visitors' database threads outlive each test; their connections are closed before the
    test database is dropped (PostgreSQL refuses to drop a database in use)."""
    yield
    import threading

    from django.db import connections

    from sportello.chat.consumers import VISITOR_THREADS

    # One task per thread (the barrier keeps each thread to one), each closing its own connections.
    size = VISITOR_THREADS._max_workers
    barrier = threading.Barrier(size)

    def close_own() -> None:
        barrier.wait(timeout=10)
        connections.close_all()

    with django_db_blocker.unblock():
        for future in [VISITOR_THREADS.submit(close_own) for _ in range(size)]:
            future.result(timeout=20)
