"""Chat fixtures: a chat channel answered by the first-level group, and socket helpers."""

from __future__ import annotations

import pytest
from channels.testing import WebsocketCommunicator

from sportello.accounts.models import User
from sportello.chat.models import AskIdentity, ChatChannel
from sportello.chat.routing import websocket_application
from tests.kb.conftest import billing, draft_article, internal_article, invoice_article, invoices  # noqa: F401 — articles

ORIGIN = (b"origin", b"http://127.0.0.1")
# Seconds to wait for a frame that normally comes within milliseconds. Only a hang reaches it; a
# busy machine (the suite beside other work on two cores) must not, so it is far from the usual time.
PATIENCE = 60


@pytest.fixture
def chat_channel(first_level) -> ChatChannel:
    return ChatChannel.objects.create(
        name="Website", key="website", group=first_level, ask_identity=AskIdentity.OPTIONAL, greeting="Ciao!"
    )


class PatientCommunicator(WebsocketCommunicator):
    """A test socket whose waits default to PATIENCE, not Channels' one second: under load a
    consumer's first database query alone can take longer, and the test failed where nothing was wrong."""

    async def connect(self, timeout: float = PATIENCE):  # type: ignore[no-untyped-def]
        return await super().connect(timeout)

    async def receive_from(self, timeout: float = PATIENCE):  # type: ignore[no-untyped-def]
        return await super().receive_from(timeout)

    async def receive_json_from(self, timeout: float = PATIENCE):  # type: ignore[no-untyped-def]
        return await super().receive_json_from(timeout)

    async def receive_output(self, timeout: float = PATIENCE):  # type: ignore[no-untyped-def]
        return await super().receive_output(timeout)

    async def disconnect(self, code: int = 1000, timeout: float = PATIENCE) -> None:
        await super().disconnect(code, timeout)


def visitor_socket(key: str = "website") -> WebsocketCommunicator:
    return PatientCommunicator(
        websocket_application, f"/ws/chat/{key}/", headers=[(b"origin", b"https://shop.example")]
    )


def agent_socket(user: User | None, path: str) -> WebsocketCommunicator:
    """An agent's socket as the session middleware would see it: `user` signed in, our own origin."""
    communicator = PatientCommunicator(websocket_application, path, headers=[ORIGIN])
    if user is not None:
        communicator.scope["user"] = user
    return communicator


async def receive_until(communicator: WebsocketCommunicator, kind: str, timeout: float = PATIENCE) -> dict:
    """The next JSON frame of type `kind`, skipping others (presence chatter, queue notices)."""
    while True:
        frame = await communicator.receive_json_from(timeout)
        if frame.get("type") == kind:
            return frame


async def refusal(communicator: WebsocketCommunicator) -> int | None:
    """The close code a refused socket gets (accepted, then closed with a reason); None if it stays open."""
    connected, code = await communicator.connect()
    if not connected:
        return code
    output = await communicator.receive_output()
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
