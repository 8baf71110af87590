"""`sportello import freshdesk`: a Freshdesk account through its API v2 (https://developers.freshdesk.com/api/).

What is read:
- groups: `GET /api/v2/groups` (their `agent_ids` put the agents in them);
- companies: `GET /api/v2/companies`;
- agents: `GET /api/v2/agents` (each with its `contact`), then contacts:
  `GET /api/v2/contacts?_updated_since=` (every address: `email`, `other_emails`, `phone`, `mobile`,
  `twitter_id`);
- the contacts' and companies' `custom_fields` into Sportello's customer and organization fields,
  under their labels (`GET /api/v2/contact_fields`, `GET /api/v2/company_fields`);
- ticket fields: `GET /api/v2/ticket_fields` (the status field's `choices` give custom statuses
  their names: a ticket's status is mapped by its name, "Waiting on Customer", or by its number);
- satisfaction ratings: `GET /api/v2/surveys/satisfaction_ratings?created_since=` (a rating above
  neutral is "good", below it "bad");
- tickets: `GET /api/v2/tickets?include=description,requester,stats&updated_since=&order_by=updated_at
  &order_type=asc` (without `updated_since` Freshdesk lists only the last 30 days' tickets, so it
  is always given); each new or changed ticket's `GET /api/v2/tickets/{id}` (the description's
  attachments) and `GET /api/v2/tickets/{id}/conversations` (replies, notes: `private`).

Every list is paged with `page` and `per_page` (100, the most Freshdesk gives) and followed by the
`Link: <…>; rel="next"` header until it ends. The tickets' cursor is the `updated_at` of the last
ticket of the last page written, so a run started again (or the next delta) asks from there; a
list that would go past Freshdesk's page cap starts again from that time too.

Authentication is Basic with the API key as the user and `X` as the password (Authentication).
The knowledge base and canned responses, after the tickets (Solutions, Canned Responses):
- the account's languages: `GET /api/v2/settings/helpdesk` (`primary_language`, `supported_languages`);
- solution categories `GET /api/v2/solutions/categories`, their folders
  `GET /api/v2/solutions/categories/{id}/folders` and the folders' articles
  `GET /api/v2/solutions/folders/{id}/articles`; the same in each other language with the language
  code appended (`…/categories/{lang}`, `…/folders/{lang}`, `…/articles/{lang}`), which lists what
  is translated into it;
- the images an article's HTML shows from the account (`/helpdesk/attachments/…` or its host);
- canned responses: `GET /api/v2/canned_response_folders`, `…/{id}/responses`, and each response
  `GET /api/v2/canned_responses/{id}`: its text becomes a macro's; attachments and group
  restrictions are reported, personal ones (whose owner the API does not give) skipped.
A 429 is waited out as `Retry-After` says (Rate Limit); errors stop the import with Freshdesk's
`message` or `description` and `errors[]` (Error Codes). Shared with every REST source: http.py.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.parse
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from sportello.importers.kb_records import (
    KbArticleIn,
    KbCategoryIn,
    KbImageIn,
    KbTranslationIn,
    MacroIn,
    image_sources,
)
from sportello.importers.kb_writer import language_of
from sportello.importers.records import (
    AttachmentIn,
    Checkpoint,
    CommentIn,
    GroupIn,
    IdentityIn,
    OrganizationIn,
    PersonIn,
    RatingIn,
    Record,
    Skipped,
    TicketIn,
)
from sportello.importers.sources.http import TIMEOUT, ApiClient, link_next
from sportello.importers.sources.tabular import RowError, SourceError, parse_time
from sportello.importers.sources.zendesk import translate_placeholders

PER_PAGE = 100
MAX_PAGE = 300  # Freshdesk's page cap on lists: past it, ask again from the last time seen
EPOCH = "1970-01-01T00:00:00Z"

# Ticket `source` numbers (Tickets → Source) and conversation `source` numbers (Conversations).
TICKET_SOURCES = {
    1: "email",
    2: "portal",
    3: "phone",
    4: "web",  # forum
    5: "twitter",
    6: "facebook",
    7: "chat",
    8: "api",  # mobihelp
    9: "web_widget",  # feedback widget
    10: "email",  # outbound email
    11: "api",  # ecommerce
    12: "chat",  # bot
    13: "whatsapp",
}
# Freshdesk's placeholders (the canned responses' "Insert placeholder") that Sportello has.
PLACEHOLDERS = {
    "ticket.id": "ticket.number",
    "ticket.subject": "ticket.subject",
    "ticket.status": "ticket.status",
    "ticket.priority": "ticket.priority",
    "ticket.group.name": "ticket.group",
    "ticket.url": "ticket.url",
    "ticket.requester.name": "customer.name",
    "ticket.requester.firstname": "customer.first_name",
    "ticket.requester.email": "customer.email",
    "ticket.agent.name": "agent.name",
    "ticket.agent.firstname": "agent.first_name",
    "helpdesk_name": "site.url",
}
# A folder's `visibility`: 1 all users is public; logged-in users, agents, companies, segments
# and bots (2 to 7) are agents only here.
PUBLIC_FOLDER = 1
CONVERSATION_SOURCES = {0: "email", 1: "email", 5: "twitter", 7: "facebook", 8: "email", 9: "phone"}


def _time(value: Any) -> datetime | None:
    return parse_time(value, field="time", required=False) if value else None


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FreshdeskClient(ApiClient):
    vendor = "Freshdesk"
    example = "https://DOMAIN.freshdesk.com"

    def __init__(
        self,
        url: str,
        *,
        token: str,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = TIMEOUT,
        per_page: int = PER_PAGE,
    ) -> None:
        self.per_page = per_page
        credentials = base64.b64encode(f"{token}:X".encode()).decode()
        super().__init__(url, authorization=f"Basic {credentials}", sleep=sleep, timeout=timeout)

    def error_message(self, body: bytes) -> str:
        """Freshdesk's error bodies: {"code": "invalid_credentials", "message": …} or
        {"description": "Validation failed", "errors": [{"field", "message", "code"}]}."""
        try:
            data = json.loads(body)
        except ValueError:
            return body[:200].decode("utf-8", "replace") or "no details"
        if not isinstance(data, dict):
            return "no details"
        parts = [str(data[k]) for k in ("description", "message") if data.get(k)]
        for error in data.get("errors") or []:
            if isinstance(error, dict):
                parts.append(" ".join(str(error[k]) for k in ("field", "message") if error.get(k)))
        return ": ".join(parts) or str(data.get("code") or "no details")

    def pages(self, path: str, params: dict[str, Any] | None = None) -> Iterator[list[Any]]:
        """Each page of a list, following the Link header."""
        url: str | None = self.url(path, {"per_page": self.per_page, **(params or {})})
        while url:
            rows, headers = self.get_list(url)
            yield rows
            url = link_next(headers)


class FreshdeskSource:
    def __init__(
        self,
        url: str,
        *,
        token: str,
        sleep: Callable[[float], None] = time.sleep,
        client: FreshdeskClient | None = None,
        per_page: int = PER_PAGE,
        kb: bool = True,
    ) -> None:
        self.client = client or FreshdeskClient(url, token=token, sleep=sleep, per_page=per_page)
        self.name = f"freshdesk:{self.client.host}"[:100]
        self.group_members: dict[str, list[str]] = {}
        self.status_names: dict[str, str] = {}
        self.field_labels: dict[str, str] = {}
        # The contact and company fields' labels by name (`/api/v2/contact_fields`, `/company_fields`).
        self.labels_of: dict[str, dict[str, str]] = {}
        self.ratings: dict[str, RatingIn] = {}
        self.kb_streams = ("kb", "macros") if kb else ()

    def total(self, stream: str) -> int | None:
        return None  # Freshdesk's lists do not say how many rows they hold

    def read(self, stream: str, *, since: datetime | None, cursor: str | None) -> Iterator[Any]:
        if stream == "kb":
            yield from self._solutions()
            return
        if stream == "macros":
            yield from self._canned_responses()
            return
        if stream == "groups":
            yield from self._groups()
        elif stream == "organizations":
            yield from self._rows("/api/v2/companies", {}, "organization", self._company)
        elif stream == "people":
            yield from self._rows("/api/v2/agents", {}, "agent", self._agent)
            start = cursor or (_stamp(since) if since else EPOCH)
            started: str | None = None
            for rows, at in self._pages_with_date("/api/v2/contacts", {"_updated_since": start}):
                started = at if started is None else started
                yield from self._convert(rows, "customer", self._contact)
            if started:
                yield Checkpoint("people", started)
        elif stream == "tickets":
            self._ticket_fields()
            self._ratings(cursor or (_stamp(since) if since else EPOCH))
            yield from self._tickets(cursor or (_stamp(since) if since else EPOCH))

    # --- Solutions ------------------------------------------------------------------------------

    def _all(self, path: str) -> list[dict[str, Any]]:
        return [row for rows in self.client.pages(path) for row in rows if isinstance(row, dict)]

    def _translated(self, path: str) -> list[dict[str, Any]]:
        """A list in another language; a language with nothing in it may answer 404."""
        try:
            return self._all(path)
        except SourceError as exc:
            if " 404 " in str(exc):
                return []
            raise

    def _languages(self) -> tuple[str, list[str]]:
        """The primary language and the others that this knowledge base has too (Freshdesk codes)."""
        settings = self.client.get("/api/v2/settings/helpdesk")
        primary = str(settings.get("primary_language") or "en")
        others = [str(c) for c in settings.get("supported_languages") or [] if str(c) != primary]
        return primary, [c for c in others if language_of(c)]

    def _solutions(self) -> Iterator[Any]:
        primary, others = self._languages()
        categories = self._all("/api/v2/solutions/categories")
        names: dict[str, dict[str, str]] = {}
        for code in others:
            for row in self._translated(f"/api/v2/solutions/categories/{code}"):
                names.setdefault(str(row.get("id")), {})[language_of(code) or code] = str(row.get("name") or "")
        for position, row in enumerate(categories):
            if row.get("id") is None:
                yield Skipped("category", "?", "a category without an id")
                continue
            yield KbCategoryIn(
                f"category:{row['id']}",
                str(row.get("name") or ""),
                position=position,
                names=names.get(str(row["id"]), {}),
            )
        for row in [c for c in categories if c.get("id") is not None]:
            folders = [
                f for f in self._all(f"/api/v2/solutions/categories/{row['id']}/folders") if f.get("id") is not None
            ]
            names = {}
            for code in others:
                for folder in self._translated(f"/api/v2/solutions/categories/{row['id']}/folders/{code}"):
                    names.setdefault(str(folder.get("id")), {})[language_of(code) or code] = str(
                        folder.get("name") or ""
                    )
            for position, folder in enumerate(folders):
                yield KbCategoryIn(
                    f"folder:{folder['id']}",
                    str(folder.get("name") or ""),
                    parent=f"category:{row['id']}",
                    position=position,
                    names=names.get(str(folder["id"]), {}),
                )
            for folder in folders:
                yield from self._folder_articles(folder, primary, others)

    def _folder_articles(self, folder: dict[str, Any], primary: str, others: list[str]) -> Iterator[Any]:
        path = f"/api/v2/solutions/folders/{folder['id']}/articles"
        translated: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for code in others:
            for row in self._translated(f"{path}/{code}"):
                translated.setdefault(str(row.get("id")), []).append((code, row))
        public = _int(folder.get("visibility")) in (0, PUBLIC_FOLDER)
        for position, row in enumerate(self._all(path)):
            try:
                article_id = str(row["id"])
                rows = [(primary, row), *translated.get(article_id, [])]
                translations = [
                    KbTranslationIn(
                        source_id=f"{article_id}:{code}",
                        locale=code,
                        title=str(each.get("title") or ""),
                        body_html=str(each.get("description") or ""),
                        draft=_int(each.get("status")) != 2,  # 1 draft, 2 published
                        created_at=_time(each.get("created_at")),
                        updated_at=_time(each.get("updated_at")),
                    )
                    for code, each in rows
                ]
                images: list[KbImageIn] = []
                for translation in translations:
                    for src in image_sources(translation.body_html):
                        if src not in [i.url for i in images] and self._own_image(src):
                            images.append(self._image(src))
                yield KbArticleIn(
                    source_id=article_id,
                    category=f"folder:{folder['id']}",
                    translations=translations,
                    visibility="public" if public else "internal",
                    tags=[str(t) for t in row.get("tags") or []],
                    position=position,
                    created_at=_time(row.get("created_at")),
                    updated_at=_time(row.get("updated_at")),
                    images=images,
                )
            except (KeyError, TypeError, ValueError, RowError) as exc:
                yield Skipped("article", str(row.get("id", "?")), f"cannot read it: {exc}")

    def _own_image(self, src: str) -> bool:
        parsed = urllib.parse.urlsplit(src)
        if parsed.scheme not in ("", "http", "https"):
            return False
        return not parsed.netloc or parsed.netloc == self.client.host or "/helpdesk/attachments/" in parsed.path

    def _image(self, src: str) -> KbImageIn:
        url = urllib.parse.urljoin(self.client.base + "/", src)
        filename = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1]) or "image"
        return KbImageIn(url=src, filename=filename, fetch=lambda: self.client.download(url))

    # --- Canned responses -----------------------------------------------------------------------

    def _canned_responses(self) -> Iterator[Any]:
        from sportello.core.html import html_to_text

        for folder in self._all("/api/v2/canned_response_folders"):
            for listed in self._all(f"/api/v2/canned_response_folders/{folder['id']}/responses"):
                response_id = str(listed.get("id", "?"))
                if folder.get("personal") or _int(listed.get("visibility")) == 1:
                    yield Skipped("macro", response_id, "a personal canned response (the API does not say whose)")
                    continue
                try:
                    row = self.client.get(f"/api/v2/canned_responses/{response_id}")
                except SourceError as exc:
                    yield Skipped("macro", response_id, str(exc))
                    continue
                html = str(row.get("content_html") or "")
                body = html_to_text(html) if html else str(row.get("content") or "")
                body, missing = translate_placeholders(body, PLACEHOLDERS)
                unmapped = [f"placeholder {{{{{name}}}}}" for name in missing]
                files = [str(a.get("name") or a.get("id")) for a in row.get("attachments") or [] if isinstance(a, dict)]
                if files:
                    unmapped.append("attachments " + ", ".join(files))
                if _int(row.get("visibility")) == 2:
                    unmapped.append(f"restriction to groups {row.get('group_ids') or []}")
                yield MacroIn(
                    source_id=response_id,
                    name=str(row.get("title") or listed.get("title") or ""),
                    body=body,
                    unmapped=unmapped,
                    updated_at=_time(row.get("updated_at")),
                )

    # --- Reading --------------------------------------------------------------------------------

    def _pages_with_date(self, path: str, params: dict[str, Any]) -> Iterator[tuple[list[Any], str]]:
        """Pages with the server's time of the first answer: what changed after it comes next time."""
        url: str | None = self.client.url(path, {"per_page": self.client.per_page, **params})
        while url:
            rows, headers = self.client.get_list(url)
            date = headers.get("Date")
            try:
                at = _stamp(parsedate_to_datetime(date)) if date else ""
            except (TypeError, ValueError):
                at = ""
            yield rows, at
            url = link_next(headers)

    def _rows(
        self,
        path: str,
        params: dict[str, Any],
        kind: str,
        convert: Callable[[dict[str, Any]], Record | None],
    ) -> Iterator[Record]:
        for rows in self.client.pages(path, params):
            yield from self._convert(rows, kind, convert)

    def _convert(
        self, rows: list[Any], kind: str, convert: Callable[[dict[str, Any]], Record | None]
    ) -> Iterator[Record]:
        for row in rows:
            if not isinstance(row, dict):
                yield Skipped(kind, "?", f"not an object: {str(row)[:80]}")
                continue
            try:
                record = convert(row)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                record = Skipped(kind, str(row.get("id", "?")), f"cannot read it: {exc}")
            if record is not None:
                yield record

    def _groups(self) -> Iterator[Record]:
        for rows in self.client.pages("/api/v2/groups"):
            for row in rows:
                if not isinstance(row, dict) or "id" not in row:
                    yield Skipped("group", "?", "not a group")
                    continue
                for agent in row.get("agent_ids") or []:
                    self.group_members.setdefault(str(agent), []).append(str(row["id"]))
                yield GroupIn(str(row["id"]), str(row.get("name") or ""), str(row.get("description") or ""))

    def _company(self, row: dict[str, Any]) -> Record:
        domains = row.get("domains") or []
        return OrganizationIn(
            source_id=str(row["id"]),
            name=str(row.get("name") or ""),
            domain=str(domains[0]) if domains else "",
            notes="\n\n".join(str(row[k]) for k in ("description", "note") if row.get(k)),
            updated_at=_time(row.get("updated_at")),
            custom_fields=self._labelled("company_fields", row.get("custom_fields")),
        )

    def _identities(self, row: dict[str, Any]) -> list[IdentityIn]:
        identities: list[IdentityIn] = []
        if row.get("email"):
            identities.append(IdentityIn("email", str(row["email"])))
        for email in row.get("other_emails") or []:
            identities.append(IdentityIn("email", str(email)))
        for key in ("phone", "mobile"):
            if row.get(key):
                identities.append(IdentityIn("phone", str(row[key]), False))
        if row.get("twitter_id"):
            handle = str(row["twitter_id"])
            identities.append(IdentityIn("social", handle if handle.startswith("@") else f"@{handle}"))
        return identities

    def _agent(self, row: dict[str, Any]) -> Record:
        contact = row.get("contact") or {}
        agent_id = str(row["id"])
        return PersonIn(
            source_id=agent_id,
            name=str(contact.get("name") or ""),
            identities=self._identities(contact),
            agent=True,
            groups=sorted({*(str(g) for g in row.get("group_ids") or []), *self.group_members.get(agent_id, [])}),
            language=str(contact.get("language") or "")[:2],
            updated_at=_time(row.get("updated_at")),
        )

    def _contact(self, row: dict[str, Any]) -> Record:
        if row.get("deleted"):
            return Skipped("customer", str(row["id"]), "deleted in Freshdesk")
        return PersonIn(
            source_id=str(row["id"]),
            name=str(row.get("name") or ""),
            identities=self._identities(row),
            organization=str(row.get("company_id") or ""),
            language=str(row.get("language") or "")[:2],
            notes=str(row.get("description") or ""),
            updated_at=_time(row.get("updated_at")),
            custom_fields=self._labelled("contact_fields", row.get("custom_fields")),
        )

    def _labelled(self, kind: str, given: Any) -> dict[str, Any]:
        """A contact's or company's `custom_fields` ({name: value}) by their fields' labels
        (`GET /api/v2/contact_fields`, `/api/v2/company_fields`); a name not listed keeps its name."""
        if not isinstance(given, dict) or not any(v not in (None, "", []) for v in given.values()):
            return {}
        if kind not in self.labels_of:
            self.labels_of[kind] = {}
            try:
                rows, _headers = self.client.get_list(f"/api/v2/{kind}")
            except SourceError:
                rows = []  # no access to the definitions: the values come under their names
            for row in rows:
                if isinstance(row, dict) and row.get("name"):
                    self.labels_of[kind][str(row["name"])] = str(row.get("label") or row["name"])
        labels = self.labels_of[kind]
        return {labels.get(str(k), str(k)): v for k, v in given.items() if v not in (None, "", [])}

    def _ticket_fields(self) -> None:
        rows, _headers = self.client.get_list("/api/v2/ticket_fields")
        for row in rows:
            if not isinstance(row, dict):
                continue
            if row.get("name"):
                self.field_labels[str(row["name"])] = str(row.get("label") or row["name"])
            if row.get("type") == "default_status" and isinstance(row.get("choices"), dict):
                for number, names in row["choices"].items():
                    name = names[0] if isinstance(names, list) and names else names
                    if isinstance(name, str) and name.strip():
                        self.status_names[str(number)] = name.strip()

    def _ratings(self, since: str) -> None:
        for rows in self.client.pages("/api/v2/surveys/satisfaction_ratings", {"created_since": since}):
            for row in rows:
                if not isinstance(row, dict) or not row.get("ticket_id"):
                    continue
                scores = [v for v in (row.get("ratings") or {}).values() if isinstance(v, int)]
                if not scores:
                    continue
                score = (row.get("ratings") or {}).get("default_question", scores[0])
                if score == 100 or not isinstance(score, int):
                    continue  # neutral: neither good nor bad
                self.ratings[str(row["ticket_id"])] = RatingIn(
                    "good" if score > 100 else "bad",
                    str(row.get("feedback") or ""),
                    _time(row.get("updated_at") or row.get("created_at")),
                )

    def _tickets(self, since: str) -> Iterator[Record]:
        params = {
            "include": "description,requester,stats",
            "order_by": "updated_at",
            "order_type": "asc",
        }
        while True:
            query = {"per_page": self.client.per_page, "updated_since": since, **params}
            url: str | None = self.client.url("/api/v2/tickets", query)
            page = 0
            last = since
            while url:
                page += 1
                rows, headers = self.client.get_list(url)
                yield from self._convert(rows, "ticket", self._ticket)
                stamps = [r["updated_at"] for r in rows if isinstance(r, dict) and isinstance(r.get("updated_at"), str)]
                if stamps:
                    last = stamps[-1]
                    yield Checkpoint("tickets", last)
                url = link_next(headers)
                if url and page >= MAX_PAGE:
                    break
            else:
                return
            if last == since:
                return  # a whole window of tickets updated at one second: nothing more to ask
            since = last

    def _ticket(self, row: dict[str, Any]) -> Record:
        ticket_id = str(row["id"])
        if row.get("deleted"):
            return Skipped("ticket", ticket_id, "deleted in Freshdesk")
        created = _time(row.get("created_at"))
        if created is None:
            return Skipped("ticket", ticket_id, "no created_at")
        status = str(row.get("status") or "2")
        stats = row.get("stats") or {}
        custom = {
            self.field_labels.get(k, k): v for k, v in (row.get("custom_fields") or {}).items() if v not in (None, "")
        }
        if row.get("type"):
            custom["Type"] = row["type"]
        ticket = TicketIn(
            source_id=ticket_id,
            number=int(row["id"]),
            subject=str(row.get("subject") or ""),
            requester=str(row.get("requester_id") or ""),
            created_at=created,
            updated_at=_time(row.get("updated_at")) or created,
            status="spam" if row.get("spam") else self.status_names.get(status, status),
            priority=str(row.get("priority") or ""),
            channel=TICKET_SOURCES.get(_int(row.get("source")), "email"),
            group=str(row.get("group_id") or ""),
            assignee=str(row.get("responder_id") or ""),
            tags=[str(t) for t in row.get("tags") or []],
            solved_at=_time(stats.get("resolved_at")) or _time(stats.get("closed_at")),
            rating=self.ratings.get(ticket_id),
            custom_fields=custom,
        )
        description = {
            "html": str(row.get("description") or ""),
            "text": str(row.get("description_text") or ""),
        }
        ticket.load_comments = lambda: self._thread(ticket, description)
        return ticket

    def _thread(self, ticket: TicketIn, description: dict[str, str]) -> list[CommentIn]:
        full = self.client.get(f"/api/v2/tickets/{ticket.source_id}")
        comments = [
            CommentIn(
                source_id=f"{ticket.source_id}:description",
                author=ticket.requester,
                body_text=str(full.get("description_text") or description["text"]),
                body_html=str(full.get("description") or description["html"]),
                created_at=ticket.created_at,
                attachments=[self._attachment(a) for a in full.get("attachments") or [] if isinstance(a, dict)],
            )
        ]
        for rows in self.client.pages(f"/api/v2/tickets/{ticket.source_id}/conversations"):
            for row in rows:
                if not isinstance(row, dict):
                    continue
                try:
                    at = _time(row.get("created_at"))
                except RowError:
                    at = None
                if at is None or "id" not in row:
                    continue  # a conversation without a time has no place in the thread
                comments.append(
                    CommentIn(
                        source_id=str(row["id"]),
                        author=str(row.get("user_id") or ""),
                        body_text=str(row.get("body_text") or ""),
                        body_html=str(row.get("body") or ""),
                        created_at=at,
                        public=not row.get("private"),
                        channel="" if row.get("private") else CONVERSATION_SOURCES.get(_int(row.get("source")), ""),
                        attachments=[self._attachment(a) for a in row.get("attachments") or [] if isinstance(a, dict)],
                    )
                )
        return comments

    def _attachment(self, row: dict[str, Any]) -> AttachmentIn:
        url = str(row.get("attachment_url") or "")
        return AttachmentIn(
            source_id=str(row.get("id") or url),
            filename=str(row.get("name") or "attachment"),
            content_type=str(row.get("content_type") or ""),
            size=_int(row.get("size")),
            fetch=(lambda: self.client.download(url)) if url else None,
        )
