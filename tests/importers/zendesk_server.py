"""A local HTTP server that answers as Zendesk's REST API does, as its documentation shows.

- Basic authentication with an API token (`{email}/token:{token}`); anything else is a 401 with
  Zendesk's body `{"error": "Couldn't authenticate you"}`.
- Cursor-based incremental exports (`/api/v2/incremental/{users,tickets}/cursor.json`): `start_time`
  or `cursor`, `page_size` rows a page, `after_cursor`, `after_url` and `end_of_stream`; rows
  changed before `start_time` are left out. `include=identities` sideloads the users' identities.
- The time-based organization export (`/api/v2/incremental/organizations.json`): `next_page`,
  `end_time`, `end_of_stream`.
- User and organization fields (`/api/v2/user_fields.json`, `/api/v2/organization_fields.json`).
- Groups (`/api/v2/groups.json`, `next_page`), counts (`/api/v2/{tickets,users,organizations}/count.json`).
- Ticket comments (`/api/v2/tickets/{id}/comments.json`), cursor pagination: `meta.has_more`,
  `meta.after_cursor`, `links.next`; a missing ticket is a 404 `{"error": "RecordNotFound", …}`.
- Attachments (`/attachments/…`), the bytes.
- Help Center (help_center.json): categories (one page), sections (offset pagination: `per_page`
  1, `page`, `next_page`), articles (cursor pagination: `page[size]`, `page[after]`,
  `meta.has_more`, `links.next`; one a page), each article's translations, and the images an
  article shows (`/hc/article_attachments/…`); categories' and sections' translations (their names).
- Macros (`/api/v2/macros.json`, macros.json), `next_page`.
- Rate limits: `rate_limit_next` answers that many requests with a 429 and `Retry-After`;
  `fail_next` takes (status, body) pairs answered before the normal answer.
- `gate` (common.Gate) holds the comment requests after its first few (the kill-and-resume test
  kills the importing process while it waits there, in the middle of a batch).
- The HTTP side, the request log and the 429s are common.py's (VendorServer, serve).

The fixtures (tests/fixtures/importers/zendesk/) are Zendesk's published examples, each file citing
its page. `generate(n, comments)` adds n synthetic tickets (with customers) for the benchmark.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.importers.common import Answer, VendorServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "importers" / "zendesk"
EMAIL = "admin@example.com"
TOKEN = "6wiIBWbGkBMo1mRDMuVwkw1EPsNkeUj95PIz2akv"


def _load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def _epoch(value: str) -> int:
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())


@dataclass
class ZendeskServer(VendorServer):
    page_size: int = 2
    retry_after: str = "7"
    groups: list[dict[str, Any]] = field(default_factory=lambda: _load("groups.json")["groups"])
    organizations: list[dict[str, Any]] = field(default_factory=lambda: _load("organizations.json")["organizations"])
    users: list[dict[str, Any]] = field(default_factory=lambda: _load("users.json")["users"])
    identities: list[dict[str, Any]] = field(default_factory=lambda: _load("users.json")["identities"])
    tickets: list[dict[str, Any]] = field(default_factory=lambda: _load("tickets.json")["tickets"])
    ticket_fields: list[dict[str, Any]] = field(default_factory=lambda: _load("ticket_fields.json")["ticket_fields"])
    comments: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: _load("comments.json")["comments"])
    files: dict[str, bytes] = field(
        default_factory=lambda: {k: v.encode("latin-1") for k, v in _load("comments.json")["attachments"].items()}
    )
    help_center: dict[str, Any] = field(default_factory=lambda: _load("help_center.json"))
    macros: list[dict[str, Any]] = field(default_factory=lambda: _load("macros.json")["macros"])
    person_fields: dict[str, Any] = field(default_factory=lambda: _load("person_fields.json"))

    def generate(self, count: int, comments: int = 5) -> None:
        """`count` more tickets, each from its own customer, with `comments` comments."""
        start = datetime(2020, 1, 1, tzinfo=UTC)
        agent = self.users[0]["id"]
        for index in range(count):
            user_id = 10_000_000 + index
            at = start + timedelta(minutes=index)
            stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
            self.users.append(
                {
                    "id": user_id,
                    "name": f"Customer {index}",
                    "email": f"customer{index}@bench.example",
                    "role": "end-user",
                    "created_at": stamp,
                    "updated_at": stamp,
                }
            )
            ticket_id = 1_000_000 + index
            self.tickets.append(
                {
                    "id": ticket_id,
                    "subject": f"Question {index}",
                    "status": "solved" if index % 3 else "open",
                    "priority": "normal",
                    "requester_id": user_id,
                    "assignee_id": agent,
                    "group_id": 211,
                    "tags": ["bench", f"t{index % 10}"],
                    "via": {"channel": "email"},
                    "created_at": stamp,
                    "updated_at": stamp,
                }
            )
            self.comments[str(ticket_id)] = [
                {
                    "id": 50_000_000 + index * comments + n,
                    "author_id": user_id if n % 2 == 0 else agent,
                    "body": f"Message {n} of ticket {index}: " + "words " * 30,
                    "public": n != 3,
                    "via": {"channel": "email"},
                    "attachments": [],
                    "created_at": (at + timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
                for n in range(comments)
            ]

    # --- Answers --------------------------------------------------------------------------------

    def too_many(self) -> Answer:
        return (
            429,
            {"error": "TooManyRequests", "description": "Rate limit exceeded"},
            {"Retry-After": self.retry_after},
        )

    def answer(
        self, path: str, query: dict[str, str], headers: Any, method: str = "GET", form: dict[str, str] | None = None
    ) -> Answer:
        if (early := self.intercept(method, path, query)) is not None:
            return early
        expected = "Basic " + base64.b64encode(f"{EMAIL}/token:{TOKEN}".encode()).decode()
        if headers.get("Authorization") != expected:
            return 401, {"error": "Couldn't authenticate you"}, {}
        if path.startswith("/attachments/"):
            if path in self.files:
                return 200, self.files[path], {"Content-Type": "application/octet-stream"}
            return 404, {"error": "RecordNotFound", "description": "Not found"}, {}
        if path.startswith("/hc/article_attachments/"):
            content = self.help_center["files"].get(path)
            if content is None:
                return 404, {"error": "RecordNotFound", "description": "Not found"}, {}
            return 200, content.encode("latin-1"), {"Content-Type": "image/png"}
        if path.startswith("/api/v2/help_center/") or path == "/api/v2/macros.json":
            return self._help_center(path, query)
        if path == "/api/v2/ticket_fields.json":
            rows = self.ticket_fields
            return 200, {"ticket_fields": rows, "next_page": None, "previous_page": None, "count": len(rows)}, {}
        if path in ("/api/v2/user_fields.json", "/api/v2/organization_fields.json"):
            kind = path.split("/")[3].removesuffix(".json")
            rows = self.person_fields[kind]
            return 200, {kind: rows, "next_page": None, "previous_page": None, "count": len(rows)}, {}
        if path == "/api/v2/groups.json":
            return 200, {"groups": self.groups, "next_page": None, "previous_page": None, "count": len(self.groups)}, {}
        if path.endswith("/count.json"):
            kind = path.split("/")[3]
            rows = {"tickets": self.tickets, "users": self.users, "organizations": self.organizations}[kind]
            return 200, {"count": {"value": len(rows), "refreshed_at": "2024-01-01T00:00:00Z"}}, {}
        if path == "/api/v2/incremental/organizations.json":
            start = int(query.get("start_time", "0"))
            rows = [o for o in self.organizations if _epoch(o["updated_at"]) >= start]
            end = max((_epoch(o["updated_at"]) for o in rows), default=start)
            return (
                200,
                {"organizations": rows, "next_page": None, "end_time": end, "end_of_stream": True, "count": len(rows)},
                {},
            )
        if path in ("/api/v2/incremental/users/cursor.json", "/api/v2/incremental/tickets/cursor.json"):
            return self._export(path.split("/")[4], query)
        if path.startswith("/api/v2/tickets/") and path.endswith("/comments.json"):
            ticket_id = path.split("/")[4]
            if ticket_id not in self.comments:
                return 404, {"error": "RecordNotFound", "description": "Not found"}, {}
            if self.gate is not None:
                self.gate.pass_through()
            return self._comment_page(ticket_id, query)
        return 404, {"error": "InvalidEndpoint", "description": "Not found"}, {}

    def _help_center(self, path: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        def based(row: dict[str, Any]) -> dict[str, Any]:
            return {**row, "body": str(row.get("body") or "").replace("{base}", self.url)}

        if path == "/api/v2/macros.json":
            return 200, {"macros": self.macros, "next_page": None, "previous_page": None, "count": len(self.macros)}, {}
        if path == "/api/v2/help_center/categories.json":
            rows = self.help_center["categories"]
            return 200, {"categories": rows, "next_page": None, "page": 1, "page_count": 1, "count": len(rows)}, {}
        if path == "/api/v2/help_center/sections.json":  # offset pagination, one a page
            rows, number = self.help_center["sections"], int(query.get("page", "1"))
            more = number < len(rows)
            next_page = f"{self.url}{path}?page={number + 1}&per_page=1" if more else None
            return 200, {"sections": rows[number - 1 : number], "next_page": next_page, "count": len(rows)}, {}
        if path == "/api/v2/help_center/articles.json":  # cursor pagination, one a page
            rows, offset = self.help_center["articles"], int(query.get("page[after]", "0") or 0)
            more = offset + 1 < len(rows)
            link = f"{self.url}{path}?page[size]=1&page[after]={offset + 1}" if more else None
            return (
                200,
                {
                    "articles": [based(r) for r in rows[offset : offset + 1]],
                    "meta": {"has_more": more, "after_cursor": str(offset + 1) if more else None},
                    "links": {"next": link, "prev": None},
                },
                {},
            )
        parts = path.split("/")  # /api/v2/help_center/articles/{id}/translations.json
        if len(parts) == 7 and parts[4] in ("categories", "sections") and parts[6] == "translations.json":
            rows = self.help_center["name_translations"].get(f"{parts[4]}:{parts[5]}", [])
            return 200, {"translations": rows, "next_page": None, "count": len(rows)}, {}
        if len(parts) == 7 and parts[4] == "articles" and parts[6] == "translations.json":
            rows = self.help_center["translations"].get(parts[5])
            if rows is None:
                return 404, {"error": "RecordNotFound", "description": "Not found"}, {}
            return 200, {"translations": [based(r) for r in rows], "next_page": None, "count": len(rows)}, {}
        return 404, {"error": "InvalidEndpoint", "description": "Not found"}, {}

    def _export(self, kind: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        rows = sorted(getattr(self, kind), key=lambda r: (r["updated_at"], r["id"]))
        if "cursor" in query:
            try:
                offset, start = (int(x) for x in base64.urlsafe_b64decode(query["cursor"]).decode().split(":"))
            except ValueError:
                return 400, {"error": "InvalidCursor", "description": "The cursor is not valid"}, {}
        elif "start_time" in query:
            offset, start = 0, int(query["start_time"])
        else:
            return 400, {"error": "InvalidValue", "description": "start_time or cursor is required"}, {}
        rows = [r for r in rows if _epoch(r["updated_at"]) >= start]
        page = rows[offset : offset + self.page_size]
        after = base64.urlsafe_b64encode(f"{offset + len(page)}:{start}".encode()).decode()
        body: dict[str, Any] = {
            kind: page,
            "after_cursor": after,
            "before_cursor": None,
            "after_url": f"{self.url}/api/v2/incremental/{kind}/cursor.json?cursor={after}",
            "end_of_stream": offset + len(page) >= len(rows),
        }
        if kind == "users" and query.get("include") == "identities":
            ids = {u["id"] for u in page}
            body["identities"] = [i for i in self.identities if i["user_id"] in ids]
        return 200, body, {}

    def _comment_page(self, ticket_id: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        rows = self.comments[ticket_id]
        size = int(query.get("page[size]", "100"))
        offset = int(query.get("page[after]", "0") or 0)
        page = [
            {**row, "attachments": [{**a, "content_url": self.url + a["content_url"]} for a in row["attachments"]]}
            for row in rows[offset : offset + size]
        ]
        more = offset + size < len(rows)
        after = str(offset + size)
        return (
            200,
            {
                "comments": page,
                "meta": {"has_more": more, "after_cursor": after if more else None, "before_cursor": None},
                "links": {
                    "next": f"{self.url}/api/v2/tickets/{ticket_id}/comments.json?page[size]={size}&page[after]={after}"
                    if more
                    else None,
                    "prev": None,
                },
            },
            {},
        )
