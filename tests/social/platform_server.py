"""A local HTTP server that answers as the platforms' send APIs do, as their documentation shows.

- Telegram Bot API (https://core.telegram.org/bots/api#making-requests): `POST /bot<token>/sendMessage`,
  `sendPhoto`, `sendDocument` answer `{"ok": true, "result": <Message>}`; errors are
  `{"ok": false, "error_code": …, "description": …}` with 429 carrying `parameters.retry_after`;
  `getFile` answers a File with `file_path`, downloaded from `/file/bot<token>/<file_path>`.
- WhatsApp Cloud API (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages):
  `POST /<version>/<phone number id>/messages` answers `{"messaging_product": "whatsapp",
  "contacts": [...], "messages": [{"id": "wamid…"}]}`; errors are Graph API errors
  (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes) `{"error": {"message",
  "type", "code", "error_data": {"details"}, "fbtrace_id"}}`; `POST /<version>/<id>/media` answers
  `{"id"}`; `GET /<version>/<media id>` answers the media's `url`, which is downloaded with the token.
- The generic signed webhook's delivery URL (docs/channels.md): `POST /deliver` answers `{"id"}`.

`fail_next` takes (status, JSON body) pairs the server answers with before it answers normally;
`requests` records what came: (method, path, headers, body).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

TELEGRAM_TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
WHATSAPP_TOKEN = "EAAJB-test-access-token"
PHONE_NUMBER_ID = "106540352242922"
FILES = {
    "AgACAgIAAxkBAAIBfWZ": ("photos/file_7.jpg", b"\xff\xd8\xff\xe0 a telegram photo"),
    "BQACAgIAAxkBAAIBf2Z": ("documents/file_8.pdf", b"%PDF-1.4 a telegram document"),
}
WHATSAPP_MEDIA = {"1037543291543636": ("image/jpeg", b"\xff\xd8\xff\xe0 a whatsapp photo")}


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class PlatformServer:
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[Request] = field(default_factory=list)
    fail_next: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    counter: int = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def sent(self, suffix: str) -> list[Request]:
        return [r for r in self.requests if r.method == "POST" and r.path.endswith(suffix)]

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any, str]:
        self.requests.append(Request(method, path, headers, body))
        if self.fail_next:
            status, error = self.fail_next.pop(0)
            return status, error, "application/json"
        self.counter += 1
        if path.startswith(f"/bot{TELEGRAM_TOKEN}/"):
            return self._telegram(method, path.removeprefix(f"/bot{TELEGRAM_TOKEN}/"), body)
        if path.startswith(f"/file/bot{TELEGRAM_TOKEN}/"):
            wanted = path.removeprefix(f"/file/bot{TELEGRAM_TOKEN}/")
            for file_path, content in FILES.values():
                if file_path == wanted:
                    return 200, content, "application/octet-stream"
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}, "application/json"
        if path.startswith("/v21.0/"):
            if headers.get("Authorization") != f"Bearer {WHATSAPP_TOKEN}":
                error = {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}
                return 401, {"error": {**error, "fbtrace_id": "AbCdEf"}}, "application/json"
            return self._whatsapp(method, path.removeprefix("/v21.0/"), body)
        if path.startswith("/media-download/"):
            media_id = path.removeprefix("/media-download/")
            if headers.get("Authorization") != f"Bearer {WHATSAPP_TOKEN}" or media_id not in WHATSAPP_MEDIA:
                return 404, {"error": {"message": "Not found", "code": 100}}, "application/json"
            return 200, WHATSAPP_MEDIA[media_id][1], WHATSAPP_MEDIA[media_id][0]
        if path == "/deliver" and method == "POST":
            return 200, {"id": f"ext-{self.counter}"}, "application/json"
        return 404, {"error": "no such endpoint"}, "application/json"

    def _telegram(self, method: str, name: str, body: bytes) -> tuple[int, Any, str]:
        if name.startswith("getFile"):
            file_id = name.partition("file_id=")[2]
            if file_id not in FILES:
                return (
                    400,
                    {"ok": False, "error_code": 400, "description": "Bad Request: invalid file_id"},
                    "application/json",
                )
            path, content = FILES[file_id]
            result = {"file_id": file_id, "file_unique_id": "AQAD", "file_size": len(content), "file_path": path}
            return 200, {"ok": True, "result": result}, "application/json"
        if name in ("sendMessage", "sendPhoto", "sendDocument"):
            chat = json.loads(body)["chat_id"] if name == "sendMessage" else _form_field(body, "chat_id")
            result = {
                "message_id": 1000 + self.counter,
                "chat": {"id": int(chat), "type": "private"},
                "date": 1733212800,
            }
            return 200, {"ok": True, "result": result}, "application/json"
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}, "application/json"

    def _whatsapp(self, method: str, path: str, body: bytes) -> tuple[int, Any, str]:
        if path == f"{PHONE_NUMBER_ID}/messages" and method == "POST":
            sent = json.loads(body)
            answer = {
                "messaging_product": "whatsapp",
                "contacts": [{"input": sent["to"], "wa_id": sent["to"]}],
                "messages": [{"id": f"wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI{self.counter:04d}"}],
            }
            return 200, answer, "application/json"
        if path == f"{PHONE_NUMBER_ID}/media" and method == "POST":
            return 200, {"id": f"55{self.counter:04d}"}, "application/json"
        if method == "GET" and path in WHATSAPP_MEDIA:
            mime, content = WHATSAPP_MEDIA[path]
            answer = {"messaging_product": "whatsapp", "url": f"{self.url}/media-download/{path}", "mime_type": mime,
                      "sha256": "x", "file_size": len(content), "id": path}  # fmt: skip
            return 200, answer, "application/json"
        return (
            400,
            {"error": {"message": "Unsupported request", "type": "GraphMethodException", "code": 100}},
            "application/json",
        )


def _form_field(body: bytes, name: str) -> str:
    marker = f'name="{name}"\r\n\r\n'.encode()
    start = body.index(marker) + len(marker)
    return body[start : body.index(b"\r\n", start)].decode()


@pytest.fixture
def platform_server() -> Iterator[PlatformServer]:
    server = PlatformServer()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, answer, content_type = server.answer(self.command, self.path, dict(self.headers), body)
            raw = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = _serve

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
