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


def test_a_notification_a_worker_wrote_elsewhere_reaches_the_bell(agent, agent2):
    """A worker process cannot reach this process's in-memory layer: the relay reads the table."""
    ticket = phoned_in()

    async def scenario() -> None:
        bob = agent_socket(agent2, PATH)
        assert (await bob.connect())[0]
        assert (await receive_until(bob, "notifications"))["unread"] == 0
        await database_sync_to_async(Notification.objects.create)(
            recipient=agent2, kind=Kind.ASSIGNED, ticket=ticket, key="elsewhere:1"
        )  # as a worker writes it: no push from here
        assert await receive_until(bob, "notifications") == {"type": "notifications", "unread": 1, "new": True}
        await bob.disconnect()

    async_to_sync(scenario)()
