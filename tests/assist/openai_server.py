"""A local HTTP server that answers as an OpenAI-compatible model server does (the protocol Ollama,
vLLM and llama.cpp's server speak under /v1), as OpenAI's API reference documents it
(https://platform.openai.com/docs/api-reference):

- `GET /v1/models`: `{"object": "list", "data": [{"id", "object": "model", "created", "owned_by"}]}`.
- `POST /v1/chat/completions` (no streaming): `{"id": "chatcmpl-…", "object": "chat.completion",
  "created", "model", "choices": [{"index": 0, "message": {"role": "assistant", "content"},
  "finish_reason": "stop"}], "usage": {"prompt_tokens", "completion_tokens", "total_tokens"}}`;
  the content is `reply(messages)`.
- Errors as the reference's "Error codes" shows: `{"error": {"message", "type", "param", "code"}}`
  — 401 `invalid_api_key` when `api_key` is set and the request's Bearer differs, 404
  `model_not_found` for a model not in `models`; `fail_next` answers (status, raw body) pairs first.
- `delay_next`: that many requests wait for `release` (set when the server stops) before answering,
  so a client with a short timeout sees no answer in time.

Every request is kept in `requests` as (method, path, headers, parsed JSON body).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _echo(messages: list[dict[str, str]]) -> str:
    return f"Answer to {len(messages)} messages."


@dataclass
class ModelServer:
    models: list[str] = field(default_factory=lambda: ["llama3.1:8b", "qwen2.5:7b"])
    api_key: str = ""
    reply: Callable[[list[dict[str, str]]], str] = _echo
    fail_next: list[tuple[int, bytes]] = field(default_factory=list)
    delay_next: int = 0
    requests: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def chats(self) -> list[list[dict[str, str]]]:
        """The messages of every chat completion asked for."""
        return [body["messages"] for method, path, _h, body in self.requests if path == "/v1/chat/completions"]

    def answer(self, method: str, path: str, headers: dict[str, str], body: Any) -> tuple[int, bytes]:
        self.requests.append((method, path, headers, body))
        if self.delay_next > 0:
            self.delay_next -= 1
            self.release.wait(120)
        if self.fail_next:
            return self.fail_next.pop(0)
        if self.api_key and headers.get("Authorization") != f"Bearer {self.api_key}":
            return 401, _error("Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        if method == "GET" and path == "/v1/models":
            data = [{"id": m, "object": "model", "created": 1733270400, "owned_by": "library"} for m in self.models]
            return 200, json.dumps({"object": "list", "data": data}).encode()
        if method == "POST" and path == "/v1/chat/completions" and isinstance(body, dict):
            model = body.get("model")
            if model not in self.models:
                message = f"The model `{model}` does not exist or you do not have access to it."
                return 404, _error(message, "invalid_request_error", "model_not_found")
            content = self.reply(body.get("messages") or [])
            prompt = sum(len(m.get("content", "")) for m in body.get("messages") or []) // 4
            answer = {
                "id": "chatcmpl-123",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": prompt, "completion_tokens": 20, "total_tokens": prompt + 20},
            }
            return 200, json.dumps(answer).encode()
        return 404, _error(f"Unknown request URL: {method} {path}.", "invalid_request_error", "unknown_url")


def _error(message: str, kind: str, code: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": kind, "param": None, "code": code}}).encode()


def serve(server: ModelServer) -> Iterator[ModelServer]:
    """Serve on a free loopback port until the test ends."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            status, data = server.answer(method, self.path, dict(self.headers), body)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # a client that gave up
                self.wfile.write(data)

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    server.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        httpd.shutdown()
        httpd.server_close()
