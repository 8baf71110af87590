"""The bell, live: each agent page holds a socket in its agent's group, told the unread count.

A notification is written by a worker (services.py). With Redis the worker's push reaches every
web process's sockets. With the in-memory layer (no Redis, `make run`) a worker's push reaches
nobody, so each web process with bells open looks, every POLL_SECONDS, for notifications written
in the last WINDOW to the agents whose bells it holds (one indexed query) and pushes their counts;
a push twice is harmless (it only says the count). Reading a notification pushes from the request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db.models import Count
from django.utils import timezone

from sportello.chat.live import JsonSocket
from sportello.notifications.models import Notification

log = logging.getLogger("sportello.notifications")

GROUP_PREFIX = "notifications-"
POLL_SECONDS = 0.5
# Longer than a worker's batch may take between writing a notification and committing it.
WINDOW = timedelta(seconds=30)


def group_of(user_id: int) -> str:
    return f"{GROUP_PREFIX}{user_id}"


def counts(user_ids: Iterable[int]) -> dict[int, int]:
    """The unread count of each agent, in one query (0 for those with none)."""
    ids = sorted(set(user_ids))
    found = dict(
        Notification.objects.filter(recipient_id__in=ids, read_at__isnull=True)
        .values("recipient_id")
        .annotate(n=Count("id"))
        .values_list("recipient_id", "n")
    )
    return {pk: found.get(pk, 0) for pk in ids}


def messages_for(user_ids: Iterable[int], *, new: bool) -> list[tuple[str, dict[str, Any]]]:
    return [
        (group_of(pk), {"type": "notifications.changed", "unread": n, "new": new}) for pk, n in counts(user_ids).items()
    ]


def push_counts(user_ids: Iterable[int], *, new: bool = False) -> None:
    """Tell the agents' open pages their unread count; nothing (not even the count's query) when
    no socket could hear it (an in-memory layer in a worker)."""
    from sportello.chat.live import listened, push_many

    layer = get_channel_layer()
    ids = set(user_ids)
    if layer is None or not ids or not listened(layer):
        return
    if isinstance(layer, InMemoryChannelLayer):
        ids = {pk for pk in ids if layer.groups.get(group_of(pk))}
        if not ids:
            return
    push_many(messages_for(ids, new=new))


# --- The relay of workers' notifications, without Redis ---------------------------------------------

_poller: list[asyncio.Task[None]] = []


def _listening(layer: InMemoryChannelLayer) -> set[int]:
    return {
        int(name[len(GROUP_PREFIX) :])
        for name, members in layer.groups.items()
        if name.startswith(GROUP_PREFIX) and members
    }


def ensure_poller(layer: Any) -> None:
    """Start this process's poller (in-memory layer only) unless it runs; it stops by itself when
    no bell is open."""
    if not isinstance(layer, InMemoryChannelLayer):
        return
    if _poller and not _poller[0].done():
        return
    _poller[:] = [asyncio.get_running_loop().create_task(poll(layer))]


async def poll(layer: InMemoryChannelLayer) -> None:
    tail = _Tail(timezone.now())
    while True:
        await asyncio.sleep(POLL_SECONDS)
        users = _listening(layer)
        if not users:
            return
        try:
            sends = await database_sync_to_async(tail.read)(users)
            for group, message in sends:
                await layer.group_send(group, message)
        except Exception:
            log.exception("the relay of notifications failed; trying again")
            await asyncio.sleep(1)


class _Tail:
    """The notifications seen in the window, so each is pushed once (rows may commit out of id order)."""

    def __init__(self, since: Any) -> None:
        self.since = since
        self.seen: set[int] = set()

    def read(self, users: set[int]) -> list[tuple[str, dict[str, Any]]]:
        start = max(self.since, timezone.now() - WINDOW)
        rows = list(
            Notification.objects.filter(recipient_id__in=sorted(users), created_at__gte=start).values_list(
                "pk", "recipient_id"
            )
        )
        fresh = {recipient for pk, recipient in rows if pk not in self.seen}
        self.seen = {pk for pk, _recipient in rows}
        return messages_for(fresh, new=True) if fresh else []


# --- The bell's socket -----------------------------------------------------------------------------


class NotificationConsumer(JsonSocket):
    """Agents only (session, our own origin: chat/routing.py's `for_agents`). It does not count for
    presence: the page's other socket does (chat/live.py)."""

    group = ""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_staff_member:
            await self.accept()
            await self.close(code=4403, reason="agents only")
            return
        self.group = group_of(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        unread = await database_sync_to_async(lambda: counts([user.pk])[user.pk])()
        await self.send_json({"type": "notifications", "unread": unread, "new": False})
        ensure_poller(self.channel_layer)

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def notifications_changed(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "notifications", "unread": event["unread"], "new": event.get("new", False)})
