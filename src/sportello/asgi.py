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
from sportello.core.settle import settle  # noqa: E402

# A file answer's bytes go to the client in blocks of this size: each block crosses from the
# request's thread to the event loop (Django's FileResponse reads 4 KiB at a time).
FILE_BLOCK = 256 * 1024


class _FileBlocks:
    """PEP 3333's `wsgi.file_wrapper`, which a2wsgi does not offer: Django's handler hands a
    FileResponse's file to it (with the response's `close` as the file's) instead of iterating
    the response 4 KiB at a time. A 20 MB attachment took 5,120 hand-overs to the loop and
    ~470 ms of the server's CPU."""

    def __init__(self, filelike: Any, block_size: int = FILE_BLOCK) -> None:
        self.filelike = filelike

    def __iter__(self) -> Any:
        return iter(lambda: self.filelike.read(FILE_BLOCK), b"")

    def close(self) -> None:
        self.filelike.close()  # the response's close: request_finished, the connection given back


def _with_file_wrapper(application: Any) -> Any:
    def with_wrapper(environ: dict[str, Any], start_response: Any) -> Any:
        environ["wsgi.file_wrapper"] = _FileBlocks
        return application(environ, start_response)

    return with_wrapper


class Http:
    """Django's HTTP handling in `threads` threads. Each call notes the server's event loop
    (chat/live.py `serving`): pushes from a request's thread are handed to it.

    A body sent without a length (chunked) is read here first, up to `limit` bytes (413 beyond),
    and handed on with its length: Django's WSGI request reads as many bytes as CONTENT_LENGTH
    says, none without it, where its ASGI handler read the whole body."""

    def __init__(self, threads: int, limit: int) -> None:
        self.wsgi = WSGIMiddleware(_with_file_wrapper(django_application), workers=threads)  # type: ignore[arg-type]
        self.limit = limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        live.serving(asyncio.get_running_loop())
        headers = scope["headers"]
        if any(name == b"transfer-encoding" for name, _value in headers) and not any(
            name == b"content-length" for name, _value in headers
        ):
            body = await self._whole_body(receive)
            if body is None:
                await send(
                    {"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"text/plain")]}
                )
                await send({"type": "http.response.body", "body": b"Request body too large"})
                return
            scope = {**scope, "headers": [*headers, (b"content-length", str(len(body)).encode())]}
            receive = _replaying(body, receive)
        await self.wsgi(scope, receive, send)  # type: ignore[arg-type]

    async def _whole_body(self, receive: Any) -> bytes | None:
        """The request's body, or None past `limit` bytes (or when the client went away)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _replaying(body: bytes, receive: Any) -> Any:
    """A `receive` that gives `body` whole first, then what the client sends next (a disconnect)."""
    given = False

    async def replay() -> dict[str, Any]:
        nonlocal given
        if given:
            return await receive()  # type: ignore[no-any-return]
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


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


# A chunked body is held in memory up to twice the largest message or file taken (a file in a JSON
# body is base64, a third longer).
CHUNKED_LIMIT = 2 * max(settings.MAIL_MAX_MESSAGE_BYTES, settings.MAX_ATTACHMENT_BYTES)

application = ProtocolTypeRouter(
    {"http": Http(settings.WEB_THREADS, limit=CHUNKED_LIMIT), "websocket": websocket_application, "lifespan": lifespan}
)

settle()  # the start-up objects out of the collector's full passes (core/settle.py)
