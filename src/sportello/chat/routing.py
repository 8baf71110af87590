"""Websocket routes: visitors' chat sockets open to any origin; agents' behind session and origin checks."""

from __future__ import annotations

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from sportello.chat.consumers import ConsoleConsumer, VisitorConsumer
from sportello.chat.live import InboxConsumer, PresenceConsumer, TicketConsumer

agent_routes = [
    path("presence/", PresenceConsumer.as_asgi()),
    path("inbox/", InboxConsumer.as_asgi()),
    path("console/", ConsoleConsumer.as_asgi()),
    path("tickets/<int:number>/", TicketConsumer.as_asgi()),
]

websocket_application = URLRouter(
    [
        path("ws/chat/<slug:key>/", VisitorConsumer.as_asgi()),
        path("ws/agent/", AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(agent_routes)))),
    ]
)
