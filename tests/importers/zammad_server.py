"""A local HTTP server that answers as Zammad's REST API does (https://docs.zammad.org/en/latest/api/intro.html).

- Token authentication (`Authorization: Token token=…`); anything else is a 401 with Zammad's
  error body `{"error": …, "error_human": …}`.
- Lists (`/api/v1/groups`, `organizations`, `roles`, `users`, `ticket_states`, `ticket_priorities`,
  `tickets`, `macros`) take `page` and `per_page`, in id order; `per_page` above the list's maximum (100)
  gives that maximum, as Zammad's `paginate_with(max:)` does; `expand=true` on tickets adds the
  names beside the ids (the fixture carries both). No Link header: a short page is the last.
- `/api/v1/object_manager_attributes` (every attribute at once, not paged);
- `/api/v1/ticket_articles/by_ticket/{id}` (every article at once), `/api/v1/tags?object=Ticket&o_id=`,
  `/api/v1/ticket_attachment/{ticket}/{article}/{id}`; a missing ticket is a 404
  `{"error": "Couldn't find Ticket with 'id'=…"}`.
- the knowledge base, which Zammad's API documentation leaves out, as Zammad's source serves it
  (the paths are cited in tests/fixtures/importers/zammad/knowledge_base.json):
  `POST /api/v1/knowledge_bases/init` (every KB object as assets, without the answers' texts; a
  GET is no route), `GET /api/v1/knowledge_bases/{kb}/answers/{id}?include_contents=1,2` (the
  answer's assets and those of the asked-for contents that are its own; an unknown answer is a
  404 `{"error": "Couldn't find KnowledgeBase::Answer with 'id'=…"}`), `GET /api/v1/locales` and
  `GET /api/v1/attachments/{id}`; `kb_editor=False` answers as to an agent without the
  knowledge_base.editor permission (no drafts), `kb=False` as an instance without a knowledge base ({});
- Rate limits: `rate_limit_next` answers that many requests with a 429 and `Retry-After`;
  `fail_next` takes (status, body) pairs answered before the normal answer.

The fixture (tests/fixtures/importers/zammad/instance.json) follows the documentation's examples,
each section citing its page. The HTTP side is common.py's (VendorServer, serve).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.importers.common import Answer, VendorServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "importers" / "zammad"
TOKEN = "xS4Rk2UDmoGfbg8tjEsC1rXkZ7bVj3rNUYHb9c6dX4JQpW"
MAX_PER_PAGE = 100
# What expand=true adds to a ticket: the names of the records its ids point to.
NAMES = {
    "group",
    "state",
    "priority",
    "owner",
    "customer",
    "organization",
    "create_article_type",
    "create_article_sender",
}
LISTS = ("groups", "organizations", "roles", "users", "ticket_states", "ticket_priorities", "tickets", "macros")


def _instance() -> dict[str, Any]:
    return json.loads((FIXTURES / "instance.json").read_text())


def _knowledge_base() -> dict[str, Any]:
    return json.loads((FIXTURES / "knowledge_base.json").read_text())


@dataclass
class ZammadServer(VendorServer):
    data: dict[str, Any] = field(default_factory=_instance)
    kb_data: dict[str, Any] = field(default_factory=_knowledge_base)
    kb: bool = True
    kb_editor: bool = True
    kb_gone: set[str] = field(default_factory=set)  # answers the init lists that are deleted afterwards

    def __post_init__(self) -> None:
        self.data = copy.deepcopy(self.data)
        self.kb_data = copy.deepcopy(self.kb_data)

    def kb_assets(self, model: str) -> dict[str, Any]:
        """One model's rows of the knowledge base, by id (the test changes them in place)."""
        return self.kb_data["init"]["assets"].setdefault(model, {})

    def rows(self, name: str) -> list[Any]:
        return self.data[name]["rows"]

    def generate(self, count: int, articles: int = 4) -> None:
        """`count` more tickets, each from its own customer, with `articles` articles."""
        start = datetime(2023, 1, 1, tzinfo=UTC)
        for index in range(count):
            at = start + timedelta(minutes=index)
            stamp = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
            user = 1_000 + index
            self.rows("users").append(
                {
                    "id": user,
                    "firstname": "Customer",
                    "lastname": str(index),
                    "email": f"c{index}@bench.example",
                    "role_ids": [3],
                    "updated_at": stamp,
                }
            )
            ticket = 1_000 + index
            self.rows("tickets").append(
                {
                    "id": ticket,
                    "number": str(90_000 + index),
                    "title": f"Question {index}",
                    "state_id": 4 if index % 3 else 2,
                    "priority_id": 2,
                    "group_id": 1,
                    "owner_id": 3,
                    "customer_id": user,
                    "create_article_type": "email",
                    "created_at": stamp,
                    "updated_at": stamp,
                }
            )
            self.data["articles"][str(ticket)] = [
                {
                    "id": 100_000 + index * articles + n,
                    "ticket_id": ticket,
                    "content_type": "text/plain",
                    "body": f"Message {n} of ticket {index}: " + "words " * 30,
                    "internal": n == 2,
                    "created_by_id": user if n % 2 == 0 else 3,
                    "type": "note" if n == 2 else "email",
                    "sender": "Customer" if n % 2 == 0 else "Agent",
                    "attachments": [],
                    "created_at": (at + timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                }
                for n in range(articles)
            ]

    # --- Answers --------------------------------------------------------------------------------

    def too_many(self) -> Answer:
        return (
            429,
            {"error": "Too many requests", "error_human": "Too many requests"},
            {"Retry-After": self.retry_after},
        )

    def answer(
        self, path: str, query: dict[str, str], headers: Any, method: str = "GET", form: dict[str, str] | None = None
    ) -> Answer:
        if (early := self.intercept(method, path, query)) is not None:
            return early
        if headers.get("Authorization") != f"Token token={TOKEN}":
            return 401, {"error": "Authentication required", "error_human": "Authentication required"}, {}
        parts = path.strip("/").split("/")
        if parts[:2] != ["api", "v1"]:
            return 404, {"error": "No route matches"}, {}
        name = parts[2] if len(parts) > 2 else ""
        if name in ("knowledge_bases", "locales", "attachments"):
            return self._knowledge_base(method, name, parts[3:], query)
        if len(parts) == 3 and name in LISTS:
            rows = self.rows(name)
            if name == "tickets" and query.get("expand") != "true":
                rows = [{k: v for k, v in r.items() if k not in NAMES} if isinstance(r, dict) else r for r in rows]
            return self._page(rows, query)
        if name == "object_manager_attributes" and len(parts) == 3:
            return 200, self.rows(name), {}  # not paged: every attribute at once
        if name == "ticket_articles" and len(parts) == 5 and parts[3] == "by_ticket":
            if parts[4] not in self.data["articles"]:
                return 404, {"error": f"Couldn't find Ticket with 'id'={parts[4]}"}, {}
            return 200, self.data["articles"][parts[4]], {}
        if name == "tags" and query.get("object") == "Ticket":
            return 200, {"tags": self.data["tags"].get(query.get("o_id", ""), [])}, {}
        if name == "ticket_attachment":
            files = self.data["attachments"]
            if path in files:
                return 200, files[path].encode("latin-1"), {"Content-Type": "application/octet-stream"}
            return 404, {"error": "Couldn't find Store with 'id'"}, {}
        return 404, {"error": "No route matches"}, {}

    def _knowledge_base(self, method: str, name: str, rest: list[str], query: dict[str, str]) -> Answer:
        if name == "locales" and rest == [] and method == "GET":
            return 200, self.kb_data["locales"]["rows"], {}
        if name == "attachments" and len(rest) == 1 and method == "GET":
            if rest[0] not in self.kb_data["files"]["rows"]:
                return 404, {"error": f"Couldn't find Store with 'id'={rest[0]}"}, {}
            body = self.kb_data["files"]["rows"][rest[0]].encode("latin-1")
            return 200, body, {"Content-Type": "application/octet-stream"}
        if name == "knowledge_bases" and rest == ["init"] and method == "POST":
            return 200, self._init(), {}
        if name == "knowledge_bases" and len(rest) == 3 and rest[1] == "answers" and method == "GET":
            return self._answer(rest[2], query.get("include_contents", ""))
        return 404, {"error": "No route matches"}, {}

    def _init(self) -> dict[str, Any]:
        if not self.kb:
            return {}
        assets = copy.deepcopy(self.kb_data["init"]["assets"])
        if not self.kb_editor:  # a reader: no drafts nor archived answers (visible_internally?)
            now = datetime.now(UTC).isoformat()
            hidden = [
                key
                for key, answer in assets["KnowledgeBaseAnswer"].items()
                if not ((answer.get("internal_at") or answer.get("published_at") or "9") < now)
                or (answer.get("archived_at") or "9") < now
            ]
            for key in hidden:
                del assets["KnowledgeBaseAnswer"][key]
            assets["KnowledgeBaseAnswerTranslation"] = {
                k: t for k, t in assets["KnowledgeBaseAnswerTranslation"].items() if str(t["answer_id"]) not in hidden
            }
        return assets

    def _answer(self, answer_id: str, include: str) -> Answer:
        assets = self.kb_data["init"]["assets"]
        answer = assets["KnowledgeBaseAnswer"].get(answer_id)
        if answer is None or answer_id in self.kb_gone:
            return 404, {"error": f"Couldn't find KnowledgeBase::Answer with 'id'={answer_id}"}, {}
        translations = {
            k: t for k, t in assets["KnowledgeBaseAnswerTranslation"].items() if str(t["answer_id"]) == answer_id
        }
        own = {str(t["content_id"]) for t in translations.values()}
        category = assets["KnowledgeBaseCategory"][str(answer["category_id"])]
        shown: dict[str, Any] = {
            "KnowledgeBaseAnswer": {answer_id: answer},
            "KnowledgeBaseAnswerTranslation": translations,
            "KnowledgeBaseCategory": {str(category["id"]): category},
            "KnowledgeBase": assets["KnowledgeBase"],
        }
        wanted = [c for c in include.split(",") if c in own]  # another answer's content is not given
        if wanted:
            rows = self.kb_data["contents"]["rows"]
            shown["KnowledgeBaseAnswerTranslationContent"] = {c: rows[c] for c in wanted if c in rows}
        return 200, {"id": int(answer_id), "assets": shown}, {}

    def _page(self, rows: list[Any], query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        try:
            page = max(1, int(query.get("page", "1")))
            per_page = min(MAX_PER_PAGE, max(1, int(query.get("per_page", str(MAX_PER_PAGE)))))
        except ValueError:
            return 422, {"error": "page and per_page must be numbers"}, {}
        ordered = sorted(rows, key=lambda r: r.get("id", 0) if isinstance(r, dict) else 0)
        return 200, ordered[(page - 1) * per_page : page * per_page], {}
