"""Realtime for agents' screens, and the pushes that follow the domain events.

Listeners (subscribed in ChatConfig.ready) run after commit and `group_send` small notices:
a chat line to the conversation's sockets, "this ticket changed" to the sockets of agents who
have its page open, "something changed" to open inboxes. What goes to a group is only what every
member of the group may see: ticket sockets were admitted through the ticket gate, inbox
sockets check each ticket against their agent before passing it on, and visitors never receive
internal notes.

Presence: every agent screen holds a socket; the number open per agent is counted in the cache
(Redis in production, so across processes). When the last one closes and none opens within
AGENT_OFFLINE_GRACE_SECONDS (a reload, the next page), the agent becomes offline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.core.cache import cache

from sportello.accounts.models import Availability, User
from sportello.core import events
from sportello.core.errors import ServiceError
from sportello.tickets.models import Ticket

log = logging.getLogger("sportello.chat")

INBOX_GROUP = "inbox"
QUEUE_GROUP = "chat-queue"


def conversation_group(conversation_id: int) -> str:
    return f"chat-conv-{conversation_id}"


def ticket_group(ticket_id: int) -> str:
    return f"ticket-{ticket_id}"


def agent_group(user_id: int) -> str:
    return f"agent-{user_id}"


def push(group: str, message: dict[str, Any]) -> None:
    """Send to a group from synchronous code (listeners, services); a failure only logs."""
    push_many([(group, message)])


def push_many(sends: list[tuple[str, dict[str, Any]]]) -> None:
    """Send to several groups at once, in one trip to the event loop.

    From a request's or a visitor's thread under uvicorn the coroutine runs on the process's
    event loop, the one its sockets wait on (handed over, and waited for). Elsewhere (commands,
    task workers, gunicorn) an in-memory layer has no socket to reach, so nothing is sent at all,
    and the Redis layer sends from one event loop kept for the process (`async_to_sync` would start
    a thread, a loop and a Redis connection for every call). A failed send only logs (best effort:
    the data is committed, a reload shows it) and does not stop the others.
    """
    layer = get_channel_layer()
    if layer is None or not sends or not listened(layer):
        return

    async def send_all() -> None:
        await send_in_order(layer, sends)

    try:
        if _main_loop() is not None:  # a consumer's database call (SyncToAsync's thread)
            async_to_sync(send_all)()
        elif (loop := _server_loop()) is not None:  # a request's thread (asgi.py)
            asyncio.run_coroutine_threadsafe(send_all(), loop).result(timeout=60)
        elif isinstance(layer, InMemoryChannelLayer):
            async_to_sync(send_all)()
        else:
            asyncio.run_coroutine_threadsafe(send_all(), _push_loop()).result(timeout=60)
    except Exception:
        log.exception("pushes to %s failed", ", ".join(group for group, _ in sends))


def listened(layer: Any) -> bool:
    """False when the layer is in this process's memory and no socket of this process is in any
    group (a worker, a command, a WSGI process): a push would reach nobody."""
    return not isinstance(layer, InMemoryChannelLayer) or any(layer.groups.values())


async def send_in_order(layer: Any, sends: list[tuple[str, dict[str, Any]]]) -> None:
    """The groups concurrently; each group's messages in order."""
    by_group: dict[str, list[dict[str, Any]]] = {}
    for group, message in sends:
        by_group.setdefault(group, []).append(message)

    async def to_group(group: str, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            await layer.group_send(group, message)

    results = await asyncio.gather(*(to_group(g, m) for g, m in by_group.items()), return_exceptions=True)
    for group, result in zip(by_group, results, strict=True):
        if isinstance(result, BaseException):
            log.error("push to %s failed", group, exc_info=result)


def _main_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop of the ASGI server when this thread runs sync code for it (SyncToAsync)."""
    from asgiref.sync import SyncToAsync

    if getattr(SyncToAsync.threadlocal, "main_event_loop_pid", None) != os.getpid():
        return None
    loop: asyncio.AbstractEventLoop | None = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    return loop


# The event loop of the ASGI server this process runs (asgi.py notes it on every HTTP request).
_served: list[asyncio.AbstractEventLoop] = []


def serving(loop: asyncio.AbstractEventLoop) -> None:
    """Note `loop` as the ASGI server's: the requests' threads hand their pushes to it."""
    if not _served or _served[0] is not loop:
        _served[:] = [loop]


def _server_loop() -> asyncio.AbstractEventLoop | None:
    """The ASGI server's event loop while it runs, when this thread is not the loop's own."""
    loop = _served[0] if _served else None
    if loop is None or not loop.is_running() or loop.is_closed():
        return None
    try:
        if asyncio.get_running_loop() is loop:
            return None  # waiting on the loop from its own thread would never end
    except RuntimeError:
        pass  # no loop runs in this thread: a request's thread
    return loop


_loop_lock = threading.Lock()
_loop: list[asyncio.AbstractEventLoop] = []


def _push_loop() -> asyncio.AbstractEventLoop:
    """One event loop in a daemon thread for the process's pushes from sync code outside ASGI."""
    with _loop_lock:
        if not _loop:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="sportello-push", daemon=True).start()
            _loop.append(loop)
        return _loop[0]


# --- Listeners -------------------------------------------------------------------------------------


# Ticket fields whose change can take a ticket out of an agent's sight (tickets_visible_to).
ACCESS_FIELDS = frozenset({"group"})


def pushes_for(batch: list[events.Event]) -> list[tuple[str, dict[str, Any]]]:
    """The pushes a batch of events makes, built with a few queries whatever its size.

    A new entry: a chat line to its conversation first (the visitor and the agent are waiting for
    it), then "changed" notices to the ticket's pages, the inboxes and the queue. A created or
    updated ticket: "changed" to its pages (updates) and to the inboxes. One inbox notice per
    ticket per batch.
    """
    from sportello.chat.models import Conversation, ConversationState
    from sportello.chat.services import entry_payload
    from sportello.tickets.models import Channel, Entry

    entry_ids = [e.entry_id for e in batch if e.name == events.ENTRY_ADDED and e.entry_id is not None]
    entries = (
        Entry.objects.select_related("author_user", "author_customer", "ticket").in_bulk(entry_ids) if entry_ids else {}
    )
    numbers = {entry.ticket_id: entry.ticket.number for entry in entries.values()}
    ticket_ids = {e.ticket_id for e in batch if e.name in (events.TICKET_CREATED, events.TICKET_UPDATED)}
    if missing := ticket_ids - numbers.keys():
        numbers.update(Ticket.objects.filter(pk__in=missing).values_list("pk", "number"))
    actor_ids = {e.actor_id for e in batch if e.name == events.TICKET_UPDATED and e.actor_id}
    actors = User.objects.in_bulk(actor_ids) if actor_ids else {}
    # The open conversations of chat tickets with a new public line or a change of group.
    talking = {
        entry.ticket_id for entry in entries.values() if not entry.internal and entry.channel == Channel.CHAT
    } | {
        e.ticket_id
        for e in batch
        if e.name == events.TICKET_UPDATED and ACCESS_FIELDS.intersection(e.data.get("fields", []))
    }
    conversations: dict[int, list[tuple[int, str]]] = {}
    if talking:
        for pk, ticket_id, state in (
            Conversation.objects.filter(ticket_id__in=talking)
            .exclude(state=ConversationState.CLOSED)
            .values_list("pk", "ticket_id", "state")
        ):
            conversations.setdefault(ticket_id, []).append((pk, state))

    first: list[tuple[str, dict[str, Any]]] = []
    then: list[tuple[str, dict[str, Any]]] = []
    inbox: dict[int, dict[str, Any]] = {}
    for event in batch:
        if event.name == events.ENTRY_ADDED:
            entry = entries.get(event.entry_id) if event.entry_id is not None else None
            if entry is None:
                continue
            if not entry.internal and entry.channel == Channel.CHAT:
                for pk, state in conversations.get(event.ticket_id, [])[:1]:
                    first.append(
                        (
                            conversation_group(pk),
                            {"type": "chat.entry", "conversation": pk, "entry": entry_payload(entry)},
                        )
                    )
                    if state == ConversationState.WAITING:
                        then.append((QUEUE_GROUP, {"type": "queue.changed"}))
            by = entry.author_user.display_name if entry.author_user else (entry.author_name or "")
            then.append(
                (
                    ticket_group(event.ticket_id),
                    {
                        "type": "ticket.changed",
                        "what": "entry",
                        "internal": entry.internal,
                        "by": by,
                        "actor": event.actor_id,
                    },
                )
            )
        elif event.name == events.TICKET_UPDATED:
            fields = event.data.get("fields", [])
            if ACCESS_FIELDS.intersection(fields):
                # Consoles holding this ticket's chat check again, before any later line reaches them.
                for pk, _state in conversations.get(event.ticket_id, []):
                    then.append((conversation_group(pk), {"type": "chat.access", "conversation": pk}))
            actor = actors.get(event.actor_id) if event.actor_id else None
            then.append(
                (
                    ticket_group(event.ticket_id),
                    {
                        "type": "ticket.changed",
                        "what": "fields",
                        "fields": fields,
                        "by": actor.display_name if actor else "",
                        "actor": event.actor_id,
                    },
                )
            )
        elif event.name != events.TICKET_CREATED:
            continue
        inbox.setdefault(event.ticket_id, inbox_notice(event.ticket_id, numbers.get(event.ticket_id)))
    return first + then + [(INBOX_GROUP, notice) for notice in inbox.values()] + _registered_pushes(batch)


# Other apps' screen events (phone: a call ringing), by event name: a builder of the pushes for a
# batch of them. The publisher's listener and the relay (events other processes published) both
# come through `pushes_for`, so such an event reaches every web process's sockets without Redis too.
SCREEN_PUSHES: dict[str, Callable[[list[events.Event]], list[tuple[str, dict[str, Any]]]]] = {}


def _registered_pushes(batch: list[events.Event]) -> list[tuple[str, dict[str, Any]]]:
    sends: list[tuple[str, dict[str, Any]]] = []
    for name, build in SCREEN_PUSHES.items():
        if found := [event for event in batch if event.name == name]:
            sends += build(found)
    return sends


def push_events(batch: list[events.Event]) -> None:
    """The screens' listener, for a batch: one push for all its events (nothing when no socket
    of this process could hear it and the layer is in memory)."""
    layer = get_channel_layer()
    if layer is None or not listened(layer):
        return
    push_many(pushes_for(batch))


@events.batched(push_events)
def on_entry_added(event: events.Event) -> None:
    push_events([event])


@events.batched(push_events)
def on_ticket_changed(event: events.Event) -> None:
    push_events([event])


def inbox_notice(ticket_id: int, number: int | None) -> dict[str, Any]:
    """ "This ticket changed", with the number an inbox shows, so that the inbox of an agent who
    sees every ticket passes it on without a query (InboxConsumer). No number: the inboxes look."""
    notice: dict[str, Any] = {"type": "inbox.changed", "ticket": ticket_id}
    if number is not None:
        notice["number"] = number
    return notice


# --- Events from other processes, without Redis -----------------------------------------------------

# How often the relay looks for events other processes committed, and the most rows it takes a time.
RELAY_SECONDS = 0.1
RELAY_BATCH = 500


async def relay(stop: asyncio.Event | None = None) -> None:
    """Push to this process's sockets the events other processes published (the worker, the
    scheduler, the mail listener, `mail import`, other web workers): with the in-memory layer
    (no Redis) their own pushes reach nobody here. Run by the ASGI web process (asgi.py).

    Every RELAY_SECONDS, while some socket of this process is in a group, one query by primary
    key reads the outbox rows after the last one seen; event rows this process published were
    pushed at their commit and are skipped. Rows usually become visible in id order (SQLite has
    one writer at a time), but on PostgreSQL a transaction that took its id earlier may commit
    later: ids passed over are looked for again for HOLE_SECONDS (they may also be rollbacks).
    """
    from sportello.core.scheduler import holder_name

    layer = get_channel_layer()
    if not isinstance(layer, InMemoryChannelLayer):
        return
    me = holder_name()
    tail: _Tail | None = None
    while stop is None or not stop.is_set():
        await asyncio.sleep(RELAY_SECONDS)
        if not listened(layer):
            tail = None  # nobody hears: start from what is new when someone does
            continue
        try:
            if tail is None:
                tail = _Tail(await database_sync_to_async(_last_outbox_id)())
                continue
            sends = await database_sync_to_async(tail.read)(me)
            if sends:
                await send_in_order(layer, sends)
        except Exception:
            log.exception("the relay of events failed; trying again")
            await asyncio.sleep(1)


# How long an id passed over (not yet committed, or rolled back) is looked for again; the most tracked.
HOLE_SECONDS = 10.0
MAX_HOLES = 1000


class _Tail:
    """The relay's place in the outbox: the highest id read, and the ids below it not seen yet."""

    def __init__(self, cursor: int) -> None:
        self.cursor = cursor
        self.holes: dict[int, float] = {}

    def read(self, me: str) -> list[tuple[str, dict[str, Any]]]:
        import time

        from django.db.models import Q

        from sportello.core.models import OutboxMessage

        now = time.monotonic()
        self.holes = {pk: until for pk, until in self.holes.items() if until > now}
        rows = list(
            OutboxMessage.objects.filter(Q(pk__gt=self.cursor) | Q(pk__in=list(self.holes)))
            .order_by("pk")
            .values_list("pk", "kind", "payload")[:RELAY_BATCH]
        )
        if not rows:
            return []
        seen = {pk for pk, _kind, _payload in rows}
        for pk in seen:
            self.holes.pop(pk, None)
        top = max(seen)
        if top > self.cursor:
            passed_over = [pk for pk in range(self.cursor + 1, top) if pk not in seen]
            if len(self.holes) + len(passed_over) <= MAX_HOLES:
                self.holes.update(dict.fromkeys(passed_over, now + HOLE_SECONDS))
            self.cursor = top
        batch = [
            event
            for _pk, kind, payload in rows
            if kind == events.EVENT and not (isinstance(payload, dict) and payload.get("by") == me)
            for event in events.events_of(payload)
        ]
        return pushes_for(batch) if batch else []


def _last_outbox_id() -> int:
    from sportello.core.models import OutboxMessage

    return OutboxMessage.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def conversation_changed(conversation_id: int) -> None:
    """A chat was taken, transferred or closed: tell its sockets, the queue and the agent holding it."""
    from sportello.chat.models import Conversation

    conversation = Conversation.objects.select_related("agent").filter(pk=conversation_id).first()
    if conversation is None:
        return
    agent = conversation.agent
    push(
        conversation_group(conversation.pk),
        {
            "type": "chat.state",
            "conversation": conversation.pk,
            "state": conversation.state,
            "agent": (agent.first_name or agent.username) if agent else "",
        },
    )
    push(QUEUE_GROUP, {"type": "queue.changed"})
    if agent is not None:
        push(agent_group(agent.pk), {"type": "console.changed", "conversation": conversation.pk})


# --- Presence --------------------------------------------------------------------------------------------


def _screens_key(user_id: int) -> str:
    return f"sportello:agent-screens:{user_id}"


def _auto_offline_key(user_id: int) -> str:
    return f"sportello:agent-auto-offline:{user_id}"


async def screen_opened(user: User) -> None:
    key = _screens_key(user.pk)
    await cache.aadd(key, 0, timeout=24 * 3600)
    await cache.aincr(key)
    # Back after the browser was closed: the agent was made offline by us, not by choice.
    if await cache.aget(_auto_offline_key(user.pk)):
        await cache.adelete(_auto_offline_key(user.pk))
        await database_sync_to_async(_set_availability)(user.pk, Availability.ONLINE, only_from=Availability.OFFLINE)


async def screen_closed(user: User) -> None:
    key = _screens_key(user.pk)
    with contextlib.suppress(ValueError):  # the count expired meanwhile
        await cache.adecr(key)
    asyncio.get_running_loop().create_task(_offline_after_grace(user.pk))


async def _offline_after_grace(user_id: int) -> None:
    await asyncio.sleep(settings.AGENT_OFFLINE_GRACE_SECONDS)
    if (await cache.aget(_screens_key(user_id)) or 0) > 0:
        return
    if await database_sync_to_async(_set_availability)(user_id, Availability.OFFLINE, only_from=None):
        await cache.aset(_auto_offline_key(user_id), 1, timeout=7 * 24 * 3600)


def _set_availability(user_id: int, availability: str, *, only_from: str | None) -> bool:
    users = User.objects.filter(pk=user_id).exclude(availability=availability)
    if only_from is not None:
        users = users.filter(availability=only_from)
    return bool(users.update(availability=availability))


# --- Agents' sockets ---------------------------------------------------------------------------------------


class JsonSocket(AsyncJsonWebsocketConsumer):
    """A JSON socket of ours: answers the page's keep-alive pings, and takes a frame that is not
    JSON (or nests past the decoder's depth) as nothing rather than an error."""

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        import json

        try:
            return json.loads(text_data)
        except (ValueError, RecursionError):  # nested past the decoder's depth: as malformed
            return None


class AgentSocket(JsonSocket):
    """Agents only (session sign-in, our own origin); every open one counts as a screen for presence."""

    user: User
    admitted = False

    async def connect(self) -> None:
        user = self.scope.get("user")
        # Refusals are accepted, then closed with a code, so the page knows not to knock again.
        if user is None or not user.is_authenticated or not user.is_staff_member:
            await self.accept()
            await self.close(code=4403, reason="agents only")
            return
        self.user = user
        try:
            groups = await database_sync_to_async(self.admit)()
        except ServiceError:
            await self.accept()
            await self.close(code=4404, reason="not found")
            return
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        self.groups = groups
        self.admitted = True
        await screen_opened(user)
        await self.accept()
        await self.opened()

    def admit(self) -> list[str]:
        """The groups to join; raise a ServiceError (through a gate) to refuse."""
        return []

    async def opened(self) -> None:
        return None

    async def disconnect(self, code: int) -> None:
        if not self.admitted:
            return
        for group in self.groups:
            await self.channel_layer.group_discard(group, self.channel_name)
        await self.closing()
        await screen_closed(self.user)

    async def closing(self) -> None:
        return None

    async def revoke(self) -> None:
        """The agent may no longer see what this socket follows: leave its groups and close (4404),
        so nothing more reaches it and the page does not knock again."""
        for group in self.groups:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups = []
        await self.close(code=4404, reason="no longer visible")


class PresenceConsumer(AgentSocket):
    """The socket every agent page holds: presence only."""


class InboxConsumer(AgentSocket):
    def admit(self) -> list[str]:
        return [INBOX_GROUP]

    async def inbox_changed(self, event: dict[str, Any]) -> None:
        if self._sees_every_ticket() and event.get("number") is not None:
            number: int | None = event["number"]
        else:  # a restricted agent: does the ticket (still) belong to one of their groups?
            number = await database_sync_to_async(self._visible_number)(event["ticket"])
        if number is not None:  # only tickets this agent may see
            await self.send_json({"type": "changed", "ticket": number})

    def _sees_every_ticket(self) -> bool:
        # As tickets_visible_to decides for this socket's agent (from the same copy of the user):
        # no filter at all, so a query would only say that the ticket exists.
        return self.user.is_staff_member and (self.user.is_admin or not self.user.restricted_to_groups)

    def _visible_number(self, ticket_id: int) -> int | None:
        from sportello.tickets.access import tickets_visible_to

        return tickets_visible_to(self.user).filter(pk=ticket_id).values_list("number", flat=True).first()


class TicketConsumer(AgentSocket):
    """One ticket page: who else is viewing it and typing, and what changed meanwhile."""

    ticket_id: int

    def admit(self) -> list[str]:
        from sportello.tickets.access import ticket_for_agent

        self.ticket_id = ticket_for_agent(self.user, int(self.scope["url_route"]["kwargs"]["number"])).pk
        self.viewers: dict[str, dict[str, Any]] = {}
        return [ticket_group(self.ticket_id)]

    def _me(self) -> dict[str, Any]:
        return {"channel": self.channel_name, "user": self.user.pk, "name": self.user.display_name}

    async def opened(self) -> None:
        await self.channel_layer.group_send(ticket_group(self.ticket_id), {"type": "presence.join", **self._me()})

    async def closing(self) -> None:
        await self.channel_layer.group_send(ticket_group(self.ticket_id), {"type": "presence.leave", **self._me()})

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "typing":
            await self.channel_layer.group_send(
                ticket_group(self.ticket_id), {"type": "presence.typing", **self._me(), "form": "reply"}
            )
        elif kind == "ping":
            await self.send_json({"type": "pong"})
        else:
            await self.send_json({"type": "error", "reason": "unknown message"})

    async def _send_viewers(self) -> None:
        names = sorted({v["name"] for v in self.viewers.values() if v["user"] != self.user.pk})
        await self.send_json({"type": "viewers", "viewers": names})

    async def presence_join(self, event: dict[str, Any]) -> None:
        if event["channel"] == self.channel_name:
            return
        self.viewers[event["channel"]] = event
        await self.channel_layer.send(event["channel"], {"type": "presence.here", **self._me()})
        await self._send_viewers()

    async def presence_here(self, event: dict[str, Any]) -> None:
        self.viewers[event["channel"]] = event
        await self._send_viewers()

    async def presence_leave(self, event: dict[str, Any]) -> None:
        if self.viewers.pop(event["channel"], None) is not None:
            await self._send_viewers()

    async def presence_typing(self, event: dict[str, Any]) -> None:
        if event["user"] != self.user.pk:
            await self.send_json({"type": "typing", "name": event["name"]})

    async def ticket_changed(self, event: dict[str, Any]) -> None:
        # Admission was checked at connect; a ticket moved to a group this agent is not in, or an
        # agent restricted meanwhile, must stop hearing about it. One query per change per open page.
        if not await database_sync_to_async(self._still_visible)():
            await self.revoke()
            return
        await self.send_json({**event, "type": "changed", "mine": event.get("actor") == self.user.pk})

    def _still_visible(self) -> bool:
        from sportello.tickets.access import tickets_visible_to

        return tickets_visible_to(self.user).filter(pk=self.ticket_id).exists()
