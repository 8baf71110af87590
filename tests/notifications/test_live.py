"""The bell's socket: agents only, the count on connect, and each change of it pushed live —
from the request that commits a note (tasks run at once here), and from a worker in another
process (no Redis: the web process's relay finds it)."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async

from sportello.notifications import services
from sportello.notifications.models import Kind, Notification
from sportello.tickets.services import add_note
from tests.chat.conftest import agent_socket, receive_until, refusal
from tests.notifications.conftest import phoned_in

pytestmark = pytest.mark.django_db(transaction=True)

PATH = "/ws/agent/notifications/"


async def count_becomes(socket, unread: int) -> dict:
    """The push that says `unread`; a count said twice (the request's push, then the relay's) is skipped."""
    while True:
        frame = await receive_until(socket, "notifications")
        if frame["unread"] == unread:
            return frame


def test_customers_and_anonymous_visitors_are_refused(customer_user):
    async def scenario() -> None:
        assert await refusal(agent_socket(customer_user, PATH)) == 4403
        assert await refusal(agent_socket(None, PATH)) == 4403

    async_to_sync(scenario)()


def test_a_mention_reaches_the_mentioned_agents_bell_and_no_other(agent, agent2):
    ticket = phoned_in()

    async def scenario() -> None:
        bob = agent_socket(agent2, PATH)
        alice = agent_socket(agent, PATH)
        assert (await bob.connect())[0] and (await alice.connect())[0]
        assert await receive_until(bob, "notifications") == {"type": "notifications", "unread": 0, "new": False}
        assert (await receive_until(alice, "notifications"))["unread"] == 0
        await database_sync_to_async(add_note)(ticket, agent, body_text="@bob_agent the kettle again")
        assert await receive_until(bob, "notifications") == {"type": "notifications", "unread": 1, "new": True}
        assert await alice.receive_nothing(timeout=0.5)
        # Read on another page: this one hears the count drop.
        await database_sync_to_async(services.mark_all_read)(agent2)
        assert (await count_becomes(bob, 0))["new"] is False
        await bob.disconnect()
        await alice.disconnect()

    async_to_sync(scenario)()


def test_a_notification_a_worker_wrote_elsewhere_reaches_the_bell(agent, agent2, monkeypatch):
    """A worker process cannot reach this process's in-memory layer: the relay of the outbox (the
    one that carries every screen event, chat/live.py) reads the worker's row and pushes the count."""
    import asyncio
    import threading

    from sportello.chat import live as chat_live
    from sportello.core.models import OutboxMessage
    from sportello.notifications.live import notified

    ticket = phoned_in()
    # The relay takes the outbox's end as its start once a socket listens: a row written before
    # that is history to it. Known here by its reading of that end.
    started = threading.Event()
    last_outbox_id = chat_live._last_outbox_id

    def starting_point() -> int:
        started.set()
        return last_outbox_id()

    monkeypatch.setattr(chat_live, "_last_outbox_id", starting_point)

    def as_a_worker_elsewhere_writes_it() -> None:
        Notification.objects.create(recipient=agent2, kind=Kind.ASSIGNED, ticket=ticket, key="elsewhere:1")
        event = notified([agent2.pk])
        OutboxMessage.objects.create(kind="event", payload={"events": [event.__dict__], "by": "worker-elsewhere"})

    async def scenario() -> None:
        stop = asyncio.Event()
        relay = asyncio.get_running_loop().create_task(chat_live.relay(stop))
        bob = agent_socket(agent2, PATH)
        assert (await bob.connect())[0]
        assert (await receive_until(bob, "notifications"))["unread"] == 0
        while not started.is_set():
            await asyncio.sleep(0.01)
        await database_sync_to_async(as_a_worker_elsewhere_writes_it)()  # no push from here
        assert await receive_until(bob, "notifications") == {"type": "notifications", "unread": 1, "new": True}
        stop.set()
        await relay
        await bob.disconnect()

    async_to_sync(scenario)()


def test_the_worker_that_writes_a_notification_publishes_its_recipients(agent, agent2):
    """The row the relay reads: written in the notification's own transaction, naming who to tell."""
    from sportello.core import events
    from sportello.core.models import OutboxMessage
    from sportello.notifications.live import NOTIFIED

    ticket = phoned_in()
    add_note(ticket, agent, body_text="@bob_agent look")
    told = [
        event.data["recipients"]
        for payload in OutboxMessage.objects.filter(kind="event").values_list("payload", flat=True)
        for event in events.events_of(payload)
        if event.name == NOTIFIED
    ]
    assert told == [[agent2.pk]]
