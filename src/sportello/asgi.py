"""The ASGI application: HTTP goes to Django, websockets to the Channels consumers.

Visitors' chat sockets come from any website that embeds the widget, so they are not bound to our
hosts' origins and carry no session: a visitor proves who they are with a signed token. Agents'
sockets use the session cookie, so they only accept an Origin of our own hosts (no cross-site
websocket hijacking).

At start-up (ASGI lifespan) the process starts the relay of events published by other processes
(chat/live.py, `relay`) when its channel layer is in memory (no Redis): so the screens open on
`make run` hear what the worker, the scheduler, the mail listener and `mail import` did.
"""

import asyncio
import contextlib
import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sportello.settings")
django_application = get_asgi_application()  # sets Django up before the consumers are imported

from channels.routing import ProtocolTypeRouter  # noqa: E402

from sportello.chat import live  # noqa: E402
from sportello.chat.routing import websocket_application  # noqa: E402


async def lifespan(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Start the relay with the server and stop it with the server."""
    stop = asyncio.Event()
    relay: asyncio.Task[None] | None = None
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            relay = asyncio.get_running_loop().create_task(live.relay(stop))
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            stop.set()
            if relay is not None:
                relay.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await relay
            await send({"type": "lifespan.shutdown.complete"})
            return


application = ProtocolTypeRouter({"http": django_application, "websocket": websocket_application, "lifespan": lifespan})
