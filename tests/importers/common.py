"""What the importers' tests share: times as the vendors write them, row counts, a source of
records made in the test, and the frame of every vendor's fake server.

A fake server (zendesk_server.py, freshdesk_server.py, zammad_server.py, helpscout_server.py) is a
VendorServer dataclass whose `answer(path, query, headers, method=, form=)` gives (status, body,
headers); `serve(server)` answers HTTP with it on a free local port. The base class keeps what
every vendor's server does alike: the requests it was asked, rate-limit answers (`rate_limit_next`
429s, each vendor's own body and headers from `too_many()`), scripted failures (`fail_next`) and a
Gate that holds some requests (the kill-and-resume test).
"""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, TypeVar

from sportello.accounts.models import Group, User
from sportello.csat.models import Survey
from sportello.customers.models import Customer, Identity, Organization
from sportello.fields.models import CustomField
from sportello.importers.models import ImportedRecord
from sportello.importers.records import Checkpoint
from sportello.tickets.models import Attachment, Entry, Ticket


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def counts() -> dict[str, int]:
    """Every kind of row an import writes: equal before and after a run that must write nothing."""
    return {
        "tickets": Ticket.objects.count(),
        "entries": Entry.objects.count(),
        "attachments": Attachment.objects.count(),
        "customers": Customer.objects.count(),
        "identities": Identity.objects.count(),
        "agents": User.objects.filter(is_active=False).count(),
        "organizations": Organization.objects.count(),
        "groups": Group.objects.count(),
        "surveys": Survey.objects.count(),
        "custom fields": CustomField.objects.count(),
        "records": ImportedRecord.objects.count(),
    }


class ListSource:
    """A source of records made in the test, by stream (runner.STREAMS, and "kb"/"macros" when
    `kb_streams` names them); a Checkpoint ends each stream. `since` leaves out the records whose
    `updated_at` is older, as a vendor's "changed since" filter does."""

    def __init__(self, name: str = "test:list", **streams: list[Any]) -> None:
        self.name = name
        self.streams = streams
        self.kb_streams = tuple(s for s in ("kb", "macros") if s in streams)

    def total(self, stream: str) -> int | None:
        return len(self.streams.get(stream, [])) or None

    def read(self, stream: str, *, since: datetime | None, cursor: str | None) -> Iterator[Any]:
        for record in self.streams.get(stream, []):
            changed = getattr(record, "updated_at", None)
            if since is None or changed is None or changed >= since:
                yield record
        yield Checkpoint(stream, "end")


Answer = tuple[int, Any, dict[str, str]]


class Gate:
    """Lets `open_for` requests through, then holds every later one until `release()`.

    `holding` tells a test that a request waits at the gate: whatever the client wrote before
    asking is committed, and what it was writing is not (a batch's transaction is open)."""

    def __init__(self, open_for: int) -> None:
        self.left = open_for
        self.holding = 0
        self.lock = threading.Lock()
        self.opened = threading.Event()

    def pass_through(self) -> None:
        with self.lock:
            self.left -= 1
            hold = self.left < 0 and not self.opened.is_set()
            if hold:
                self.holding += 1
        if hold:
            self.opened.wait()

    def release(self) -> None:
        self.opened.set()


@dataclass
class VendorServer:
    port: int = 0
    retry_after: str = "5"
    rate_limit_next: int = 0
    fail_next: list[tuple[int, Any]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    gate: Gate | None = None

    content_type: ClassVar[str] = "application/json; charset=utf-8"
    log_methods: ClassVar[bool] = False  # "GET /path?…" in `requests` rather than "/path?…"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def too_many(self) -> Answer:
        """The vendor's 429."""
        return 429, {"error": "Too many requests"}, {"Retry-After": self.retry_after}

    def intercept(self, method: str, path: str, query: dict[str, str]) -> Answer | None:
        """Records the request; a rate-limit answer or a scripted failure when one is due."""
        with self.lock:
            line = path + ("?" + urllib.parse.urlencode(query) if query else "")
            self.requests.append(f"{method} {line}" if self.log_methods else line)
            if self.rate_limit_next:
                self.rate_limit_next -= 1
                return self.too_many()
            if self.fail_next:
                status, body = self.fail_next.pop(0)
                return status, body, {}
        return None

    def always(self) -> dict[str, str]:
        """Headers every answer carries (Help Scout's rate-limit counters)."""
        return {}

    def answer(
        self, path: str, query: dict[str, str], headers: Any, method: str = "GET", form: dict[str, str] | None = None
    ) -> Answer:
        raise NotImplementedError


AnyServer = TypeVar("AnyServer", bound=VendorServer)


def serve(server: AnyServer) -> Iterator[AnyServer]:
    """Serve `server`'s answers (GET, and POST with a form) on a free local port."""

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, method: str) -> None:
            parsed = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(parsed.query))
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode())) if length else {}
            status, body, headers = server.answer(parsed.path, query, self.headers, method=method, form=form)
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers = {**server.always(), **headers}
            self.send_response(status)
            self.send_header("Content-Type", headers.pop("Content-Type", server.content_type))
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            # The client may be gone (a test killed it while its request was held).
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(data)

        def do_GET(self) -> None:
            self._reply("GET")

        def do_POST(self) -> None:
            self._reply("POST")

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        if server.gate is not None:
            server.gate.release()
        httpd.shutdown()
        httpd.server_close()
