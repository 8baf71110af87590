"""Calls to the platforms' HTTP APIs (the standard library's urllib: no client to add).

A platform's answer of 429 or 5xx, or no answer at all, is worth another try later (the delivery
task retries with backoff); another 4xx is the platform refusing the message for good, and its
own words (Telegram's `description`, Meta's `error.message`) are what the agent sees.
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib import error, request

TIMEOUT = 15  # seconds for one call


class PlatformError(Exception):
    """The platform answered with an error status; `body` is its parsed JSON (or {})."""

    def __init__(self, status: int, message: str, body: dict[str, Any] | None = None, transient: bool | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.body = body or {}
        self.transient = transient if transient is not None else (status == 429 or status >= 500)

    def __str__(self) -> str:
        return f"The platform answered {self.status}: {self.message}"


def call(
    method: str,
    url: str,
    *,
    payload: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    data: bytes | None = None,
    content_type: str = "",
    describe: Any = None,
) -> tuple[int, Any, bytes]:
    """`(status, parsed JSON or None, raw body)`; raises PlatformError on a status of 400 or more
    (its message from `describe(status, parsed)` when given) and OSError when there is no answer."""
    headers = dict(headers or {})
    if payload is not None:
        data = json.dumps(payload).encode()
        headers["Content-Type"] = "application/json"
    elif content_type:
        headers["Content-Type"] = content_type
    req = request.Request(url, data=data, headers=headers, method=method)
    try:
        with request.urlopen(req, timeout=TIMEOUT) as response:
            raw = response.read()
            status = response.status
    except error.HTTPError as exc:
        raw = exc.read()
        parsed = _json(raw)
        message = describe(exc.code, parsed) if describe else ""
        raise PlatformError(exc.code, message or raw[:300].decode("utf-8", "replace") or exc.reason, parsed) from None
    return status, _json(raw), raw


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    """A multipart/form-data body: (bytes, its Content-Type)."""
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, content, content_type) in files.items():
        safe = filename.replace('"', "")
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{safe}"\r\n'
            f"Content-Type: {content_type or 'application/octet-stream'}\r\n\r\n"
        )
        parts.append(head.encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
