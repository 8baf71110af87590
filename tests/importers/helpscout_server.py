"""A local HTTP server that answers as Help Scout's Mailbox API 2.0 does, as its documentation shows
(https://developer.helpscout.com/mailbox-api/).

- `POST /v2/oauth2/token` (overview/authentication, Client Credentials flow): form fields
  `grant_type=client_credentials`, `client_id`, `client_secret`; answers `{"token_type": "bearer",
  "access_token", "expires_in"}`, or 401 `{"error": "invalid_client", …}`. Every other request needs
  `Authorization: Bearer <token>`, else a 401; `expire_tokens()` makes the tokens given so far stale.
- HAL lists (`_embedded.<key>`, `_links.self/first/last/next`, `page.size/totalElements/totalPages/
  number`) for `/v2/mailboxes`, `/v2/users` (`?mailbox=ID`: its members), `/v2/customers` and
  `/v2/conversations`: `status` (default `active`; `all`), `embed=threads` (threads only then),
  `modifiedSince`, `sortField=modifiedAt`, `sortOrder`, `page`.
- `GET /v2/conversations/{id}/attachments/{id}/data`: `{"data": base64}`.
- `/v2/organizations` (HAL; `organizations = None`: an account without them, a 404), the
  happiness ratings report `/v2/reports/happiness/ratings?start=&end=&page=` (`results`, `pages`;
  `ratings = None`: a plan without reports, a 403), saved replies `/v2/mailboxes/{id}/saved-replies`
  (a plain list with previews) and `…/saved-replies/{id}` (its text).
- The Docs API v1 (https://developer.helpscout.com/docs-api/, fixture docs.json) under `/v1/`:
  HTTP Basic authentication with the Docs API key as the user (any password, "X" by custom), else
  a 401; `/v1/collections`, `/v1/collections/{id}/categories`, `/v1/collections/{id}/articles`
  (`status` all, published or notpublished; article references without `text`, `categories`,
  `keywords`) in the Collections Envelope (`{"<key>": {"page", "pages", "count", "items"}}`,
  `page`), and `/v1/articles/{id}` in the Single Item Envelope (`{"article": {...}}`). Errors as
  `{"code", "error"}`.
- Errors as overview/errors shows: `{"logRef", "message", "_embedded": {"errors": [...]}}`.
- Rate limits (overview/rate-limiting): `rate_limit_next` answers that many requests with a 429 and
  `X-RateLimit-Retry-After`; every answer carries `X-RateLimit-Limit-Minute` and
  `X-RateLimit-Remaining-Minute`. `fail_next` takes (status, body) pairs answered first.

The fixtures (tests/fixtures/importers/helpscout/) follow the documented objects, each citing its
page. The HTTP side (GET and the token's POST) is common.py's (VendorServer, serve).
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

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "importers" / "helpscout"
APP_ID = "64881cdbbe64ef893ef4c607d89259e"
APP_SECRET = "fd2a0ab8e5c64c4eb14ad1b9b6cbd5a0"
DOCS_KEY = "60783dd23ef"  # the Docs API overview's example key
# What the Docs API's article list gives of each article (a reference: no text).
ARTICLE_REF = (
    "id", "number", "collectionId", "status", "hasDraft", "name", "publicUrl", "popularity", "viewCount",
    "createdBy", "updatedBy", "createdAt", "updatedAt", "lastPublishedAt",
)  # fmt: skip


def _load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def _at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def modified(conversation: dict[str, Any]) -> datetime:
    """When a conversation last changed (the server's `modifiedAt`, which the objects do not show)."""
    times = [conversation.get(k) for k in ("createdAt", "userUpdatedAt", "closedAt")]
    times += [t.get("createdAt") for t in (conversation.get("_embedded") or {}).get("threads") or []]
    return max(d for d in (_at(t) for t in times) if d is not None)


@dataclass
class HelpScoutServer(VendorServer):
    page_size: int = 1
    retry_after: str = "9"
    tokens: set[str] = field(default_factory=set)
    issued: int = 0
    mailboxes: list[dict[str, Any]] = field(default_factory=lambda: _load("mailboxes.json")["mailboxes"])
    members: dict[str, list[int]] = field(default_factory=lambda: _load("mailboxes.json")["members"])
    users: list[dict[str, Any]] = field(default_factory=lambda: _load("users.json")["users"])
    customers: list[dict[str, Any]] = field(default_factory=lambda: _load("customers.json")["customers"])
    conversations: list[dict[str, Any]] = field(default_factory=lambda: _load("conversations.json")["conversations"])
    files: dict[str, str] = field(default_factory=lambda: _load("conversations.json")["attachments"])
    organizations: list[dict[str, Any]] | None = field(default_factory=lambda: _load("extras.json")["organizations"])
    ratings: list[dict[str, Any]] | None = field(default_factory=lambda: _load("extras.json")["ratings"])
    saved_replies: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: _load("extras.json")["saved_replies"]
    )
    docs: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: _load("docs.json"))

    content_type = "application/hal+json;charset=UTF-8"
    log_methods = True

    def always(self) -> dict[str, str]:
        return {"X-RateLimit-Limit-Minute": "200", "X-RateLimit-Remaining-Minute": "199"}

    def too_many(self) -> Answer:
        return (
            429,
            {"logRef": "9f1c0e", "message": "Too many requests"},
            {"X-RateLimit-Retry-After": self.retry_after, "X-RateLimit-Remaining-Minute": "0"},
        )

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def generate(self, count: int, threads: int = 3) -> None:
        """`count` more conversations, each from its own customer, with `threads` threads."""
        start = datetime(2020, 1, 1, tzinfo=UTC)
        for index in range(count):
            at = start + timedelta(minutes=index)
            customer = {"id": 900_000 + index, "type": "customer", "email": f"c{index}@bench.example"}
            self.customers.append(
                {
                    "id": customer["id"],
                    "firstName": f"Customer {index}",
                    "updatedAt": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "_embedded": {"emails": [{"id": index, "value": customer["email"]}], "phones": []},
                }
            )
            self.conversations.append(
                {
                    "id": 800_000 + index,
                    "number": 700_000 + index,
                    "type": "email",
                    "status": "closed" if index % 2 else "active",
                    "state": "published",
                    "subject": f"Question {index}",
                    "mailboxId": 1,
                    "createdBy": customer,
                    "primaryCustomer": customer,
                    "createdAt": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "tags": [],
                    "_embedded": {
                        "threads": [
                            {
                                "id": 600_000 + index * threads + n,
                                "type": "customer" if n % 2 == 0 else "message",
                                "state": "published",
                                "body": f"Message {n} of conversation {index}",
                                "createdBy": customer if n % 2 == 0 else {"id": 9, "type": "user"},
                                "createdAt": (at + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                            }
                            for n in range(threads)
                        ]
                    },
                }
            )

    # --- Answers --------------------------------------------------------------------------------

    def token(self, form: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type", "error_description": "Unsupported grant type"}, {}
        if (form.get("client_id"), form.get("client_secret")) != (APP_ID, APP_SECRET):
            return 401, {"error": "invalid_client", "error_description": "Bad client credentials"}, {}
        self.issued += 1
        token = f"token-{self.issued}"
        self.tokens.add(token)
        return 200, {"token_type": "bearer", "access_token": token, "expires_in": 172800}, {}

    def answer(
        self, path: str, query: dict[str, str], headers: Any, method: str = "GET", form: dict[str, str] | None = None
    ) -> Answer:
        if (early := self.intercept(method, path, query)) is not None:
            return early
        if path.startswith("/v1/"):
            return self._docs(path, query, headers)
        with self.lock:
            if method == "POST" and path == "/v2/oauth2/token":
                return self.token(form or {})
            auth = headers.get("Authorization") or ""
            if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
                return 401, {"logRef": "3e1f9a", "message": "Unauthorized"}, {}
        if path == "/v2/mailboxes":
            return self._list("mailboxes", self.mailboxes, query, path)
        if path == "/v2/users":
            users = self.users
            if "mailbox" in query:
                members = self.members.get(query["mailbox"])
                if members is None:
                    return 404, {"logRef": "77aa", "message": "Mailbox not found"}, {}
                users = [u for u in users if u["id"] in members]
            return self._list("users", users, query, path)
        if path == "/v2/customers":
            return self._list("customers", self.customers, query, path)
        if path == "/v2/organizations":
            if self.organizations is None:  # an account without organizations
                return 404, {"logRef": "0a0a", "message": "Not found"}, {}
            return self._list("organizations", self.organizations, query, path)
        if path == "/v2/reports/happiness/ratings":
            return self._ratings(query)
        if path == "/v2/conversations":
            return self._conversations(query, path)
        parts = path.split("/")
        if len(parts) in (5, 6) and parts[2] == "mailboxes" and parts[4] == "saved-replies":
            replies = self.saved_replies.get(parts[3], [])
            if len(parts) == 5:  # the list: a preview, no text
                return 200, [{k: v for k, v in r.items() if k != "text"} for r in replies], {}
            reply = next((r for r in replies if str(r["id"]) == parts[5]), None)
            if reply is None:
                return 404, {"logRef": "22dd", "message": "Saved reply not found"}, {}
            return 200, {k: v for k, v in reply.items() if k != "preview"}, {}
        if len(parts) == 7 and parts[2] == "conversations" and parts[4] == "attachments" and parts[6] == "data":
            if parts[5] in self.files:
                return 200, {"data": self.files[parts[5]]}, {}
            return 404, {"logRef": "55bb", "message": "Attachment not found"}, {}
        return 404, {"logRef": "11cc", "message": "Not found"}, {}

    def _docs(self, path: str, query: dict[str, str], headers: Any) -> Answer:
        auth = headers.get("Authorization") or ""
        try:
            user = base64.b64decode(auth.removeprefix("Basic ")).decode().partition(":")[0]
        except ValueError:
            user = ""
        if not auth.startswith("Basic ") or user != DOCS_KEY:
            return 401, {"code": 401, "error": "Invalid API key"}, {}
        parts = path.split("/")  # "", "v1", …
        if path == "/v1/collections":
            return self._envelope("collections", self.docs["collections"], query)
        if len(parts) == 5 and parts[2] == "collections" and parts[4] in ("categories", "articles"):
            if not any(c["id"] == parts[3] for c in self.docs["collections"]):
                return 404, {"code": 404, "error": "Collection not found"}, {}
            if parts[4] == "categories":
                return self._envelope(
                    "categories", [c for c in self.docs["categories"] if c["collectionId"] == parts[3]], query
                )
            status = query.get("status", "all")
            if status not in ("all", "published", "notpublished"):
                return 400, {"code": 400, "error": "Invalid status"}, {}
            rows = [
                {k: a[k] for k in ARTICLE_REF if k in a}
                for a in self.docs["articles"]
                if a["collectionId"] == parts[3] and status in ("all", a["status"])
            ]
            return self._envelope("articles", rows, query)
        if len(parts) == 4 and parts[2] == "articles":
            article = next((a for a in self.docs["articles"] if parts[3] in (a["id"], str(a["number"]))), None)
            if article is None:
                return 404, {"code": 404, "error": "Article not found"}, {}
            return 200, {"article": article}, {}
        return 404, {"code": 404, "error": "Not found"}, {}

    def _envelope(self, key: str, rows: list[Any], query: dict[str, str]) -> Answer:
        number = int(query.get("page", "1") or 1)
        pages = max(1, -(-len(rows) // self.page_size))
        page = rows[(number - 1) * self.page_size : number * self.page_size]
        return 200, {key: {"page": number, "pages": pages, "count": len(rows), "items": page}}, {}

    def _conversations(self, query: dict[str, str], path: str) -> tuple[int, Any, dict[str, str]]:
        status = query.get("status", "active")
        if status not in ("active", "all", "closed", "open", "pending", "spam"):
            return (
                400,
                {
                    "logRef": "64bb72b4",
                    "message": "Bad request",
                    "_embedded": {
                        "errors": [{"path": "status", "message": "Expected one of these: 'active', 'all', …"}]
                    },
                },
                {},
            )
        rows = [c for c in self.conversations if status == "all" or c["status"] == status]
        if "modifiedSince" in query:
            since = _at(query["modifiedSince"])
            if since is None:
                return 400, {"logRef": "1a", "message": "Bad request"}, {}
            rows = [c for c in rows if modified(c) >= since]
        if query.get("sortField") == "modifiedAt":
            rows.sort(key=lambda c: (modified(c), c["id"]), reverse=query.get("sortOrder") == "desc")
        if query.get("embed") != "threads":
            rows = [{k: v for k, v in c.items() if k != "_embedded"} for c in rows]
        else:
            rows = copy.deepcopy(rows)
            for row in rows:  # attachment links are absolute in Help Scout's answers
                for thread in row["_embedded"]["threads"]:
                    for attachment in (thread.get("_embedded") or {}).get("attachments") or []:
                        link = attachment["_links"]["data"]
                        link["href"] = self.url + link["href"]
        return self._list("conversations", rows, query, path)

    def _ratings(self, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        """The happiness ratings report: `start` and `end` required, `page`; a plan without
        reports (`ratings` None) is a 403."""
        if self.ratings is None:
            return 403, {"logRef": "0b0b", "message": "Reports are not available on this plan"}, {}
        start, end = _at(query.get("start")), _at(query.get("end"))
        if start is None or end is None:
            return 400, {"logRef": "1b", "message": "Bad request", "_embedded": {"errors": [{"path": "start"}]}}, {}
        rows = [r for r in self.ratings if start <= (_at(r["ratingCreatedAt"]) or start) <= end]
        number = int(query.get("page", "1") or 1)
        pages = max(1, -(-len(rows) // self.page_size))
        page = rows[(number - 1) * self.page_size : number * self.page_size]
        return 200, {"results": page, "page": number, "count": len(rows), "pages": pages}, {}

    def _list(self, key: str, rows: list[Any], query: dict[str, str], path: str) -> tuple[int, Any, dict[str, str]]:
        number = int(query.get("page", "1") or 1)
        total_pages = max(1, -(-len(rows) // self.page_size))
        page = rows[(number - 1) * self.page_size : number * self.page_size]

        def link(n: int) -> dict[str, str]:
            return {"href": f"{self.url}{path}?" + urllib.parse.urlencode({**query, "page": n})}

        links: dict[str, Any] = {"self": link(number), "first": link(1), "last": link(total_pages)}
        if number < total_pages:
            links["next"] = link(number + 1)
        links["page"] = {"href": f"{self.url}{path}?page={{page}}", "templated": True}
        body = {
            "_embedded": {key: page},
            "_links": links,
            "page": {"size": self.page_size, "totalElements": len(rows), "totalPages": total_pages, "number": number},
        }
        return 200, body, {}
