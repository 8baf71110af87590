"""The ASGI application: HTTP goes to Django, websockets to the Channels consumers.

Visitors' chat sockets come from any website that embeds the widget, so they are not bound to our
hosts' origins and carry no session: a visitor proves who they are with a signed token. Agents'
sockets use the session cookie, so they only accept an Origin of our own hosts (no cross-site
websocket hijacking).

HTTP goes to Django's WSGI handler, run in a pool of threads (a2wsgi's WSGIMiddleware), not to its
ASGI handler. Every view and middleware here is synchronous: Django's ASGI handler ran such a
request through three hops between the event loop and threads (the middleware chain, back to the
loop for the view's resolution, the view), started a thread for every request and sent its signals
through the loop once more: ~2 ms of CPU a request on this machine kind, more than the rest of a
one-INSERT request. Under a2wsgi a request is one hand-over to a thread that runs all of it (the
request signals, the middleware, the view, closing the response), as gunicorn runs it; only the
body and the answer cross back to the loop. SPORTELLO_WEB_THREADS threads serve HTTP at once.

At start-up (ASGI lifespan) the process starts the relay of events published by other processes
(chat/live.py, `relay`) when its channel layer is in memory (no Redis): so the screens open on
`make run` hear what the worker, the scheduler, the mail listener and `mail import` did.
"""

import asyncio
import contextlib
import os
from typing import Any

from a2wsgi import WSGIMiddleware
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sportello.settings")
django_application = get_wsgi_application()  # sets Django up before the consumers are imported

from channels.routing import ProtocolTypeRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from sportello.chat import live  # noqa: E402
from sportello.chat.routing import websocket_application  # noqa: E402


class Http:
    """Django's HTTP handling in `threads` threads. Each call notes the server's event loop
    (chat/live.py `serving`): pushes from a request's thread are handed to it."""

    def __init__(self, threads: int) -> None:
        self.wsgi = WSGIMiddleware(django_application, workers=threads)  # type: ignore[arg-type]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        live.serving(asyncio.get_running_loop())
        await self.wsgi(scope, receive, send)  # type: ignore[arg-type]


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


application = ProtocolTypeRouter(
    {"http": Http(settings.WEB_THREADS), "websocket": websocket_application, "lifespan": lifespan}
)
