"""The chat console in the REST API: what an agent does on the console page, without a socket.

The queue of waiting chats and the agent's own live chats; accept a waiting chat, answer it, close
it; read a chat's lines. The same services as the console's buttons, so the visitor's widget and
the other agents' consoles hear of each change in the same way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Path, Router, Schema, Status
from pydantic import Field

from sportello.accounts.auth import MAX_DB_INT, InputSchema, Text, caller, errors
from sportello.chat import services
from sportello.chat.models import Conversation
from sportello.tickets.access import require_agent
from sportello.tickets.api import AgentRef, CustomerRef
from sportello.tickets.models import Entry

router = Router(tags=["chat"])

ConversationId = Annotated[int, Path(ge=1, le=MAX_DB_INT, description="The chat's id")]


# --- Schemas --------------------------------------------------------------------------------------


class ChatConversationOut(Schema):
    id: int
    state: str = Field(description="waiting, active or closed")
    channel: str = Field(description="the chat channel's key")
    ticket: int = Field(description="the reference number of the chat's ticket")
    customer: CustomerRef
    agent: AgentRef | None
    group: int | None
    language: str
    created_at: datetime
    waiting_since: datetime
    accepted_at: datetime | None
    closed_at: datetime | None

    @staticmethod
    def resolve_channel(obj: Conversation) -> str:
        return obj.channel.key

    @staticmethod
    def resolve_ticket(obj: Conversation) -> int:
        return obj.ticket.number

    @staticmethod
    def resolve_group(obj: Conversation) -> int | None:
        return obj.group_id


class ChatFileOut(Schema):
    id: int
    name: str
    size: int


class ChatMessageOut(Schema):
    id: int
    sender: Literal["agent", "visitor"] = Field(description="who wrote the line")
    name: str = Field(description="the agent's first name, or the name the visitor gave")
    text: str
    created_at: datetime
    files: list[ChatFileOut]


class ChatMessageIn(InputSchema):
    text: Text = Field(description="the line the visitor reads")


def _message(payload: dict[str, Any]) -> dict[str, Any]:
    """A line as the visitor's widget gets it (services.entry_payload), under the API's names."""
    return {
        "id": payload["id"],
        "sender": payload["from"],
        "name": payload["name"],
        "text": payload["text"],
        "created_at": datetime.fromisoformat(payload["at"]),
        "files": payload["files"],
    }


def _conversation(request: HttpRequest, conversation_id: int) -> Conversation:
    agent = caller(request)
    require_agent(agent)
    return services.conversation_for_agent(agent, conversation_id)


# --- Operations -----------------------------------------------------------------------------------


@router.get("/chat/queue", response={200: list[ChatConversationOut], **errors()})
def list_chat_queue(request: HttpRequest) -> Any:
    """The waiting chats the caller may take, longest waiting first."""
    require_agent(caller(request))
    return services.queue_for(caller(request)).select_related("agent").prefetch_related("customer__identities")


@router.get("/chat/mine", response={200: list[ChatConversationOut], **errors()})
def list_my_chats(request: HttpRequest) -> Any:
    """The live chats the caller holds, oldest accepted first."""
    require_agent(caller(request))
    return services.chats_of(caller(request)).select_related("agent").prefetch_related("customer__identities")


@router.get("/chat/conversations/{conversation_id}", response={200: ChatConversationOut, **errors(404, 422)})
def get_chat(request: HttpRequest, conversation_id: ConversationId) -> Any:
    return _conversation(request, conversation_id)


@router.get("/chat/conversations/{conversation_id}/messages", response={200: list[ChatMessageOut], **errors(404, 422)})
def list_chat_messages(request: HttpRequest, conversation_id: ConversationId) -> Any:
    """The chat's lines as the visitor sees them, oldest first (internal notes are on the ticket)."""
    return [_message(line) for line in services.history(_conversation(request, conversation_id))]


@router.post(
    "/chat/conversations/{conversation_id}/accept", response={200: ChatConversationOut, **errors(404, 409, 422)}
)
def accept_chat(request: HttpRequest, conversation_id: ConversationId) -> Any:
    """Take a waiting chat: it becomes the caller's and its ticket is assigned to them. Another
    agent's accept that came first answers 409."""
    conversation = _conversation(request, conversation_id)
    services.accept_chat(conversation, caller(request))
    return services.conversation_for_agent(caller(request), conversation.pk)


@router.post("/chat/conversations/{conversation_id}/messages", response={201: ChatMessageOut, **errors(404, 422)})
def send_chat_message(request: HttpRequest, conversation_id: ConversationId, data: ChatMessageIn) -> Any:
    """Answer a chat the caller holds; the visitor sees the line at once."""
    conversation = _conversation(request, conversation_id)
    entry = services.send_agent_message(conversation, caller(request), data.text)
    entry = Entry.objects.select_related("author_user").prefetch_related("attachments").get(pk=entry.pk)
    return Status(201, _message(services.entry_payload(entry)))


@router.post("/chat/conversations/{conversation_id}/close", response={200: ChatConversationOut, **errors(404, 422)})
def close_chat(request: HttpRequest, conversation_id: ConversationId) -> Any:
    """End a chat (the caller's, or any as an admin); its ticket is solved."""
    conversation = _conversation(request, conversation_id)
    services.close_chat(conversation, caller(request))
    return services.conversation_for_agent(caller(request), conversation.pk)
