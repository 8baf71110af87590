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
from typing import Any

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
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

    From a request's or a visitor's thread under uvicorn, `async_to_sync` hands the coroutine to the
    process's event loop and waits for it; elsewhere (commands, task workers, tests) it starts a
    thread and a loop, and the Redis layer a connection, for every call. So a listener sends all
    its messages in one call, concurrently; a failed send only logs (best effort: the data is
    committed, a reload shows it) and does not stop the others.
    """
    layer = get_channel_layer()
    if layer is None or not sends:
        return

    async def send_all() -> None:
        results = await asyncio.gather(
            *(layer.group_send(group, message) for group, message in sends), return_exceptions=True
        )
        for (group, _), result in zip(sends, results, strict=True):
            if isinstance(result, BaseException):
                log.error("push to %s failed", group, exc_info=result)

    try:
        async_to_sync(send_all)()
    except Exception:
        log.exception("pushes to %s failed", ", ".join(group for group, _ in sends))


# --- Listeners -------------------------------------------------------------------------------------


# Ticket fields whose change can take a ticket out of an agent's sight (tickets_visible_to).
ACCESS_FIELDS = frozenset({"group"})


def on_entry_added(event: events.Event) -> None:
    """A new entry: a chat line goes to its conversation first (the visitor and the agent are
    waiting for it), then "changed" notices to the ticket's pages, the inboxes and the queue."""
    from sportello.chat.models import Conversation, ConversationState
    from sportello.chat.services import entry_payload
    from sportello.tickets.models import Channel, Entry

    if event.entry_id is None:
        return
    entry = Entry.objects.select_related("author_user", "author_customer", "ticket").filter(pk=event.entry_id).first()
    if entry is None:
        return
    then: list[tuple[str, dict[str, Any]]] = []
    if not entry.internal and entry.channel == Channel.CHAT:  # only chat tickets have a conversation to feed
        conversation = (
            Conversation.objects.filter(ticket_id=event.ticket_id)
            .exclude(state=ConversationState.CLOSED)
            .values("pk", "state")
            .first()
        )
        if conversation is not None:
            push(
                conversation_group(conversation["pk"]),
                {"type": "chat.entry", "conversation": conversation["pk"], "entry": entry_payload(entry)},
            )
            if conversation["state"] == ConversationState.WAITING:
                then.append((QUEUE_GROUP, {"type": "queue.changed"}))
    by = entry.author_user.display_name if entry.author_user else (entry.author_name or "")
    then[:0] = [
        (
            ticket_group(event.ticket_id),
            {"type": "ticket.changed", "what": "entry", "internal": entry.internal, "by": by, "actor": event.actor_id},
        ),
        (INBOX_GROUP, inbox_notice(event.ticket_id, entry.ticket)),
    ]
    push_many(then)


def inbox_notice(ticket_id: int, ticket: Ticket | None) -> dict[str, Any]:
    """ "This ticket changed", with the number an inbox shows, so that the inbox of an agent who
    sees every ticket passes it on without a query (InboxConsumer). No ticket: the inboxes look."""
    notice: dict[str, Any] = {"type": "inbox.changed", "ticket": ticket_id}
    if ticket is not None:
        notice["number"] = ticket.number
    return notice


def on_ticket_changed(event: events.Event) -> None:
    from sportello.chat.models import Conversation, ConversationState

    ticket = Ticket.objects.filter(pk=event.ticket_id).only("pk", "number").first()
    sends: list[tuple[str, dict[str, Any]]] = []
    if event.name == events.TICKET_UPDATED:
        fields = event.data.get("fields", [])
        actor = User.objects.filter(pk=event.actor_id).first() if event.actor_id else None
        if ACCESS_FIELDS.intersection(fields):
            # Consoles holding this ticket's chat check again, before any later line reaches them.
            for conversation in (
                Conversation.objects.filter(ticket_id=event.ticket_id)
                .exclude(state=ConversationState.CLOSED)
                .values_list("pk", flat=True)
            ):
                sends.append((conversation_group(conversation), {"type": "chat.access", "conversation": conversation}))
        sends.append(
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
    sends.append((INBOX_GROUP, inbox_notice(event.ticket_id, ticket)))
    push_many(sends)


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


class AgentSocket(AsyncJsonWebsocketConsumer):
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
