"""asgi.py's HTTP entry refuses a chunked body past its limit before Django is reached."""

from __future__ import annotations

import asyncio
from typing import Any

from sportello.asgi import Http


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
