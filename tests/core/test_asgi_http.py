"""asgi.py's HTTP entry: a chunked body past its limit is refused before Django is reached, and a
file answer crosses to the event loop in big blocks."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
from django.core.signals import request_finished

from sportello.asgi import Http
from sportello.tickets.attachments import AttachmentIn, store_attachments
from tests.conftest import token_for


def test_a_chunked_body_past_the_limit_is_answered_413_without_reaching_django():
    http = Http(threads=1, limit=10)
    sent: list[dict[str, Any]] = []
    pieces = [
        {"type": "http.request", "body": b"12345678", "more_body": True},
        {"type": "http.request", "body": b"12345678", "more_body": True},  # 16 bytes: past 10
        {"type": "http.request", "body": b"", "more_body": False},
    ]

    async def receive() -> dict[str, Any]:
        return pieces.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/tickets",
        "raw_path": b"/api/v1/tickets",
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "headers": [(b"transfer-encoding", b"chunked"), (b"content-type", b"application/json")],
        "http_version": "1.1",
    }
    asyncio.run(http(scope, receive, send))
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413
    assert sent[1]["body"] == b"Request body too large"
    assert len(pieces) == 1  # it stopped reading at the chunk that passed the limit


@pytest.mark.django_db(transaction=True)  # the download runs in a2wsgi's thread, on its own connection
def test_a_file_answer_crosses_to_the_loop_in_big_blocks_and_closes_its_response(agent, ticket, settings, tmp_path):
    """Django's FileResponse reads 4 KiB at a time and a2wsgi offers no `wsgi.file_wrapper`: each
    block was a hand-over from the request's thread to the event loop (5,120 for a 20 MB file).
    asgi.py offers one, in 256 KiB blocks; closing it closes the response as Django expects."""
    settings.DATA_DIR = tmp_path  # the API token stamp: this test's own
    content = os.urandom(1024 * 1024 + 17)
    entry = ticket.entries.get()
    stored = store_attachments(entry, [AttachmentIn("report.bin", content, "application/octet-stream")])[0]
    finished: list[object] = []

    def on_finished(sender: object, **kwargs: object) -> None:
        finished.append(sender)

    request_finished.connect(on_finished)
    try:
        sent = _get(Http(threads=1, limit=10), f"/api/v1/attachments/{stored.pk}", token_for(agent))
    finally:
        request_finished.disconnect(on_finished)
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    bodies = [message["body"] for message in sent[1:] if message.get("body")]
    assert b"".join(bodies) == content
    assert len(bodies) <= 5, len(bodies)  # 1 MiB in 256 KiB blocks, not 257 blocks of 4 KiB
    assert len(finished) == 1  # the response was closed: its signal sent, its connection given back


def _get(http: Http, path: str, token: str) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 50000),
        "headers": [(b"host", b"testserver"), (b"authorization", f"Bearer {token}".encode())],
        "http_version": "1.1",
    }
    asyncio.run(http(scope, receive, send))
    return sent
