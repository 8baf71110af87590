"""Live chat use cases: visitors write, agents take chats from the queue, answer, transfer, close.

Every chat line is a thread entry of the conversation's ticket: a visitor's through `ingest` (the
one intake path), an agent's through `reply_to_ticket(..., deliver=False)` (the visitor reads it
live, nothing is mailed). Realtime delivery follows the entries' domain events (live.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from sportello.accounts.models import Availability, Group, Role, User
from sportello.chat.models import AskIdentity, ChatChannel, Conversation, ConversationState
from sportello.core.errors import Conflict, Forbidden, InvalidInput, NotFound, TooLarge
from sportello.customers.models import Identity, IdentityKind
from sportello.customers.services import Sender
from sportello.kb import search as kb_search
from sportello.kb.access import public_article
from sportello.kb.models import LANGUAGES as KB_LANGUAGES
from sportello.kb.models import Deflection, DeflectionSource
from sportello.kb.search import ArticleHit
from sportello.kb.services import record_deflection
from sportello.tickets import statuses
from sportello.tickets.access import require_full_agent, tickets_visible_to
from sportello.tickets.attachments import AttachmentIn, safe_filename
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import Attachment, Change, Direction, Entry, StatusCategory, Ticket
from sportello.tickets.services import TicketChanges, reply_to_ticket, update_ticket

SUGGESTIONS = 3  # articles the widget shows while the visitor types
TOKEN_SALT = "sportello.chat.visitor"
TOKEN_MAX_AGE = 90 * 24 * 3600  # seconds; a visitor coming back within three months continues
ANSWERING_ROLES = (Role.ADMIN, Role.AGENT)


# --- Visitor identity -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Visitor:
    """Who is on the other side of a chat socket, as their signed token says."""

    id: uuid.UUID
    channel_id: int
    name: str = ""
    email: str = ""

    @property
    def sender(self) -> Sender:
        # The chat handle ties every conversation of this browser to one customer file; an email
        # given too joins the file of the customer who writes from it.
        return Sender(name=self.name, email=self.email, social=f"chat:{self.id}")


def issue_token(visitor: Visitor) -> str:
    payload = {"v": str(visitor.id), "c": visitor.channel_id, "n": visitor.name, "e": visitor.email}
    return signing.dumps(payload, salt=TOKEN_SALT, compress=True)


def read_token(token: str, channel: ChatChannel) -> Visitor | None:
    """The visitor a token names, or None when it is forged, expired or for another channel."""
    if not isinstance(token, str) or not token or len(token) > 2000:
        return None
    try:
        data = signing.loads(token, salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE)
        visitor = Visitor(uuid.UUID(data["v"]), int(data["c"]), str(data.get("n", "")), str(data.get("e", "")))
    except (signing.BadSignature, KeyError, ValueError, TypeError):
        return None
    return visitor if visitor.channel_id == channel.pk else None


def new_visitor(channel: ChatChannel, *, name: str = "", email: str = "", previous: Visitor | None = None) -> Visitor:
    """A visitor identity with the name and email the channel asks for (kept from `previous`)."""
    name = " ".join(str(name or "").split())[:100] or (previous.name if previous else "")
    email = str(email or "").strip().lower()[:254] or (previous.email if previous else "")
    if email:
        try:
            validate_email(email)
        except ValidationError as err:
            raise InvalidInput("That email address does not look right", field="email") from err
    given = bool(name or email) and previous is not None
    if channel.ask_identity == AskIdentity.REQUIRED and given and not (name and email):
        raise InvalidInput("Name and email are required", field="email")
    if channel.ask_identity == AskIdentity.NOTHING:
        name, email = "", ""
    return Visitor(previous.id if previous else uuid.uuid4(), channel.pk, name, email)


# --- Channels and availability -----------------------------------------------------------------------


def channel_by_key(key: str) -> ChatChannel:
    channel = ChatChannel.objects.select_related("hours").filter(key=key, enabled=True).first()
    if channel is None:
        raise NotFound("No such chat channel")
    return channel


def answering_agents(group: Group | None) -> QuerySet[User]:
    agents = User.objects.filter(is_active=True, role__in=ANSWERING_ROLES)
    return agents.filter(support_groups=group) if group is not None else agents


def agents_online(channel: ChatChannel) -> bool:
    """Whether someone can answer now (within the channel's hours); else the widget takes a message."""
    if channel.hours is not None:
        from sportello.sla.business_time import is_business_time

        try:
            if not is_business_time(timezone.now(), channel.hours.spec()):
                return False
        except ValueError:  # a calendar without any open hours: never open
            return False
    return answering_agents(channel.group).filter(availability=Availability.ONLINE).exists()


def set_availability(user: User, availability: str) -> bool:
    """Set an agent's availability; True when it changed. Assignment and chat routing read it."""
    if availability not in Availability.values:
        raise InvalidInput(f"Unknown availability {availability!r}", field="availability")
    if not user.is_staff_member:
        raise Forbidden("Agents only")
    changed = User.objects.filter(pk=user.pk).exclude(availability=availability).update(availability=availability)
    user.availability = availability
    return bool(changed)


# --- The visitor's side ----------------------------------------------------------------------------


def _open_conversations(visitor: Visitor) -> QuerySet[Conversation]:
    return (
        Conversation.objects.filter(visitor=visitor.id, channel_id=visitor.channel_id)
        .exclude(state=ConversationState.CLOSED)
        .order_by("-pk")
    )


def open_conversation(visitor: Visitor) -> Conversation | None:
    return _open_conversations(visitor).select_related("ticket", "agent", "channel").first()


def conversation_for_visitor(visitor: Visitor, conversation_id: Any) -> Conversation:
    """The visitor's own conversation; any other id, existing or not, is the same NotFound."""
    try:
        number = int(conversation_id)
    except (TypeError, ValueError):
        number = 0
    found = (
        Conversation.objects.select_related("ticket", "agent", "channel")
        .filter(pk=number, visitor=visitor.id, channel_id=visitor.channel_id)
        .first()
    )
    if found is None:
        raise NotFound("Unknown conversation")
    return found


def _check_text(text: Any) -> str:
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("The message is empty", field="text")
    if len(text) > settings.CHAT_MAX_MESSAGE_CHARS:
        raise InvalidInput(f"A message can have at most {settings.CHAT_MAX_MESSAGE_CHARS} characters", field="text")
    return text.strip()


def post_visitor_message(
    channel: ChatChannel, visitor: Visitor, text: Any, *, language: str = "en"
) -> tuple[Conversation, Entry]:
    """A visitor's chat line; the first one opens the conversation (and its ticket) in the queue."""
    body = _check_text(text)
    with transaction.atomic():
        # Every line of a chat comes this way: the conversation alone, no joins (intake reads the
        # ticket afresh under its lock, so the ticket's id is all it needs).
        conversation = _open_conversations(visitor).first()
        inbound = Inbound(
            channel="chat",
            sender=visitor.sender,
            body_text=body,
            ticket=Ticket(pk=conversation.ticket_id) if conversation else None,
            metadata=_line_metadata(channel.key, visitor),
            language=language if language in dict(settings.LANGUAGES) else "en",
            group=channel.group,
            acknowledge=False,  # the visitor is looking at the conversation
        )
        result = ingest(inbound)
        if conversation is None:
            conversation = Conversation.objects.create(
                channel=channel,
                ticket=result.ticket,
                customer=result.ticket.customer,
                visitor=visitor.id,
                group=channel.group,
                language=inbound.language,
            )
        elif result.ticket.pk != conversation.ticket_id:  # the old ticket was closed: a follow-up
            conversation.ticket = result.ticket
            conversation.save(update_fields=["ticket"])
    return conversation, result.entry


def _line_metadata(channel_key: str, visitor: Visitor) -> dict[str, Any]:
    """What a visitor's line keeps of its chat: the channel, and the name the visitor gave, which
    their lines carry back to them and the console (not the customer file's name: a visitor who
    typed someone else's address must not learn her name from the echo)."""
    metadata: dict[str, Any] = {"chat_channel": channel_key}
    if visitor.name:
        metadata["visitor_name"] = visitor.name
    return metadata


def post_visitor_file(visitor: Visitor, upload: AttachmentIn) -> tuple[Conversation, Entry]:
    """A file the visitor sends into their open conversation (an entry with the attachment).

    Uploads go over HTTP, not the socket; the signed token is the visitor's only credential, and a
    visitor without an open conversation has nowhere to send a file. Limited per visitor.
    """
    conversation = open_conversation(visitor)
    if conversation is None:
        raise NotFound("Unknown conversation")
    _check_file(upload)
    key = f"sportello:chat-uploads:{visitor.id}"
    cache.add(key, 0, timeout=settings.CHAT_UPLOAD_WINDOW)
    if cache.incr(key) > settings.CHAT_UPLOAD_LIMIT:
        raise InvalidInput("Too many files; wait a few minutes")
    result = ingest(
        Inbound(
            channel="chat",
            sender=visitor.sender,
            body_text=f"📎 {safe_filename(upload.filename)}",
            attachments=[upload],
            ticket=conversation.ticket,
            metadata=_line_metadata(conversation.channel.key, visitor),
            acknowledge=False,
        )
    )
    return conversation, result.entry


def _check_file(upload: AttachmentIn) -> None:
    limit = settings.CHAT_MAX_FILE_BYTES
    if upload.size > limit:
        most = f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"
        raise TooLarge(
            f"{safe_filename(upload.filename)} is too large: a file in a chat can have at most {most}",
            limit_bytes=limit,
        )


def attachment_for_visitor(visitor: Visitor, attachment_id: Any) -> Attachment:
    """A file on a public entry of one of this visitor's conversations; any other is the same NotFound."""
    try:
        number = int(attachment_id)
    except (TypeError, ValueError):
        number = 0
    found = (
        Attachment.objects.filter(
            pk=number,
            entry__internal=False,
            entry__ticket__chat_conversations__visitor=visitor.id,
            entry__ticket__chat_conversations__channel_id=visitor.channel_id,
        )
        .select_related("entry")
        .first()
    )
    if found is None:
        raise NotFound("Unknown file")
    return found


def suggest_articles(query: Any, language: Any) -> list[ArticleHit]:
    """Public articles that may answer what the visitor is typing: the web form's suggestions
    (kb.search.suggest_articles, at least three characters typed), three at most."""
    text = str(query or "").strip()[:200]
    if len(text) < 3:
        return []
    return kb_search.suggest_articles(text, _kb_language(language), limit=SUGGESTIONS)


def record_chat_deflection(
    visitor: Visitor, article_id: Any, *, query: Any = "", language: Any = "", method: Any = ""
) -> Deflection:
    """The visitor says a suggested article solved their problem (once per article and visitor);
    `method` is how the suggestion was found (the widget hands back the suggestion's)."""
    try:
        number = int(article_id)
    except (TypeError, ValueError) as err:
        raise NotFound("No such article") from err
    return record_deflection(
        public_article(number),
        session_key=f"chat:{visitor.id}",
        source=DeflectionSource.CHAT,
        query=str(query or "")[:255],
        language=_kb_language(language),
        method=method if isinstance(method, str) else "?",
    )


def _kb_language(language: Any) -> str:
    return language if isinstance(language, str) and language in KB_LANGUAGES else settings.LANGUAGE_CODE


def leave_offline_message(channel: ChatChannel, visitor: Visitor, text: Any, *, language: str = "en") -> Ticket:
    """Nobody is online: the message becomes a ticket from the same customer, answered by mail."""
    body = _check_text(text)
    if not visitor.email:
        raise InvalidInput("We need an email address to answer you", field="email")
    result = ingest(
        Inbound(
            channel="chat",
            sender=visitor.sender,
            body_text=body,
            metadata={**_line_metadata(channel.key, visitor), "offline": True},
            language=language if language in dict(settings.LANGUAGES) else "en",
            group=channel.group,
        )
    )
    return result.ticket


def mark_read(conversation: Conversation, entry_id: Any, *, by_agent: bool) -> int:
    """Move a side's read mark forward (never back); returns the mark."""
    try:
        upto = int(entry_id)
    except (TypeError, ValueError) as err:
        raise InvalidInput("A read receipt needs an entry id", field="entry") from err
    field = "agent_read" if by_agent else "visitor_read"
    Conversation.objects.filter(pk=conversation.pk, **{f"{field}__lt": upto}).update(**{field: upto})
    return upto


def history(conversation: Conversation) -> list[dict[str, Any]]:
    """The conversation's public lines, as the visitor sees them (never internal notes)."""
    entries = (
        conversation.ticket.entries.filter(internal=False)
        .select_related("author_user")
        .prefetch_related("attachments")
        .order_by("pk")
    )
    return [entry_payload(entry) for entry in entries]


def entry_payload(entry: Entry) -> dict[str, Any]:
    """One public entry for the visitor: the agent's first name only, never their account details;
    a visitor's line carries the name the visitor gave when writing it."""
    from_agent = entry.direction == Direction.OUTBOUND
    if from_agent:
        name = (entry.author_user.first_name or entry.author_user.username) if entry.author_user else ""
    else:
        given = (entry.metadata or {}).get("visitor_name", "")
        name = given if isinstance(given, str) else ""
    return {
        "id": entry.pk,
        "from": "agent" if from_agent else "visitor",
        "name": name,
        "text": entry.body_text,
        "at": entry.created_at.isoformat(),
        # The visitor downloads them with their token (attachment_for_visitor); agents through the ticket.
        "files": [{"id": item.pk, "name": item.filename, "size": item.size} for item in entry.attachments.all()],
    }


def request_transcript(conversation: Conversation, email: Any) -> str:
    """Mail a closed conversation's transcript, once, to the address the visitor gives."""
    address = str(email or "").strip().lower()
    try:
        validate_email(address)
    except ValidationError as err:
        raise InvalidInput("That email address does not look right", field="email") from err
    if conversation.state != ConversationState.CLOSED:
        raise InvalidInput("The transcript is sent once the chat is closed")
    from sportello.mail.outbound import send_chat_transcript

    # The claim and the outbox row in one transaction: a crash in between neither loses the
    # transcript nor leaves it marked sent (core/outbox.py delivers the row at least once).
    with transaction.atomic():
        claimed = Conversation.objects.filter(pk=conversation.pk, transcript_sent_at__isnull=True).update(
            transcript_sent_at=timezone.now()
        )
        if not claimed:
            raise Conflict("The transcript was sent already")
        send_chat_transcript(conversation.ticket, to=address)
    return address


# --- The agent's side ----------------------------------------------------------------------------------


# A chat handle made with its customer file is the visitor's own; one that joined a file older
# than this (by an address the visitor typed) is a claim. Both are written in one transaction.
JOINED_LATER = timedelta(seconds=1)


def unproven_visitors(conversations: list[Conversation]) -> set[int]:
    """The conversations whose visitor joined a customer file that existed before them, by typing
    one of its addresses: agents see them marked, since anyone can type anyone's address (one query)."""
    handles = {f"chat:{conversation.visitor}": conversation.pk for conversation in conversations}
    joined = Identity.objects.filter(kind=IdentityKind.SOCIAL, value__in=list(handles), verified=False).values_list(
        "value", "created_at", "customer__created_at"
    )
    return {handles[value] for value, since, file_since in joined if since - file_since > JOINED_LATER}


def queue_for(agent: User) -> QuerySet[Conversation]:
    """Waiting chats this agent may take, oldest first."""
    waiting = Conversation.objects.filter(state=ConversationState.WAITING, ticket__in=tickets_visible_to(agent))
    if not agent.is_admin:
        waiting = waiting.filter(Q(group__isnull=True) | Q(group__members=agent))
    return waiting.select_related("ticket", "customer", "channel").order_by("waiting_since", "pk")


def chats_of(agent: User) -> QuerySet[Conversation]:
    """The live chats an agent holds, among the tickets they may (still) see."""
    return (
        Conversation.objects.filter(state=ConversationState.ACTIVE, agent=agent, ticket__in=tickets_visible_to(agent))
        .select_related("ticket", "customer", "channel")
        .order_by("accepted_at", "pk")
    )


def conversation_for_agent(agent: User, conversation_id: int) -> Conversation:
    """A conversation whose ticket the agent may see; otherwise NotFound."""
    found = (
        Conversation.objects.select_related("ticket", "agent", "channel", "customer")
        .filter(pk=conversation_id, ticket__in=tickets_visible_to(agent))
        .first()
    )
    if found is None:
        raise NotFound(f"No chat {conversation_id}")
    return found


def accept_chat(conversation: Conversation, agent: User) -> Conversation:
    """Take a waiting chat. Two agents clicking at once: the conditional UPDATE lets one win.

    The limit is checked before the claim, so two accepts by the same agent at the same instant
    could exceed it by one; that is harmless, while a lock per agent would serialise every accept.
    """
    require_full_agent(agent)
    if not tickets_visible_to(agent).filter(pk=conversation.ticket_id).exists():
        raise Forbidden("This chat's ticket is not yours to see")
    group_id = conversation.group_id
    if group_id is not None and not agent.is_admin and not agent.support_groups.filter(pk=group_id).exists():
        raise Forbidden("This chat is for another group")
    if chats_of(agent).count() >= conversation.channel.max_chats_per_agent:
        raise InvalidInput(f"You have {conversation.channel.max_chats_per_agent} chats open already; close one first")
    now = timezone.now()
    with transaction.atomic():
        taken = Conversation.objects.filter(pk=conversation.pk, state=ConversationState.WAITING).update(
            state=ConversationState.ACTIVE, agent=agent, accepted_at=now
        )
        if not taken:
            raise Conflict("Another agent took this chat", changes=[])
        update_ticket(conversation.ticket, agent, TicketChanges(assignee=agent))
    conversation.refresh_from_db()
    _push_state(conversation)
    return conversation


def send_agent_message(conversation: Conversation, agent: User, text: Any) -> Entry:
    body = _check_text(text)
    if conversation.state != ConversationState.ACTIVE or conversation.agent_id != agent.pk:
        raise Forbidden("Accept this chat before answering it")
    return reply_to_ticket(conversation.ticket, agent, body_text=body, deliver=False)


def send_agent_file(conversation: Conversation, agent: User, upload: AttachmentIn) -> Entry:
    """A file the agent sends into a chat they hold: a reply with the attachment, read live."""
    if conversation.state != ConversationState.ACTIVE or conversation.agent_id != agent.pk:
        raise Forbidden("Accept this chat before sending files into it")
    _check_file(upload)
    return reply_to_ticket(
        conversation.ticket,
        agent,
        body_text=f"📎 {safe_filename(upload.filename)}",
        attachments=[upload],
        deliver=False,
    )


def transfer_chat(
    conversation: Conversation, actor: User, *, to_agent: User | None = None, to_group: Group | None = None
) -> Conversation:
    """Hand a chat to another agent (it stays live) or back to a group's queue."""
    require_full_agent(actor)
    if conversation.state != ConversationState.ACTIVE or (conversation.agent_id != actor.pk and not actor.is_admin):
        raise Forbidden("Only the agent holding this chat can transfer it")
    if (to_agent is None) == (to_group is None):
        raise InvalidInput("Transfer to one agent or one group")
    with transaction.atomic():
        if to_agent is not None:
            if not to_agent.can_reply or to_agent.role not in ANSWERING_ROLES:
                raise InvalidInput("Chats can be transferred to agents only", field="agent")
            if not tickets_visible_to(to_agent).filter(pk=conversation.ticket_id).exists():
                raise InvalidInput(f"{to_agent.display_name} cannot see this ticket", field="agent")
            Conversation.objects.filter(pk=conversation.pk).update(agent=to_agent)
            update_ticket(conversation.ticket, actor, TicketChanges(assignee=to_agent))
        else:
            assert to_group is not None
            Conversation.objects.filter(pk=conversation.pk).update(
                state=ConversationState.WAITING, agent=None, group=to_group, waiting_since=timezone.now()
            )
            update_ticket(conversation.ticket, actor, TicketChanges(group=to_group, clear_assignee=True))
    conversation.refresh_from_db()
    _push_state(conversation)
    return conversation


def close_chat(conversation: Conversation, actor: User | None) -> Conversation:
    """End the conversation (agent or visitor); an agent's close also solves the ticket."""
    now = timezone.now()
    with transaction.atomic():
        closed = (
            Conversation.objects.filter(pk=conversation.pk)
            .exclude(state=ConversationState.CLOSED)
            .update(state=ConversationState.CLOSED, closed_at=now)
        )
        if closed and actor is not None:
            require_full_agent(actor)
            if conversation.agent_id not in (None, actor.pk) and not actor.is_admin:
                raise Forbidden("Only the agent holding this chat can close it")
            update_ticket(conversation.ticket, actor, TicketChanges(status=statuses.builtin(StatusCategory.SOLVED)))
        elif closed:
            Change.objects.create(
                ticket=conversation.ticket,
                field="chat",
                new_value="closed",
                note="The visitor left the chat",
                ticket_version=conversation.ticket.version,
                created_at=now,
            )
    conversation.refresh_from_db()
    if closed:
        _push_state(conversation)
    return conversation


def _push_state(conversation: Conversation) -> None:
    from sportello.chat import live

    transaction.on_commit(lambda: live.conversation_changed(conversation.pk))
