"""Websocket routes: visitors' chat sockets open to any origin; agents' behind session and origin checks."""

from __future__ import annotations

from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from sportello.chat.consumers import ConsoleConsumer, VisitorConsumer
from sportello.chat.live import InboxConsumer, PresenceConsumer, TicketConsumer
from sportello.notifications.live import NotificationConsumer
from sportello.phone.live import PhoneConsumer


def for_agents(consumer: Any) -> Any:
    """The session's user in the scope, and only from our own hosts (no cross-site websocket hijacking)."""
    return AllowedHostsOriginValidator(AuthMiddlewareStack(consumer.as_asgi()))


websocket_application = URLRouter(
    [
        path("ws/chat/<slug:key>/", VisitorConsumer.as_asgi()),
        path("ws/agent/presence/", for_agents(PresenceConsumer)),
        path("ws/agent/inbox/", for_agents(InboxConsumer)),
        path("ws/agent/console/", for_agents(ConsoleConsumer)),
        path("ws/agent/tickets/<int:number>/", for_agents(TicketConsumer)),
        path("ws/agent/notifications/", for_agents(NotificationConsumer)),
        path("ws/agent/phone/", for_agents(PhoneConsumer)),
    ]
)
