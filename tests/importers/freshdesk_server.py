"""A local HTTP server that answers as Freshdesk's API v2 does (https://developers.freshdesk.com/api/).

- Basic authentication with the API key as the user (`KEY:X`); anything else is a 401 with
  Freshdesk's body `{"code": "invalid_credentials", "message": "You have to be logged in …"}`.
- Lists take `page` and `per_page` (at most 100, else a 400 "Validation failed" body with
  `errors[]`) and say the next page in a `Link: <…>; rel="next"` header, none on the last page.
- `GET /api/v2/tickets`: `updated_since` (without it only tickets created in the last 30 days, as
  Freshdesk does), `order_by=updated_at&order_type=asc`, `include` checked against
  requester/stats/description/company; deleted tickets are not listed.
- `GET /api/v2/contacts?_updated_since=`, `/api/v2/agents`, `/api/v2/companies`, `/api/v2/groups`,
  `/api/v2/ticket_fields`, `/api/v2/contact_fields`, `/api/v2/company_fields`,
  `/api/v2/surveys/satisfaction_ratings?created_since=`;
  `GET /api/v2/tickets/{id}` (with `attachments`) and `/api/v2/tickets/{id}/conversations`; a
  missing ticket is a 404 with an empty body.
- Attachments (`/attachments/…`) are served without credentials, as signed storage URLs are;
  `attachment_host` may name this server differently, as another host.
- Solutions and canned responses (solutions.json): `/api/v2/settings/helpdesk`, solution categories,
  a category's folders, a folder's articles, each also with a `/{language_code}` (a language with
  nothing translated is a 404), inline images (`/helpdesk/attachments/…`); canned response
  folders, their responses (listed without their text) and each response.
- Rate limits: `rate_limit_next` answers that many requests with a 429 and `Retry-After`;
  `fail_next` takes (status, body) pairs answered before the normal answer.

The fixture (tests/fixtures/importers/freshdesk/account.json) is built from the documentation's
examples, each section citing its page. The HTTP side is common.py's (VendorServer, serve).
"""

from __future__ import annotations

import base64
import copy
import json
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.importers.common import Answer, VendorServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "importers" / "freshdesk"
API_KEY = "MhmKF4LsUeZr2bG3pXvq"
INCLUDES = {"requester", "stats", "description", "company"}


def _account() -> dict[str, Any]:
    return json.loads((FIXTURES / "account.json").read_text())


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class FreshdeskServer(VendorServer):
    per_page_default: int = 30
    retry_after: str = "11"
    # Freshdesk's attachment_url is a signed URL on its file storage, another host: "localhost"
    # reaches this server under another name. Whether each download came with credentials:
    attachment_host: str = "127.0.0.1"
    attachment_credentials: list[bool] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=_account)
    # The knowledge base and canned responses (solutions.json).
    solutions: dict[str, Any] = field(default_factory=lambda: json.loads((FIXTURES / "solutions.json").read_text()))

    def __post_init__(self) -> None:
        self.data = copy.deepcopy(self.data)

    def rows(self, name: str) -> list[dict[str, Any]]:
        return self.data[name]["rows"]

    def generate(self, count: int, conversations: int = 4) -> None:
        """`count` more tickets, each from its own contact, with `conversations` replies and notes."""
        start = datetime(2020, 1, 1, tzinfo=UTC)
        for index in range(count):
            at = start + timedelta(minutes=index)
            stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
            contact = 1_000_000 + index
            self.rows("contacts").append(
                {"id": contact, "name": f"Customer {index}", "email": f"c{index}@bench.example", "updated_at": stamp}
            )
            ticket = 100_000 + index
            self.rows("tickets").append(
                {
                    "id": ticket,
                    "subject": f"Question {index}",
                    "description": f"<p>Question {index}</p>",
                    "description_text": f"Question {index}",
                    "status": 4 if index % 3 else 2,
                    "priority": 2,
                    "source": 1,
                    "requester_id": contact,
                    "responder_id": 1,
                    "group_id": 1,
                    "tags": ["bench"],
                    "created_at": stamp,
                    "updated_at": stamp,
                }
            )
            self.data["conversations"][str(ticket)] = [
                {
                    "id": 10_000_000 + index * conversations + n,
                    "body": "",
                    "body_text": f"Message {n} of ticket {index}: " + "words " * 30,
                    "private": n == 2,
                    "user_id": contact if n % 2 else 1,
                    "source": 2 if n == 2 else 0,
                    "attachments": [],
                    "created_at": (at + timedelta(minutes=n + 1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
                for n in range(conversations)
            ]

    # --- Answers --------------------------------------------------------------------------------

    def too_many(self) -> Answer:
        return 429, {"message": "You have exceeded the limit of requests per minute"}, {"Retry-After": self.retry_after}

    def answer(
        self, path: str, query: dict[str, str], headers: Any, method: str = "GET", form: dict[str, str] | None = None
    ) -> Answer:
        if (early := self.intercept(method, path, query)) is not None:
            return early
        if path.startswith("/attachments/"):  # signed storage URLs: no credentials asked, none wanted
            self.attachment_credentials.append(headers.get("Authorization") is not None)
            files = self.data["attachments"]
            if path in files:
                return 200, files[path].encode("latin-1"), {"Content-Type": "application/octet-stream"}
            return 404, b"", {}
        expected = "Basic " + base64.b64encode(f"{API_KEY}:X".encode()).decode()
        if headers.get("Authorization") != expected:
            return (
                401,
                {"code": "invalid_credentials", "message": "You have to be logged in to perform this action."},
                {},
            )
        simple = {
            "/api/v2/groups": "groups",
            "/api/v2/companies": "companies",
            "/api/v2/agents": "agents",
            "/api/v2/ticket_fields": "ticket_fields",
            "/api/v2/contact_fields": "contact_fields",
            "/api/v2/company_fields": "company_fields",
        }
        if path in simple:
            return self._page(path, self.rows(simple[path]), query)
        if path == "/api/v2/contacts":
            rows = self.rows("contacts")
            if "_updated_since" in query:
                rows = [r for r in rows if _at(r["updated_at"]) >= _at(query["_updated_since"])]
            return self._page(path, rows, query)
        if path == "/api/v2/surveys/satisfaction_ratings":
            rows = self.rows("satisfaction_ratings")
            if "created_since" in query:
                rows = [r for r in rows if _at(r["created_at"]) >= _at(query["created_since"])]
            return self._page(path, rows, query)
        if path == "/api/v2/tickets":
            return self._tickets(path, query)
        if path.startswith(("/api/v2/solutions/", "/api/v2/canned_response", "/api/v2/settings/", "/helpdesk/")):
            return self._solutions(path, query)
        parts = path.strip("/").split("/")
        if len(parts) in (4, 5) and parts[:3] == ["api", "v2", "tickets"]:
            ticket = next((t for t in self.rows("tickets") if str(t["id"]) == parts[3]), None)
            if ticket is None or ticket.get("deleted"):
                return 404, b"", {}
            if len(parts) == 4:
                files = self.data["ticket_attachments"].get(parts[3], [])
                return 200, {**ticket, "attachments": [self._absolute(a) for a in files]}, {}
            if parts[4] == "conversations":
                rows = self.data["conversations"].get(parts[3], [])
                rows = [
                    {**r, "attachments": [self._absolute(a) for a in r.get("attachments", [])]}
                    if isinstance(r, dict)
                    else r  # a bad row, served as it is
                    for r in rows
                ]
                return self._page(path, rows, query)
        return 404, b"", {}

    def _solutions(self, path: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        data = self.solutions
        parts = path.strip("/").split("/")

        def based(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [{**r, "description": str(r.get("description") or "").replace("{base}", self.url)} for r in rows]

        def in_language(name: str, code: str, key: str | None = None) -> tuple[int, Any, dict[str, str]]:
            if code not in data["helpdesk"]["supported_languages"] + [data["helpdesk"]["primary_language"]]:
                return 400, _invalid("language_code", "It should be one of the supported languages"), {}
            table = data.get(f"{name}_{code}") if code != data["helpdesk"]["primary_language"] else data[name]
            if table is None:
                return 404, b"", {}
            rows = table if key is None else table.get(key)
            return (404, b"", {}) if rows is None else self._page(path, based(rows), query)

        if path == "/api/v2/settings/helpdesk":
            return 200, data["helpdesk"], {}
        if path.startswith("/helpdesk/attachments/"):
            content = data["files"].get(path)
            return (
                (404, b"", {}) if content is None else (200, content.encode("latin-1"), {"Content-Type": "image/png"})
            )
        n = len(parts)
        parts += [""] * 4
        if parts[3:n] == ["categories"]:
            return self._page(path, data["categories"], query)
        if parts[3] == "categories" and n == 5 and not parts[4].isdigit():
            return in_language("categories", parts[4])
        if parts[3] == "categories" and n in (6, 7) and parts[5] == "folders":
            if n == 7:
                return in_language("folders", parts[6], parts[4])
            rows = data["folders"].get(parts[4])
            return (404, b"", {}) if rows is None else self._page(path, rows, query)
        if parts[3] == "folders" and n in (6, 7) and parts[5] == "articles":
            if n == 7:
                return in_language("articles", parts[6], parts[4])
            rows = data["articles"].get(parts[4])
            return (404, b"", {}) if rows is None else self._page(path, based(rows), query)
        if path == "/api/v2/canned_response_folders":
            return 200, data["canned_response_folders"], {}
        if parts[2] == "canned_response_folders" and n == 5 and parts[4] == "responses":
            rows = data["canned_responses"].get(parts[3])
            # The list leaves the text out; a response's own page has it.
            listed = [{k: v for k, v in r.items() if k not in ("content", "content_html")} for r in rows or []]
            return (404, b"", {}) if rows is None else (200, listed, {})
        if parts[2] == "canned_responses" and n == 4:
            found = [r for rows in data["canned_responses"].values() for r in rows if str(r["id"]) == parts[3]]
            return (200, found[0], {}) if found else (404, b"", {})
        return 404, b"", {}

    def _absolute(self, attachment: dict[str, Any]) -> dict[str, Any]:
        base = f"http://{self.attachment_host}:{self.port}"
        return {**attachment, "attachment_url": base + attachment["attachment_url"]}

    def _tickets(self, path: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        includes = {i for i in query.get("include", "").split(",") if i}
        if includes - INCLUDES:
            return 400, _invalid("include", "It should be one/a comma separated list of: " + ",".join(INCLUDES)), {}
        rows = [t for t in self.rows("tickets") if not t.get("deleted")]
        if "updated_since" in query:
            try:
                since = _at(query["updated_since"])
            except ValueError:
                return 400, _invalid("updated_since", "It should be in the 'combined date and time ISO8601' format"), {}
            rows = [t for t in rows if _at(t["updated_at"]) >= since]
        else:
            rows = [t for t in rows if _at(t["created_at"]) >= datetime.now(UTC) - timedelta(days=30)]
        if query.get("order_by") == "updated_at":
            rows.sort(key=lambda t: (t["updated_at"], t["id"]), reverse=query.get("order_type") != "asc")
        else:
            rows.sort(key=lambda t: t["created_at"], reverse=True)
        shown = []
        for row in rows:
            row = dict(row)
            if "description" not in includes:
                row.pop("description", None)
                row.pop("description_text", None)
            if "stats" not in includes:
                row.pop("stats", None)
            if "requester" not in includes:
                row.pop("requester", None)
            shown.append(row)
        return self._page(path, shown, query)

    def _page(self, path: str, rows: list[Any], query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        try:
            page = int(query.get("page", "1"))
            per_page = int(query.get("per_page", str(self.per_page_default)))
        except ValueError:
            return 400, _invalid("page", "It should be a Positive Integer"), {}
        if per_page > 100 or per_page < 1:
            return 400, _invalid("per_page", "Has to be less than or equal to 100"), {}
        if page < 1:
            return 400, _invalid("page", "It should be a Positive Integer"), {}
        chunk = rows[(page - 1) * per_page : page * per_page]
        headers: dict[str, str] = {}
        if page * per_page < len(rows):
            following = {**query, "page": str(page + 1), "per_page": str(per_page)}
            headers["Link"] = f'<{self.url}{path}?{urllib.parse.urlencode(following)}>; rel="next"'
        return 200, chunk, headers


def _invalid(name: str, message: str) -> dict[str, Any]:
    return {
        "description": "Validation failed",
        "errors": [{"field": name, "message": message, "code": "invalid_value"}],
    }
