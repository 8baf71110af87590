"""`sportello import zendesk`: a Zendesk Support account through its REST API.

What is read, and the documentation it follows (developer.zendesk.com/api-reference):
- groups: `GET /api/v2/groups` (ticketing/groups/groups), followed by `next_page`;
- organizations: the time-based incremental export `GET /api/v2/incremental/organizations?start_time=`
  (ticketing/ticket-management/incremental_exports), pages until `end_of_stream`, `end_time` as cursor;
- users, with every identity sideloaded: `GET /api/v2/incremental/users/cursor?start_time=&include=identities`,
  then `?cursor=<after_cursor>` until `end_of_stream`;
- tickets: `GET /api/v2/incremental/tickets/cursor?start_time=`, then `?cursor=`;
- the ticket fields (`GET /api/v2/ticket_fields`, ticketing/tickets/ticket_fields): a ticket's
  `custom_fields` values arrive under their fields' titles, a drop-down's under its option's name;
- the user and organization fields (`GET /api/v2/user_fields`, `/api/v2/organization_fields`,
  ticketing/users/user_fields, …/organizations/organization_fields): a customer's `user_fields` and
  an organization's `organization_fields` arrive in Sportello's customer and organization fields
  under their titles, as the ticket fields do;
- each new or changed ticket's thread: `GET /api/v2/tickets/{id}/comments?page[size]=100`, cursor
  pagination (`meta.has_more`, `links.next`) (ticketing/tickets/ticket_comments);
- attachments: each comment's `attachments[].content_url`, downloaded.

The knowledge base and macros, after the tickets (help_center/help-center-api/articles,
…/sections, …/categories, …/translations; ticketing/business-rules/macros):
- `GET /api/v2/help_center/categories`, `…/sections` and `…/articles`, followed by `next_page` (offset
  pagination) or `links.next` while `meta.has_more` (cursor pagination, `page[size]=100`);
- each article's translations: `GET /api/v2/help_center/articles/{id}/translations`, and each
  category's and section's (`…/categories/{id}/translations`, `…/sections/{id}/translations`) for
  their names in other languages;
- the images an article's HTML shows from the account itself (`/hc/article_attachments/…` or any
  address on its host), downloaded and stored in the knowledge base;
- with `--since`, only the articles whose `updated_at` (or `edited_at`) is later, and the macros
  changed since (the categories and sections are read whole: they are few);
- `GET /api/v2/macros`: each action (`{"field", "value"}`) as a Sportello macro action where there
  is one (status, priority, group, assignee, tags, the comment text); the others are reported.

Authentication is an API token: Basic `{email}/token:{token}` (introduction#api-token).
Rate limits (account-api/rate-limits): a 429 says how long to wait in `Retry-After` (seconds);
the shared client (sources/http.py) waits that long and asks again. 5xx answers are retried a few
times with a growing wait; any other error stops the import with the error body's message (a run
started again resumes).
"""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.parse
from collections.abc import Callable, Iterator
from datetime import datetime
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
from sportello.importers.sources.http import TIMEOUT, ApiClient
from sportello.importers.sources.tabular import SourceError, parse_time

IDENTITY_KINDS = {"email": "email", "phone_number": "phone", "twitter": "social", "facebook": "social"}
# Zendesk's placeholders (support.zendesk.com: "Zendesk Support placeholders reference") that have
# a Sportello one; the others stay as they are and are reported.
PLACEHOLDERS = {
    "ticket.id": "ticket.number",
    "ticket.title": "ticket.subject",
    "ticket.status": "ticket.status",
    "ticket.priority": "ticket.priority",
    "ticket.group.name": "ticket.group",
    "ticket.url": "ticket.url",
    "ticket.link": "ticket.url",
    "ticket.requester.name": "customer.name",
    "ticket.requester.first_name": "customer.first_name",
    "ticket.requester.email": "customer.email",
    "current_user.name": "agent.name",
    "current_user.first_name": "agent.first_name",
    "ticket.assignee.name": "agent.name",
    "ticket.assignee.first_name": "agent.first_name",
}
PLACEHOLDER = re.compile(r"\{\{\s*([\w.]+)\s*\}\}")


def translate_placeholders(text: str, known: dict[str, str]) -> tuple[str, list[str]]:
    """`text` with the source's placeholders written as Sportello's, and those that have none."""
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in known:
            return "{{ " + known[name] + " }}"
        if name not in missing:
            missing.append(name)
        return match.group(0)

    return PLACEHOLDER.sub(replace, text or ""), missing


class ZendeskClient(ApiClient):
    vendor = "Zendesk"
    example = "https://SUBDOMAIN.zendesk.com"

    def __init__(
        self,
        url: str,
        *,
        email: str,
        token: str,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = TIMEOUT,
    ) -> None:
        credentials = base64.b64encode(f"{email}/token:{token}".encode()).decode()
        super().__init__(url, authorization=f"Basic {credentials}", sleep=sleep, timeout=timeout)

    def error_message(self, body: bytes) -> str:
        return _error_message(body)


def _error_message(body: bytes) -> str:
    """Zendesk's error bodies: {"error": "RecordNotFound", "description": "Not found"} or
    {"error": {"title": …, "message": …}} or {"errors": [{"title", "detail"}]}."""
    try:
        data = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace") or "no details"
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return ": ".join(str(error[k]) for k in ("title", "message") if error.get(k)) or json.dumps(error)
    if isinstance(data, dict) and isinstance(data.get("errors"), list) and data["errors"]:
        first = data["errors"][0]
        return ": ".join(str(first.get(k)) for k in ("title", "detail") if first.get(k))
    parts = [str(data.get(k)) for k in ("error", "description", "details") if isinstance(data, dict) and data.get(k)]
    return ": ".join(parts) or "no details"


def _time(value: Any) -> datetime | None:
    return parse_time(value, field="time", required=False) if value else None


def _position(row: dict[str, Any]) -> int:
    try:
        return max(0, min(int(row.get("position") or 0), 32767))
    except (TypeError, ValueError):
        return 0


class ZendeskSource:
    def __init__(
        self,
        url: str,
        *,
        email: str,
        token: str,
        sleep: Callable[[float], None] = time.sleep,
        client: ZendeskClient | None = None,
        kb: bool = True,
    ) -> None:
        self.client = client or ZendeskClient(url, email=email, token=token, sleep=sleep)
        self.name = f"zendesk:{self.client.host}"[:100]
        self.kb_streams = ("kb", "macros") if kb else ()
        # The custom ticket fields by id: (title, option value -> option name), read once.
        self.ticket_fields: dict[str, tuple[str, dict[str, str]]] | None = None
        # The user and organization fields by key, the same way (`user_fields`, `organization_fields`).
        self.fields_of: dict[str, dict[str, tuple[str, dict[str, str]]]] = {}

    def total(self, stream: str) -> int | None:
        path = {"organizations": "organizations", "people": "users", "tickets": "tickets"}.get(stream)
        if path is None:
            return None
        try:
            count = self.client.get(f"/api/v2/{path}/count.json").get("count")
            value = count.get("value") if isinstance(count, dict) else None
            return int(value) if value is not None else None
        except (SourceError, TypeError, ValueError):
            return None

    def read(self, stream: str, *, since: datetime | None, cursor: str | None) -> Iterator[Any]:
        start = str(int(since.timestamp())) if since else "0"
        if stream == "groups":
            yield from self._groups()
        elif stream == "organizations":
            yield from self._organizations(cursor or start)
        elif stream == "people":
            yield from self._cursor_export("users", start, cursor, self._person, include="identities")
        elif stream == "tickets":
            yield from self._cursor_export("tickets", start, cursor, self._ticket)
        elif stream == "kb":
            yield from self._knowledge_base(since)
        elif stream == "macros":
            for row in self._list("/api/v2/macros.json", "macros"):
                yield self._macro(row)

    # --- Help Center ----------------------------------------------------------------------------------

    def _list(self, path: str, key: str) -> Iterator[dict[str, Any]]:
        """Every row of a list, by cursor pagination (`meta.has_more`, `links.next`) or by offset
        (`next_page`), whichever the answer uses."""
        url: str | None = path
        params: dict[str, Any] | None = {"page[size]": 100}
        while url:
            page = self.client.get(url, params)
            for row in page.get(key) or []:
                if isinstance(row, dict):
                    yield row
            meta, links = page.get("meta") or {}, page.get("links") or {}
            url = links.get("next") if meta.get("has_more") else page.get("next_page")
            params = None

    def _knowledge_base(self, since: datetime | None = None) -> Iterator[Any]:
        for row in self._list("/api/v2/help_center/categories.json", "categories"):
            if row.get("id") is None:
                yield Skipped("category", "?", "a category without an id")
                continue
            yield KbCategoryIn(
                f"category:{row['id']}",
                str(row.get("name") or ""),
                position=_position(row),
                names=self._names("categories", row),
            )
        for row in self._list("/api/v2/help_center/sections.json", "sections"):
            if row.get("id") is None:
                yield Skipped("category", "?", "a section without an id")
                continue
            parent = f"section:{row['parent_section_id']}" if row.get("parent_section_id") else ""
            yield KbCategoryIn(
                f"section:{row['id']}",
                str(row.get("name") or ""),
                parent=parent or f"category:{row.get('category_id')}",
                position=_position(row),
                names=self._names("sections", row),
            )
        for row in self._list("/api/v2/help_center/articles.json", "articles"):
            changed = [t for t in (_time(row.get("updated_at")), _time(row.get("edited_at"))) if t]
            if since is not None and changed and max(changed) < since:
                continue  # --since: unchanged, its translations are not even asked for
            try:
                yield self._article(row)
            except (KeyError, TypeError, ValueError) as exc:
                yield Skipped("article", str(row.get("id", "?")), f"cannot read it: {exc!r}")

    def _names(self, kind: str, row: dict[str, Any]) -> dict[str, str]:
        """A category's or section's name in each other language (`…/{id}/translations`)."""
        names: dict[str, str] = {}
        own = language_of(str(row.get("source_locale") or row.get("locale") or ""))
        for translation in self._list(f"/api/v2/help_center/{kind}/{row['id']}/translations.json", "translations"):
            language = language_of(str(translation.get("locale") or ""))
            if language and language != own and translation.get("title"):
                names.setdefault(language, str(translation["title"]))
        return names

    def _article(self, row: dict[str, Any]) -> KbArticleIn:
        article_id = str(row["id"])
        translations = [
            KbTranslationIn(
                source_id=str(t["id"]),
                locale=str(t.get("locale") or ""),
                title=str(t.get("title") or ""),
                body_html=str(t.get("body") or ""),
                draft=bool(t.get("draft")),
                created_at=_time(t.get("created_at")),
                updated_at=_time(t.get("updated_at")),
            )
            for t in self._list(f"/api/v2/help_center/articles/{article_id}/translations.json", "translations")
        ]
        # The article's own locale first: it is what the article is made with.
        translations.sort(key=lambda t: t.locale != row.get("source_locale", row.get("locale")))
        images: list[KbImageIn] = []
        for translation in translations:
            for src in image_sources(translation.body_html):
                if src not in [i.url for i in images] and self._own_image(src):
                    images.append(self._image(src))
        return KbArticleIn(
            source_id=article_id,
            category=f"section:{row.get('section_id')}",
            translations=translations,
            # A user segment restricts who sees it (signed-in users, agents…): agents only here.
            visibility="public" if row.get("user_segment_id") is None else "internal",
            tags=[str(t) for t in row.get("label_names") or []],
            position=_position(row),
            created_at=_time(row.get("created_at")),
            updated_at=_time(row.get("updated_at")),
            images=images,
        )

    def _own_image(self, src: str) -> bool:
        """An image kept by the account (not one shown from elsewhere on the web)."""
        parsed = urllib.parse.urlsplit(src)
        if parsed.scheme not in ("", "http", "https"):
            return False
        return not parsed.netloc or parsed.netloc == self.client.host or "/hc/article_attachments/" in parsed.path

    def _image(self, src: str) -> KbImageIn:
        url = urllib.parse.urljoin(self.client.base + "/", src)
        filename = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1]) or "image"
        return KbImageIn(url=src, filename=filename, fetch=lambda: self.client.download(url))

    # --- Macros ---------------------------------------------------------------------------------------

    def _macro(self, row: dict[str, Any]) -> MacroIn | Skipped:
        """A macro's actions (ticketing/business-rules/actions reference) as Sportello's."""
        if "id" not in row:
            return Skipped("macro", "?", "no id")
        actions: list[dict[str, Any]] = []
        unmapped: list[str] = []
        body = html_body = ""
        for action in row.get("actions") or []:
            field, value = str(action.get("field") or ""), action.get("value")
            if isinstance(value, list) and field.startswith("comment_value"):
                value = value[-1] if value else ""  # ["channel:all", "text"]
            words = value.split() if isinstance(value, str) else [str(v) for v in value or []]
            if field == "status":
                actions.append({"type": "set_status", "status": str(value)})
            elif field == "priority":
                actions.append({"type": "set_priority", "priority": str(value)})
            elif field == "group_id" and value not in ("", None):
                actions.append({"type": "set_group", "group": str(value)})
            elif field == "assignee_id" and value in ("", None):
                actions.append({"type": "set_assignee", "assignee": None})
            elif field == "assignee_id" and str(value).isdigit():
                actions.append({"type": "set_assignee", "assignee": str(value)})
            elif field in ("set_tags", "current_tags", "remove_tags"):
                kind = {"set_tags": "set_tags", "current_tags": "add_tags", "remove_tags": "remove_tags"}[field]
                actions.append({"type": kind, "tags": words})
            elif field == "comment_value":
                body = str(value or "")
            elif field == "comment_value_html":
                html_body = str(value or "")
            elif field == "comment_mode_is_public" and str(value).lower() in ("true", "1"):
                pass  # a public reply is what a macro's text is here
            else:
                unmapped.append(f"{field}={json.dumps(value)}")
        if not body and html_body:
            from sportello.core.html import html_to_text

            body = html_to_text(html_body)
        body, missing = translate_placeholders(body, PLACEHOLDERS)
        unmapped += [f"placeholder {{{{{name}}}}}" for name in missing]
        restriction = row.get("restriction") or {}
        owner = ""
        if isinstance(restriction, dict) and restriction.get("type") == "User":
            owner = str(restriction.get("id") or "")
        elif isinstance(restriction, dict) and restriction.get("type"):
            unmapped.append(
                f"restriction to {restriction.get('type')} {restriction.get('ids') or restriction.get('id')}"
            )
        return MacroIn(
            source_id=str(row["id"]),
            name=str(row.get("title") or ""),
            body=body,
            actions=actions,
            unmapped=unmapped,
            active=bool(row.get("active", True)),
            owner=owner,
            updated_at=_time(row.get("updated_at")),
        )

    def _groups(self) -> Iterator[Record]:
        url: str | None = "/api/v2/groups.json"
        while url:
            page = self.client.get(url)
            for group in page.get("groups") or []:
                if not group.get("deleted"):
                    yield GroupIn(str(group["id"]), str(group.get("name") or ""), str(group.get("description") or ""))
            url = page.get("next_page")

    def _organizations(self, start: str) -> Iterator[Record]:
        params: dict[str, Any] | None = {"start_time": start}
        url = "/api/v2/incremental/organizations.json"
        while True:
            page = self.client.get(url, params)
            for row in page.get("organizations") or []:
                if row.get("deleted_at"):
                    continue
                domains = row.get("domain_names") or []
                yield OrganizationIn(
                    source_id=str(row["id"]),
                    name=str(row.get("name") or ""),
                    domain=str(domains[0]) if domains else "",
                    notes=str(row.get("notes") or ""),
                    updated_at=_time(row.get("updated_at")),
                    custom_fields=self._keyed_fields("organization_fields", row.get("organization_fields")),
                )
            if page.get("end_time") is not None:
                yield Checkpoint("organizations", str(page["end_time"]))
            if page.get("end_of_stream") or not page.get("next_page"):
                return
            url, params = page["next_page"], None

    def _cursor_export(
        self,
        kind: str,
        start: str,
        cursor: str | None,
        convert: Callable[[dict[str, Any], dict[str, Any]], Record | None],
        include: str = "",
    ) -> Iterator[Record]:
        params: dict[str, Any] = {"cursor": cursor} if cursor else {"start_time": start}
        if include:
            params["include"] = include
        while True:
            page = self.client.get(f"/api/v2/incremental/{kind}/cursor.json", params)
            for row in page.get(kind) or []:
                try:
                    record = convert(row, page)
                except (KeyError, TypeError, ValueError) as exc:
                    record = Skipped(kind.rstrip("s"), str(row.get("id", "?")), f"cannot read it: {exc}")
                if record is not None:
                    yield record
            if page.get("after_cursor"):
                yield Checkpoint("people" if kind == "users" else kind, str(page["after_cursor"]))
            if page.get("end_of_stream") or not page.get("after_cursor"):
                return
            params = {"cursor": page["after_cursor"]}
            if include:
                params["include"] = include

    def _person(self, row: dict[str, Any], page: dict[str, Any]) -> Record | None:
        user_id = str(row["id"])
        identities: list[IdentityIn] = []
        for identity in page.get("identities") or []:
            if str(identity.get("user_id")) == user_id and identity.get("type") in IDENTITY_KINDS:
                identities.append(
                    IdentityIn(IDENTITY_KINDS[identity["type"]], str(identity["value"]), bool(identity.get("verified")))
                )
        values = {(i.kind, i.value.lower()) for i in identities}
        if row.get("email") and ("email", str(row["email"]).lower()) not in values:
            identities.insert(0, IdentityIn("email", str(row["email"]), bool(row.get("verified"))))
        if row.get("phone") and not any(i.kind == "phone" for i in identities):
            identities.append(IdentityIn("phone", str(row["phone"]), False))
        role = row.get("role") or "end-user"
        return PersonIn(
            source_id=user_id,
            name=str(row.get("name") or ""),
            identities=identities,
            organization=str(row.get("organization_id") or ""),
            agent=role in ("agent", "admin"),
            admin=role == "admin",
            groups=[str(row["default_group_id"])] if row.get("default_group_id") else [],
            language=str(row.get("locale") or "")[:2],
            notes=str(row.get("notes") or ""),
            updated_at=_time(row.get("updated_at")),
            custom_fields={}
            if role in ("agent", "admin")
            else self._keyed_fields("user_fields", row.get("user_fields")),
        )

    def _ticket(self, row: dict[str, Any], page: dict[str, Any]) -> Record | None:
        ticket_id = str(row["id"])
        if row.get("status") == "deleted":
            return Skipped("ticket", ticket_id, "deleted in Zendesk")
        created = _time(row.get("created_at"))
        if created is None:
            return Skipped("ticket", ticket_id, "no created_at")
        rating = row.get("satisfaction_rating") or {}
        score = rating.get("score") if isinstance(rating, dict) else None
        return TicketIn(
            source_id=ticket_id,
            number=int(row["id"]),
            subject=str(row.get("subject") or row.get("raw_subject") or ""),
            requester=str(row.get("requester_id") or ""),
            created_at=created,
            updated_at=_time(row.get("updated_at")) or created,
            status=str(row.get("status") or "open"),
            priority=str(row.get("priority") or ""),
            channel=str((row.get("via") or {}).get("channel") or "email"),
            group=str(row.get("group_id") or ""),
            assignee=str(row.get("assignee_id") or ""),
            tags=[str(t) for t in row.get("tags") or []],
            rating=RatingIn(score, str(rating.get("comment") or ""), _time(rating.get("updated_at")))
            if score in ("good", "bad")
            else None,
            custom_fields=self._custom_fields(row),
            load_comments=lambda: self._comments(ticket_id),
        )

    def _keyed_fields(self, kind: str, given: Any) -> dict[str, Any]:
        """A user's `user_fields` or an organization's `organization_fields` ({key: value}) by their
        fields' titles (`GET /api/v2/user_fields`, `…/organization_fields`), a drop-down's value as
        its option's name; a key the list does not have keeps its key."""
        if not isinstance(given, dict) or not any(v not in (None, "", []) for v in given.values()):
            return {}
        if kind not in self.fields_of:
            self.fields_of[kind] = {}
            try:
                for field in self._list(f"/api/v2/{kind}.json", kind):
                    if field.get("key"):
                        options = {
                            str(o.get("value")): str(o.get("name") or o.get("value"))
                            for o in field.get("custom_field_options") or []
                            if isinstance(o, dict)
                        }
                        self.fields_of[kind][str(field["key"])] = (str(field.get("title") or field["key"]), options)
            except SourceError:
                pass  # no access to the definitions: the values come under their keys
        values: dict[str, Any] = {}
        for key, value in given.items():
            if value in (None, "", []):
                continue
            title, options = self.fields_of[kind].get(str(key), (str(key), {}))
            if isinstance(value, str) and value in options:
                value = options[value]
            values[title] = value
        return values

    def _custom_fields(self, row: dict[str, Any]) -> dict[str, Any]:
        """A ticket's custom field values by their fields' titles (and its type, as Freshdesk's)."""
        if self.ticket_fields is None:
            self.ticket_fields = {}
            try:
                for field in self._list("/api/v2/ticket_fields.json", "ticket_fields"):
                    if field.get("removable") and field.get("id") is not None:
                        options = {
                            str(o.get("value")): str(o.get("name") or o.get("value"))
                            for o in field.get("custom_field_options") or []
                            if isinstance(o, dict)
                        }
                        self.ticket_fields[str(field["id"])] = (str(field.get("title") or field["id"]), options)
            except SourceError:
                pass  # no access to the fields: the tickets still come, without their values
        values: dict[str, Any] = {}
        if row.get("type"):
            values["Type"] = str(row["type"])
        for item in row.get("custom_fields") or []:
            if not isinstance(item, dict) or item.get("value") in (None, "", []):
                continue
            known = self.ticket_fields.get(str(item.get("id")))
            if known is None:
                continue  # a field deleted since, or a system one
            title, options = known
            value = item["value"]
            if isinstance(value, str) and value in options:
                value = options[value]
            elif isinstance(value, list):
                value = [options.get(str(v), str(v)) for v in value]
            values[title] = value
        return values

    def _comments(self, ticket_id: str) -> list[CommentIn]:
        comments: list[CommentIn] = []
        url: str | None = f"/api/v2/tickets/{ticket_id}/comments.json"
        params: dict[str, Any] | None = {"page[size]": 100}
        while url:
            page = self.client.get(url, params)
            for row in page.get("comments") or []:
                if not _time(row.get("created_at")):
                    continue  # a comment without a time has no place in the thread
                comments.append(
                    CommentIn(
                        source_id=str(row["id"]),
                        author=str(row.get("author_id") or ""),
                        body_text=str(row.get("plain_body") or row.get("body") or ""),
                        body_html=str(row.get("html_body") or ""),
                        created_at=_time(row.get("created_at")),  # type: ignore[arg-type]
                        public=bool(row.get("public", True)),
                        channel=str((row.get("via") or {}).get("channel") or ""),
                        attachments=[self._attachment(a) for a in row.get("attachments") or []],
                    )
                )
            meta, links = page.get("meta") or {}, page.get("links") or {}
            url, params = (links.get("next"), None) if meta.get("has_more") else (page.get("next_page"), None)
        return comments

    def _attachment(self, row: dict[str, Any]) -> AttachmentIn:
        url = str(row.get("content_url") or "")
        return AttachmentIn(
            source_id=str(row.get("id") or url),
            filename=str(row.get("file_name") or "attachment"),
            content_type=str(row.get("content_type") or ""),
            size=int(row.get("size") or 0),
            inline=bool(row.get("inline")),
            fetch=(lambda: self.client.download(url)) if url else None,
        )
