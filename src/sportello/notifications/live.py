"""The bell, live: each agent page holds a socket in its agent's group, told the unread count.

A notification is written by a worker (services.py), which publishes NOTIFIED with the recipients
in the same transaction (core/events.py: an outbox row). After the commit the worker pushes each
recipient's count through the channel layer: with Redis that reaches every web process. With the
in-memory layer (no Redis, `make run`) it reaches nobody, so the web processes' relay of outbox
rows (chat/live.py, the one that carries every screen event) builds the same pushes from the row
(`pushes_for`, registered in chat/live.py's SCREEN_PUSHES). A push twice is harmless (it only says
the count). Reading a notification pushes from the request.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db.models import Count

from sportello.chat.live import JsonSocket
from sportello.core import events
from sportello.notifications.models import Notification

GROUP_PREFIX = "notifications-"


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


# --- Notifications written elsewhere (a worker) --------------------------------------------------

# The domain event of notifications written: published in the transaction that writes them. It
# names no ticket (ticket_id 0): one batch may span several. Data: {"recipients": [user ids]}.
NOTIFIED = "notifications.notified"


def notified(recipients: Iterable[int]) -> events.Event:
    return events.Event(NOTIFIED, ticket_id=0, data={"recipients": sorted(set(recipients))})


def pushes_for(batch: list[events.Event]) -> list[tuple[str, dict[str, Any]]]:
    """The counts to push for a batch of NOTIFIED events: each recipient once, in one query, and
    only those whose bell this process holds when its layer is in memory. Registered with
    chat/live.py's SCREEN_PUSHES, so the relay of another process's events builds them the same way."""
    ids = {pk for event in batch for pk in event.data.get("recipients", ()) if isinstance(pk, int)}
    layer = get_channel_layer()
    if isinstance(layer, InMemoryChannelLayer):
        ids = {pk for pk in ids if layer.groups.get(group_of(pk))}
    return messages_for(ids, new=True) if ids else []


def push_notified(batch: list[events.Event]) -> None:
    """The publisher's screen listener, after commit (a worker with Redis reaches every bell)."""
    from sportello.chat.live import listened, push_many

    layer = get_channel_layer()
    if layer is None or not listened(layer):
        return
    if sends := pushes_for(batch):
        push_many(sends)


@events.batched(push_notified)
def on_notified(event: events.Event) -> None:
    push_notified([event])


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

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def notifications_changed(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "notifications", "unread": event["unread"], "new": event.get("new", False)})
