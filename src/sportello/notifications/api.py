"""Notifications in the REST API: the caller's own, read and marked read; their choices; who can be
mentioned. An agent reaches only their own notifications (another's is not found); customers none.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from ninja import Path, Query, Router, Schema
from pydantic import Field

from sportello.accounts.auth import MAX_DB_INT, Id, InputSchema, caller, errors, text
from sportello.accounts.models import User
from sportello.core.jsonbody import Flag
from sportello.notifications import services
from sportello.notifications.models import Kind, Notification

router = Router(tags=["notifications"])

NotificationId = Annotated[int, Path(ge=1, le=MAX_DB_INT, description="The notification's id")]
KindValue = Literal[tuple(Kind.values)]  # type: ignore[valid-type]


class ActorOut(Schema):
    id: int
    name: str


class NotificationOut(Schema):
    id: int
    kind: KindValue = Field(description="mentioned, assigned, customer_replied, sla_warning or sla_breached")
    ticket: int = Field(description="The ticket's reference number")
    headline: str = Field(description="What happened, in the caller's language")
    text: str = Field(description="An excerpt: the note that mentions, the customer's message")
    actor: ActorOut | None = Field(description="Who caused it (none for a customer or the SLA clock)")
    entry: int | None = Field(description="The thread entry's id, when there is one")
    url: str = Field(description="The ticket's page")
    read_at: datetime | None
    created_at: datetime

    @staticmethod
    def resolve_ticket(obj: Notification) -> int:
        return obj.ticket.number

    @staticmethod
    def resolve_actor(obj: Notification) -> dict[str, Any] | None:
        return {"id": obj.actor.pk, "name": obj.actor.display_name} if obj.actor else None

    @staticmethod
    def resolve_entry(obj: Notification) -> int | None:
        return obj.entry_id

    @staticmethod
    def resolve_url(obj: Notification) -> str:
        return settings.SITE_URL + reverse("ticket", args=[obj.ticket.number])


class NotificationPage(Schema):
    items: list[NotificationOut]
    unread: int = Field(description="How many of the caller's notifications are unread")
    next_before: int | None = Field(description="Pass as `before` for the next (older) page; none at the end")


class NotificationQuery(Schema):
    unread: Flag = Field(False, description="Only unread ones")
    before: Id | None = Field(None, description="Only ids below this (the previous page's next_before)")
    size: int = Field(services.PAGE_SIZE, ge=1, le=services.MAX_PAGE_SIZE)


class MarkedOut(Schema):
    marked: int = Field(description="How many were unread and are now read")


class PreferenceOut(Schema):
    kind: KindValue
    label: str
    in_app: bool = Field(description="Shown under the bell")
    by_mail: bool = Field(description="Mailed while the agent is away or offline")


class PreferenceIn(InputSchema):
    kind: KindValue
    in_app: Flag
    by_mail: Flag


class PreferencesIn(InputSchema):
    preferences: list[PreferenceIn] = Field(max_length=len(Kind.values) * 2)


class MentionAgentOut(Schema):
    id: int
    username: str = Field(description="What to write after @ in a note")
    name: str

    @staticmethod
    def resolve_name(obj: User) -> str:
        return obj.display_name


class MentionQuery(Schema):
    prefix: text(150) = Field("", description="The start of a username, first or last name")  # type: ignore[valid-type]
    limit: int = Field(8, ge=1, le=20)


@router.get("/notifications", response={200: NotificationPage, **errors(422)})
def list_notifications(request: HttpRequest, filters: Query[NotificationQuery]) -> Any:
    """The caller's notifications, newest first, a page at a time."""
    agent = caller(request)
    items = services.notifications_of(agent, unread=filters.unread, before=filters.before, size=filters.size)
    return {
        "items": items,
        "unread": services.unread_count(agent),
        "next_before": items[-1].pk if len(items) == filters.size else None,
    }


@router.post("/notifications/read", response={200: MarkedOut, **errors()})
def mark_all_notifications_read(request: HttpRequest) -> Any:
    """Mark every unread notification of the caller read."""
    return {"marked": services.mark_all_read(caller(request))}


@router.post("/notifications/{notification_id}/read", response={200: NotificationOut, **errors(404, 422)})
def mark_notification_read(request: HttpRequest, notification_id: NotificationId) -> Any:
    """Mark one of the caller's notifications read (another agent's is not found)."""
    agent = caller(request)
    return services.mark_read(agent, services.notification_for(agent, notification_id))


@router.get("/notifications/preferences", response={200: list[PreferenceOut], **errors()})
def get_notification_preferences(request: HttpRequest) -> Any:
    """Per kind: shown in the app, and mailed while away or offline."""
    return services.preferences_of(caller(request))


@router.put("/notifications/preferences", response={200: list[PreferenceOut], **errors(413, 422)})
def set_notification_preferences(request: HttpRequest, data: PreferencesIn) -> Any:
    """Change the caller's choices for the kinds given; the others stay."""
    choices = {item.kind: (item.in_app, item.by_mail) for item in data.preferences}
    return services.set_preferences(caller(request), choices)


@router.get("/mentions/agents", response={200: list[MentionAgentOut], **errors(422)})
def mentionable_agents(request: HttpRequest, filters: Query[MentionQuery]) -> Any:
    """Agents who can be mentioned in a note (`@username`), matching a prefix (the autocomplete)."""
    return services.mentionable_agents(caller(request), filters.prefix, limit=filters.limit)
