"""The chat sockets: the visitor's (from any website) and the agent console's.

A visitor's socket carries no session and may come from any origin, so it trusts nothing but
its signed token: it can join only the conversation that token's visitor owns, and every frame is
checked for size, shape and rate before anything else happens. A refused frame gets an `error`
with a reason and the connection stays up; a frame too large to read, or a flood that does not
stop, closes it with a code.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from channels.db import DatabaseSyncToAsync, database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from sportello.chat import services, sockets
from sportello.chat.live import QUEUE_GROUP, AgentSocket, agent_group, conversation_group
from sportello.chat.models import ChatChannel, Conversation, ConversationState
from sportello.core.errors import NotFound, ServiceError

# Visitors' database work runs on these few threads rather than on the one thread that
# `database_sync_to_async` shares among all consumers of a process, so visitors' lines are
# written in parallel. A fixed pool (not the event loop's default executor) bounds how many
# database connections chat takes per process, whatever the number of sockets.
VISITOR_THREADS = ThreadPoolExecutor(max_workers=settings.CHAT_DB_THREADS, thread_name_prefix="chat-db")


def in_thread(function: Any) -> Any:
    """`database_sync_to_async` on the visitors' threads (connections closed around each call)."""
    return DatabaseSyncToAsync(function, thread_sensitive=False, executor=VISITOR_THREADS)


CLOSE_TOO_LARGE = 1009  # RFC 6455: a message too big to process
CLOSE_UNKNOWN_CHANNEL = 4404
CLOSE_FLOODING = 4429


class RateLimit:
    """A token bucket per connection: `limit` frames per `window` seconds, refilled continuously."""

    def __init__(self, limit: int, window: float) -> None:
        self.capacity = float(limit)
        self.rate = limit / window
        self.tokens = float(limit)
        self.stamp = time.monotonic()
        self.refused = 0

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        self.refused += 1
        return False


def _brand() -> dict[str, str]:
    """The help desk's name and colour for the widget's header, once an admin saved a branding
    (core/branding.py: kept per process, so no query once read)."""
    from sportello.core import branding

    brand = branding.current()
    return {"name": brand.name, "color": brand.color} if brand.saved else {}


def client_ip(scope: dict[str, Any]) -> str:
    """The visitor's address as the ASGI server reports it.

    `sportello serve` runs uvicorn with `proxy_headers`, which puts the X-Forwarded-For address
    here only when the connection comes from a trusted proxy (`FORWARDED_ALLOW_IPS`, by default
    127.0.0.1), so a header sent by the visitor is never believed. No client (a Unix socket): "".
    """
    client = scope.get("client")
    return str(client[0]) if client else ""


class VisitorConsumer(AsyncWebsocketConsumer):
    channel: ChatChannel
    visitor: services.Visitor | None = None
    conversation_id: int | None = None
    counted_ip: str = ""  # set once this socket counts against its address (sockets.py)
    recounting: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        try:
            self.channel = await in_thread(services.channel_by_key)(self.scope["url_route"]["kwargs"]["key"])
        except NotFound:
            # Accepted, then closed with a code: a refused handshake would only tell the widget "1006".
            await self.accept()
            await self.close(code=CLOSE_UNKNOWN_CHANNEL, reason="unknown chat channel")
            return
        address = client_ip(self.scope) if settings.CHAT_MAX_CONNECTIONS_PER_IP > 0 else ""
        if address:
            period = await in_thread(sockets.admit)(address)
            if period is None:
                await self.accept()
                await self.close(code=CLOSE_FLOODING, reason="too many connections from your address")
                return
            self.counted_ip, self.periods = address, {period}
            self.recounting = asyncio.get_running_loop().create_task(self._recount())
        self.limit = RateLimit(settings.CHAT_RATE_LIMIT, settings.CHAT_RATE_WINDOW)
        await self.accept()

    async def _recount(self) -> None:
        """Count this socket again in each new period while it stays open (see sockets.py)."""
        while True:
            # A few seconds' spread, so the sockets of a process do not all write at the same instant.
            await asyncio.sleep(sockets.seconds_to_next_period(time.time()) + random.uniform(1, 10))
            period = sockets.period_of(time.time())
            self.periods = {p for p in self.periods if p >= period - 2} | {period}  # older keys expired
            await in_thread(sockets.recount)(self.counted_ip, period)

    async def disconnect(self, code: int) -> None:
        if self.conversation_id is not None:
            await self.channel_layer.group_discard(conversation_group(self.conversation_id), self.channel_name)
        if self.recounting is not None:
            self.recounting.cancel()
        if self.counted_ip:
            await in_thread(sockets.release)(self.counted_ip, self.periods)
            self.counted_ip = ""

    async def error(self, reason: str, **extra: Any) -> None:
        await self.send(text_data=json.dumps({"type": "error", "reason": reason, **extra}))

    async def reply(self, **message: Any) -> None:
        await self.send(text_data=json.dumps(message))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            await self.error("binary frames are not accepted")
            return
        if len(text_data.encode()) > settings.CHAT_MAX_FRAME_BYTES:
            await self.close(code=CLOSE_TOO_LARGE, reason="frame too large")
            return
        if not self.limit.allow():
            if self.limit.refused > settings.CHAT_RATE_LIMIT:  # it keeps going: let it go
                await self.close(code=CLOSE_FLOODING, reason="too many messages")
            else:
                await self.error("too many messages; slow down")
            return
        try:
            content = json.loads(text_data)
        except (ValueError, RecursionError):  # a frame of 8,000 "[" is within the size limit
            await self.error("malformed JSON")
            return
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            await self.error("a message needs a type")
            return
        handler = getattr(self, f"do_{content['type']}", None)
        if handler is None:
            await self.error("unknown message type")
            return
        if self.visitor is None and content["type"] != "hello":
            await self.error("say hello first")
            return
        try:
            await handler(content)
        except ServiceError as err:
            await self.error(err.message, field=err.details.get("field", ""))

    # --- Frames from the visitor ---

    async def do_hello(self, content: dict[str, Any]) -> None:
        data = await in_thread(self._hello)(content)
        if data.get("conversation"):
            await self._join(data["conversation"])
        await self.reply(type="welcome", **data)

    def _hello(self, content: dict[str, Any]) -> dict[str, Any]:
        previous = services.read_token(str(content.get("token") or ""), self.channel)
        self.visitor = previous or services.new_visitor(self.channel)
        if content.get("name") or content.get("email"):
            self.visitor = services.new_visitor(
                self.channel, name=content.get("name", ""), email=content.get("email", ""), previous=self.visitor
            )
        self.language = str(content.get("language") or "en")[:10]
        conversation = services.open_conversation(self.visitor)
        return {
            "token": services.issue_token(self.visitor),
            "online": services.agents_online(self.channel),
            "ask": self.channel.ask_identity,
            "greeting": self.channel.greeting,
            "name": self.visitor.name,
            "email": self.visitor.email,
            "conversation": conversation.pk if conversation else None,
            "state": conversation.state if conversation else None,
            "messages": services.history(conversation) if conversation else [],
            "agent_read": conversation.agent_read if conversation else 0,
            "brand": _brand(),
        }

    async def do_join(self, content: dict[str, Any]) -> None:
        assert self.visitor is not None
        conversation = await in_thread(services.conversation_for_visitor)(self.visitor, content.get("conversation"))
        await self._join(conversation.pk)
        messages = await in_thread(services.history)(conversation)
        await self.reply(type="joined", conversation=conversation.pk, state=conversation.state, messages=messages)

    async def _join(self, conversation_id: int) -> None:
        if self.conversation_id not in (None, conversation_id):
            await self.channel_layer.group_discard(conversation_group(self.conversation_id), self.channel_name)
        self.conversation_id = conversation_id
        await self.channel_layer.group_add(conversation_group(conversation_id), self.channel_name)

    async def do_message(self, content: dict[str, Any]) -> None:
        assert self.visitor is not None
        if self.channel.ask_identity == "required" and not (self.visitor.name and self.visitor.email):
            await self.error("name and email are required", field="email")
            return
        conversation, entry = await in_thread(services.post_visitor_message)(
            self.channel, self.visitor, content.get("text"), language=self.language
        )
        if conversation.pk != self.conversation_id:
            # A new conversation: its first line was pushed before this socket joined; send it here.
            await self._join(conversation.pk)
            await self.reply(type="joined", conversation=conversation.pk, state=conversation.state, messages=[])
            payload = await in_thread(services.entry_payload)(entry)
            await self.reply(type="message", conversation=conversation.pk, **payload)

    async def do_typing(self, content: dict[str, Any]) -> None:
        if self.conversation_id is not None:
            await self.channel_layer.group_send(
                conversation_group(self.conversation_id),
                {"type": "chat.typing", "conversation": self.conversation_id, "side": "visitor"},
            )

    async def do_read(self, content: dict[str, Any]) -> None:
        conversation = await self._own()
        upto = await in_thread(services.mark_read)(conversation, content.get("entry"), by_agent=False)
        await self.channel_layer.group_send(
            conversation_group(conversation.pk),
            {"type": "chat.read", "conversation": conversation.pk, "side": "visitor", "entry": upto},
        )

    async def do_leave_message(self, content: dict[str, Any]) -> None:
        def leave() -> tuple[str, int]:
            assert self.visitor is not None
            self.visitor = services.new_visitor(
                self.channel, name=content.get("name", ""), email=content.get("email", ""), previous=self.visitor
            )
            ticket = services.leave_offline_message(
                self.channel, self.visitor, content.get("text"), language=self.language
            )
            return services.issue_token(self.visitor), ticket.number

        token, number = await in_thread(leave)()
        await self.reply(type="left", ticket=number, token=token)

    async def do_close(self, content: dict[str, Any]) -> None:
        conversation = await self._own()
        await in_thread(services.close_chat)(conversation, None)

    async def do_transcript(self, content: dict[str, Any]) -> None:
        conversation = await self._own()
        address = await in_thread(services.request_transcript)(conversation, content.get("email"))
        await self.reply(type="transcript", email=address)

    async def do_ping(self, content: dict[str, Any]) -> None:
        await self.reply(type="pong")

    async def _own(self) -> Conversation:
        assert self.visitor is not None
        return await in_thread(services.conversation_for_visitor)(self.visitor, self.conversation_id)

    # --- Pushes from the conversation's group ---

    async def chat_entry(self, event: dict[str, Any]) -> None:
        await self.reply(type="message", conversation=event["conversation"], **event["entry"])

    async def chat_typing(self, event: dict[str, Any]) -> None:
        if event["side"] == "agent":
            await self.reply(type="typing", conversation=event["conversation"])

    async def chat_read(self, event: dict[str, Any]) -> None:
        if event["side"] == "agent":
            await self.reply(type="read", conversation=event["conversation"], entry=event["entry"])

    async def chat_state(self, event: dict[str, Any]) -> None:
        await self.reply(type="state", conversation=event["conversation"], state=event["state"], agent=event["agent"])

    async def chat_access(self, event: dict[str, Any]) -> None:
        return None  # for the agents' consoles: the visitor's own conversation is always theirs


# How long the console trusts its list of the chats it may follow. A ticket moving to another
# group tells the console at once (chat.access); this bounds what nothing announces, such as an
# agent taken out of a group. One query per console per period, not one per chat line.
HELD_RECHECK_SECONDS = 1.0


class ConsoleConsumer(AgentSocket):
    """The agent's chat console: the queue, and the live side of the chats they hold."""

    held: set[int]
    held_at = float("-inf")  # time.monotonic() of the last look at `held`

    def admit(self) -> list[str]:
        self._load_held()
        return [QUEUE_GROUP, agent_group(self.user.pk), *(conversation_group(pk) for pk in sorted(self.held))]

    def _load_held(self) -> None:
        self.held = set(services.chats_of(self.user).values_list("pk", flat=True))
        self.held_at = time.monotonic()

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            await self.send_json({"type": "error", "reason": "malformed JSON"})
            return
        kind = content.get("type")
        if kind == "ping":
            await self.send_json({"type": "pong"})
            return
        conversation = await database_sync_to_async(self._held)(content.get("conversation"))
        if conversation is None:
            await self.send_json({"type": "error", "reason": "not your chat"})
            return
        group = conversation_group(conversation.pk)
        if kind == "watch":
            await self.channel_layer.group_add(group, self.channel_name)
        elif kind == "typing":
            await self.channel_layer.group_send(
                group, {"type": "chat.typing", "conversation": conversation.pk, "side": "agent"}
            )
        elif kind == "read":
            try:
                upto = await database_sync_to_async(services.mark_read)(
                    conversation, content.get("entry"), by_agent=True
                )
            except ServiceError as err:
                await self.send_json({"type": "error", "reason": err.message})
                return
            await self.channel_layer.group_send(
                group, {"type": "chat.read", "conversation": conversation.pk, "side": "agent", "entry": upto}
            )
        else:
            await self.send_json({"type": "error", "reason": "unknown message type"})

    def _held(self, conversation_id: Any) -> Conversation | None:
        try:
            number = int(conversation_id)
        except (TypeError, ValueError):
            return None
        return services.chats_of(self.user).filter(pk=number).first()

    async def queue_changed(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "queue"})

    async def console_changed(self, event: dict[str, Any]) -> None:
        held = await database_sync_to_async(self._held)(event["conversation"])
        if held is not None:
            self.held.add(held.pk)
            await self.channel_layer.group_add(conversation_group(held.pk), self.channel_name)
        else:
            self.held.discard(event["conversation"])
        await self.send_json({"type": "console", "conversation": event["conversation"]})

    async def _still_held(self, conversation_id: int) -> bool:
        """Whether this agent still holds the chat and may see its ticket.

        A ticket moved to a group the agent is not in, or an agent restricted meanwhile, stops the
        pushes: the console leaves the conversation's group and refreshes without it. The list of
        chats held is read again when a change may have altered it (chat.access, chat.state) and
        at least every HELD_RECHECK_SECONDS; in between a chat line costs no query.
        """
        if time.monotonic() - self.held_at > HELD_RECHECK_SECONDS:
            await database_sync_to_async(self._load_held)()
        if conversation_id in self.held:
            return True
        await self.channel_layer.group_discard(conversation_group(conversation_id), self.channel_name)
        await self.send_json({"type": "console", "conversation": conversation_id})
        return False

    async def chat_access(self, event: dict[str, Any]) -> None:
        """The chat's ticket changed in a way that may hide it from this agent: look again now."""
        await database_sync_to_async(self._load_held)()
        await self._still_held(event["conversation"])

    async def chat_entry(self, event: dict[str, Any]) -> None:
        if await self._still_held(event["conversation"]):
            await self.send_json({"type": "message", "conversation": event["conversation"], **event["entry"]})

    async def chat_typing(self, event: dict[str, Any]) -> None:
        if event["side"] == "visitor" and await self._still_held(event["conversation"]):
            await self.send_json({"type": "typing", "conversation": event["conversation"]})

    async def chat_read(self, event: dict[str, Any]) -> None:
        if event["side"] == "visitor" and await self._still_held(event["conversation"]):
            await self.send_json({"type": "read", "conversation": event["conversation"], "entry": event["entry"]})

    async def chat_state(self, event: dict[str, Any]) -> None:
        self.held_at = float("-inf")  # taken, transferred or closed: the next push looks again
        if event["state"] == ConversationState.CLOSED or event["state"] == ConversationState.WAITING:
            # Closed, or back in a queue: this console no longer follows it.
            self.held.discard(event["conversation"])
            await self.channel_layer.group_discard(conversation_group(event["conversation"]), self.channel_name)
        await self.send_json({"type": "state", **{k: v for k, v in event.items() if k != "type"}})
