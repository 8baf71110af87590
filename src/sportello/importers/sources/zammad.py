"""`sportello import zammad`: a Zammad instance through its REST API (https://docs.zammad.org/en/latest/api/intro.html).

What is read:
- groups: `GET /api/v1/groups`;
- organizations: `GET /api/v1/organizations`;
- people: `GET /api/v1/roles` (which role ids are Agent and Admin), then `GET /api/v1/users`
  (customers, and agents with their `group_ids`); Zammad's system user (id 1, "-") is nobody;
- ticket states and priorities: `GET /api/v1/ticket_states`, `GET /api/v1/ticket_priorities`
  (a ticket's `state_id` is mapped by its state's name: new, open, pending reminder, closed, …);
- tickets: `GET /api/v1/tickets?expand=true` (`number` kept, `create_article_type` the channel);
- each new or changed ticket's articles: `GET /api/v1/ticket_articles/by_ticket/{id}` (`internal`
  notes, `sender`, `created_by_id`/`origin_by_id`, `attachments`), their files
  `GET /api/v1/ticket_attachment/{ticket}/{article}/{attachment}`, and its tags
  `GET /api/v1/tags?object=Ticket&o_id={id}`;
- macros: `GET /api/v1/macros` (each `perform`: state, priority, group, owner, tags and the
  note's text as Sportello's macro actions; the rest reported), after the tickets;
- the knowledge base, after the tickets. Zammad's API documentation does not describe it; what
  is read follows Zammad's source (github.com/zammad/zammad): `POST /api/v1/knowledge_bases/init`
  (app/controllers/knowledge_bases_controller.rb: every KB object as "assets", by model name and
  id, without the answers' texts), the system locales the KB locales point to
  (`GET /api/v1/locales`, app/assets/javascripts/app/models/locale.coffee), each answer with its
  texts `GET /api/v1/knowledge_bases/{kb}/answers/{id}?include_contents={content ids}`
  (app/controllers/knowledge_base/answers_controller.rb#show), and its files
  `GET /api/v1/attachments/{id}` (config/routes/attachments.rb; the inline images' `src` in the
  texts, HasRichText#has_rich_text_insert_urls, and the answer's `attachments`,
  KnowledgeBase::Answer.attachment_to_hash);
- the custom attributes of users, organizations and tickets (`GET /api/v1/object_manager_attributes`,
  api/object: the editable ones that are not Zammad's own), into Sportello's customer,
  organization and ticket fields under their display names.

Lists are paged with `page` and `per_page` (100, the most Zammad's ticket list gives) in id order;
a page with fewer rows than asked is the last. Zammad's lists take no "changed since" filter, so
`--since` (and the next run after a complete one) reads the lists and leaves out the rows whose
`updated_at` is older; only changed tickets cost more requests. The cursor is the page reached
(a run started again continues there) and, once a list is read to its end, the server's time
(`Date`) when its reading began.

Authentication: `Authorization: Token token=…` (an access token, intro#authentication). A 429 is
waited out as `Retry-After` says; errors stop the import with Zammad's `error_human` or `error`.
Shared with every REST source: http.py.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html import escape
from typing import Any

from sportello.importers.kb_records import (
    KbArticleIn,
    KbCategoryIn,
    KbImageIn,
    KbRecord,
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
    Record,
    Skipped,
    TicketIn,
)
from sportello.importers.sources.http import TIMEOUT, ApiClient
from sportello.importers.sources.tabular import RowError, SourceError, parse_time

PER_PAGE = 100
SYSTEM_USER = "1"  # Zammad's "-": the owner of unassigned tickets, the author of system articles
DEFAULT_ROLES = {"1": "Admin", "2": "Agent", "3": "Customer"}
# The attributes read into a record's own columns; every other editable one of a User, an
# Organization or a Ticket (object_manager_attributes) is a custom field.
OWN_ATTRIBUTES = {
    "User": {
        "login",
        "firstname",
        "lastname",
        "email",
        "phone",
        "mobile",
        "note",
        "organization_id",
        "organization_ids",
        "role_ids",
        "group_ids",
        "password",
        "active",
        "vip",
        "image",
    },
    "Organization": {"name", "domain", "domain_assignment", "note", "shared", "active", "vip"},
    "Ticket": {
        "title",
        "number",
        "state_id",
        "priority_id",
        "group_id",
        "owner_id",
        "customer_id",
        "organization_id",
        "pending_time",
    },
}


def _time(value: Any) -> datetime | None:
    return parse_time(value, field="time", required=False) if value else None


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _ref(value: Any) -> str:
    """A reference to a person, group or organization; the system user and none are ""."""
    text = str(value or "")
    return "" if text == SYSTEM_USER else text


def _assets(assets: dict[str, Any], model: str) -> dict[str, dict[str, Any]]:
    """One model's rows of a Zammad assets answer ({"KnowledgeBaseAnswer": {"1": {…}}}), by id."""
    rows = assets.get(model)
    if isinstance(rows, list):  # tolerated: a list of rows
        rows = {str(r.get("id")): r for r in rows if isinstance(r, dict)}
    if not isinstance(rows, dict):
        return {}
    return {str(key): row for key, row in rows.items() if isinstance(row, dict)}


def _position_and_id(row: dict[str, Any]) -> tuple[int, int]:
    return _int(row.get("position")), _int(row.get("id"))


def _file_list(files: list[dict[str, Any]]) -> str:
    """An answer's attachments (Zammad lists them under its text) as links after the text."""
    if not files:
        return ""
    items = []
    for item in sorted(files, key=lambda f: str(f.get("filename") or "").lower()):
        url = escape(_file_url(item))
        items.append(f'<li><a href="{url}">{escape(str(item.get("filename") or "attachment"))}</a></li>')
    items_html = "".join(items)
    return f"\n<ul>{items_html}</ul>"


def _file_url(item: dict[str, Any]) -> str:
    return str(item.get("url") or f"/api/v1/attachments/{item.get('id')}")


def _channel(article_type: Any) -> str:
    """An article type as a channel word: "twitter status" → "twitter", "note" → "agent"."""
    words = str(article_type or "").split()
    if not words:
        return ""
    return "agent" if words[0] == "note" else words[0]


class ZammadClient(ApiClient):
    vendor = "Zammad"
    example = "https://zammad.example.com"

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
        super().__init__(url, authorization=f"Token token={token}", sleep=sleep, timeout=timeout)

    def error_message(self, body: bytes) -> str:
        """Zammad's error bodies: {"error": "…", "error_human": "…"}."""
        try:
            data = json.loads(body)
        except ValueError:
            return body[:200].decode("utf-8", "replace") or "no details"
        if isinstance(data, dict) and (data.get("error_human") or data.get("error")):
            return str(data.get("error_human") or data.get("error"))
        return "no details"

    def post(self, path: str) -> Any:
        """The decoded JSON answer to an empty POST (Zammad's `knowledge_bases/init` is one)."""
        body, _headers = self.open(self.url(path), data=b"")
        try:
            return json.loads(body)
        except ValueError as exc:
            raise SourceError(f"{self.vendor}'s answer to {path} is not JSON") from exc

    def pages(
        self, path: str, params: dict[str, Any] | None = None, *, first: int = 1
    ) -> Iterator[tuple[int, list[Any], str]]:
        """(page number, rows, the server's time) of each page from `first`, until a short page."""
        page = first
        while True:
            rows, headers = self.get_list(path, {**(params or {}), "page": page, "per_page": self.per_page})
            yield page, rows, _server_time(headers.get("Date"))
            if len(rows) < self.per_page:
                return
            page += 1


def _server_time(date: str | None) -> str:
    try:
        at = parsedate_to_datetime(date) if date else datetime.now(UTC)
    except (TypeError, ValueError):
        at = datetime.now(UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ZammadSource:
    def __init__(
        self,
        url: str,
        *,
        token: str,
        sleep: Callable[[float], None] = time.sleep,
        client: ZammadClient | None = None,
        per_page: int = PER_PAGE,
        kb: bool = True,
    ) -> None:
        self.client = client or ZammadClient(url, token=token, sleep=sleep, per_page=per_page)
        self.name = f"zammad:{self.client.host}"[:100]
        self.roles: dict[str, str] = dict(DEFAULT_ROLES)
        self.states: dict[str, str] = {}
        self.priorities: dict[str, str] = {}
        # The custom attributes by object ("User", "Organization", "Ticket"): name -> (display, option names).
        self.attributes: dict[str, dict[str, tuple[str, dict[str, str]]]] | None = None
        self.kb_streams = ("kb", "macros") if kb else ("macros",)

    def total(self, stream: str) -> int | None:
        return None  # Zammad's lists do not say how many rows they hold

    def read(self, stream: str, *, since: datetime | None, cursor: str | None) -> Iterator[Record | KbRecord]:
        if stream == "groups":
            yield from self._list("groups", "/api/v1/groups", None, None, "group", self._group)
        elif stream == "organizations":
            yield from self._list(
                "organizations", "/api/v1/organizations", since, cursor, "organization", self._organization
            )
        elif stream == "people":
            self._lookup("/api/v1/roles", self.roles)
            yield from self._list("people", "/api/v1/users", since, cursor, "customer", self._person)
        elif stream == "tickets":
            self._lookup("/api/v1/ticket_states", self.states)
            self._lookup("/api/v1/ticket_priorities", self.priorities)
            yield from self._list("tickets", "/api/v1/tickets", since, cursor, "ticket", self._ticket, expand=True)
        elif stream == "kb":
            yield from self._knowledge_base(since)
        elif stream == "macros":
            if not self.states:
                self._lookup("/api/v1/ticket_states", self.states)
                self._lookup("/api/v1/ticket_priorities", self.priorities)
            for _page, rows, _at in self.client.pages("/api/v1/macros"):
                for row in rows:
                    yield self._macro(row) if isinstance(row, dict) and "id" in row else Skipped("macro", "?", "no id")

    # --- Knowledge base ---------------------------------------------------------------------------

    def _knowledge_base(self, since: datetime | None) -> Iterator[KbRecord | Skipped]:
        """Categories (parents first), then answers with their translations, images and files.

        The init answer holds, by model name and id (ApplicationModel::CanAssets): the knowledge
        bases, their locales (`system_locale_id`), categories (`parent_id`, `position`) and their
        translations (`title` per `kb_locale_id`), answers (`category_id`, `published_at`,
        `internal_at`, `archived_at`, `tags`, `attachments`) and their translations (`title`,
        `kb_locale_id`, `content_id`); the texts come per answer. A token without the
        knowledge_base.editor permission is given less (no drafts; without knowledge_base.reader
        no categories or answers): what it is given comes.
        """
        init = self.client.post("/api/v1/knowledge_bases/init")
        assets = init if isinstance(init, dict) else {}
        if not _assets(assets, "KnowledgeBaseCategory"):
            return
        codes = self._system_locales()
        locales = {
            kb_locale_id: (codes.get(str(row.get("system_locale_id")), ""), bool(row.get("primary")))
            for kb_locale_id, row in _assets(assets, "KnowledgeBaseLocale").items()
        }
        yield from self._kb_categories(assets, locales)
        now = datetime.now(UTC)
        answers = sorted(_assets(assets, "KnowledgeBaseAnswer").values(), key=_position_and_id)
        for answer in answers:
            answer_id = str(answer.get("id", "?"))
            archived = _time(answer.get("archived_at"))
            if archived is not None and archived <= now:
                yield Skipped("article", answer_id, "archived in Zammad")
                continue
            translations = [
                t
                for t in _assets(assets, "KnowledgeBaseAnswerTranslation").values()
                if str(t.get("answer_id")) == answer_id
            ]
            changed = [t for t in (_time(r.get("updated_at")) for r in [answer, *translations]) if t is not None]
            if since is not None and changed and max(changed) < since:
                continue  # --since: unchanged, its texts are not even asked for
            try:
                yield self._answer(assets, answer, locales, now)
            except SourceError as exc:  # gone since the init, or not for this token
                yield Skipped("article", answer_id, str(exc))
            except (KeyError, TypeError, ValueError, RowError) as exc:
                yield Skipped("article", answer_id, f"cannot read it: {exc}")

    def _system_locales(self) -> dict[str, str]:
        """Zammad's system locales: id → code ("de-de")."""
        rows, _headers = self.client.get_list("/api/v1/locales")
        return {str(r["id"]): str(r.get("locale") or "") for r in rows if isinstance(r, dict) and "id" in r}

    def _kb_categories(
        self, assets: dict[str, Any], locales: dict[str, tuple[str, bool]]
    ) -> Iterator[KbCategoryIn | Skipped]:
        """Every category, each after its parent; its name in the primary locale, the others in `names`."""
        categories = _assets(assets, "KnowledgeBaseCategory")
        titles: dict[str, list[tuple[str, bool, str]]] = {}
        for row in _assets(assets, "KnowledgeBaseCategoryTranslation").values():
            code, primary = locales.get(str(row.get("kb_locale_id")), ("", False))
            titles.setdefault(str(row.get("category_id")), []).append((code, primary, str(row.get("title") or "")))

        def depth(row: dict[str, Any]) -> int:
            seen: set[str] = set()
            parent = str(row.get("parent_id") or "")
            while parent and parent in categories and parent not in seen:
                seen.add(parent)
                parent = str(categories[parent].get("parent_id") or "")
            return len(seen)

        for row in sorted(categories.values(), key=lambda r: (depth(r), *_position_and_id(r))):
            category_id = str(row.get("id", "?"))
            named = sorted(titles.get(category_id, []), key=lambda t: not t[1])  # the primary locale's first
            if not named:
                yield Skipped("category", category_id, "no name in any locale")
                continue
            names: dict[str, str] = {}
            for code, _primary, title in named[1:]:
                language = language_of(code)
                if language and title:
                    names.setdefault(language, title)
            yield KbCategoryIn(
                f"category:{category_id}",
                named[0][2],
                parent=f"category:{row['parent_id']}" if row.get("parent_id") else "",
                position=_int(row.get("position")),
                names=names,
            )

    def _answer(
        self, assets: dict[str, Any], answer: dict[str, Any], locales: dict[str, tuple[str, bool]], now: datetime
    ) -> KbArticleIn:
        """One answer with its texts (`…/answers/{id}?include_contents=`), images and files."""
        answer_id = str(answer["id"])
        category = _assets(assets, "KnowledgeBaseCategory").get(str(answer.get("category_id")), {})
        translations = {
            key: row
            for key, row in _assets(assets, "KnowledgeBaseAnswerTranslation").items()
            if str(row.get("answer_id")) == answer_id
        }
        content_ids = ",".join(str(t["content_id"]) for t in translations.values() if t.get("content_id"))
        shown = self.client.get(
            f"/api/v1/knowledge_bases/{category.get('knowledge_base_id')}/answers/{answer_id}",
            {"include_contents": content_ids},
        )
        fresh = shown.get("assets")
        if not isinstance(fresh, dict):
            fresh = {}
        answer = _assets(fresh, "KnowledgeBaseAnswer").get(answer_id, answer)
        translations.update(
            (key, row)
            for key, row in _assets(fresh, "KnowledgeBaseAnswerTranslation").items()
            if str(row.get("answer_id")) == answer_id
        )
        contents = _assets(fresh, "KnowledgeBaseAnswerTranslationContent")
        published, internal = _time(answer.get("published_at")), _time(answer.get("internal_at"))
        public = published is not None and published <= now
        draft = not public and not (internal is not None and internal <= now)
        files = [f for f in answer.get("attachments") or [] if isinstance(f, dict) and f.get("id") is not None]
        ordered = sorted(
            translations.values(),
            key=lambda t: (not locales.get(str(t.get("kb_locale_id")), ("", False))[1], _int(t.get("id"))),
        )
        records = [
            KbTranslationIn(
                source_id=str(t["id"]),
                locale=locales.get(str(t.get("kb_locale_id")), ("", False))[0],
                title=str(t.get("title") or ""),
                body_html=str(contents.get(str(t.get("content_id")), {}).get("body") or "") + _file_list(files),
                draft=draft,
                created_at=_time(t.get("created_at")),
                updated_at=_time(t.get("updated_at")),
            )
            for t in ordered
        ]
        images: list[KbImageIn] = []
        for translation in records:
            for src in image_sources(translation.body_html):
                if src not in [i.url for i in images] and self._own_file(src):
                    images.append(self._kb_file(src, f"image-{src.rstrip('/').rsplit('/', 1)[-1]}"))
        for item in files:
            url = _file_url(item)
            if url not in [i.url for i in images]:
                images.append(self._kb_file(url, str(item.get("filename") or "attachment")))
        return KbArticleIn(
            source_id=answer_id,
            category=f"category:{answer.get('category_id')}",
            translations=records,
            visibility="public" if public or draft else "internal",
            tags=[str(t) for t in answer.get("tags") or [] if str(t).strip()],
            position=_int(answer.get("position")),
            created_at=_time(answer.get("created_at")),
            updated_at=_time(answer.get("updated_at")),
            images=images,
        )

    def _own_file(self, src: str) -> bool:
        """A file Zammad keeps (`/api/v1/attachments/{id}` on its host), not one shown from elsewhere."""
        parsed = urllib.parse.urlsplit(src)
        if parsed.scheme not in ("", "http", "https") or (parsed.netloc and parsed.netloc != self.client.host):
            return False
        return parsed.path.startswith("/api/v1/attachments/")

    def _kb_file(self, src: str, filename: str) -> KbImageIn:
        url = urllib.parse.urljoin(self.client.base + "/", src)
        return KbImageIn(url=src, filename=filename, fetch=lambda: self.client.download(url))

    # --- Reading --------------------------------------------------------------------------------

    def _lookup(self, path: str, into: dict[str, str]) -> None:
        for _page, rows, _at in self.client.pages(path):
            for row in rows:
                if isinstance(row, dict) and row.get("id") is not None and row.get("name"):
                    into[str(row["id"])] = str(row["name"])

    def _list(
        self,
        stream: str,
        path: str,
        since: datetime | None,
        cursor: str | None,
        kind: str,
        convert: Callable[[dict[str, Any]], Record | None],
        *,
        expand: bool = False,
    ) -> Iterator[Record]:
        """A list read from the start (or the page of the saved cursor), rows older than the
        cursor's or --since's time left out; a Checkpoint after each page and at the end."""
        saved: Any = {}
        if cursor:
            try:
                saved = json.loads(cursor)
            except ValueError:
                saved = {}
        if not isinstance(saved, dict):
            saved = {}
        after = since or _time(saved.get("since"))
        after_text = after.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if after else None
        first = _int(saved.get("page")) or 1  # that page again: rows may have moved back by one
        started = saved.get("started")
        params = {"expand": "true"} if expand else None
        for page, rows, at in self.client.pages(path, params, first=first):
            started = started or at
            for row in rows:
                if not isinstance(row, dict):
                    yield Skipped(kind, "?", f"not an object: {str(row)[:80]}")
                    continue
                try:
                    changed = _time(row.get("updated_at"))
                    if after is not None and changed is not None and changed < after:
                        continue
                    record = convert(row)
                except (KeyError, TypeError, ValueError, AttributeError) as exc:
                    record = Skipped(kind, str(row.get("id", "?")), f"cannot read it: {exc}")
                if record is not None:
                    yield record
            yield Checkpoint(stream, json.dumps({"page": page, "since": after_text, "started": started}))
        if started:
            yield Checkpoint(stream, json.dumps({"since": started}))

    def _custom(self, kind: str, row: dict[str, Any]) -> dict[str, Any]:
        """A row's custom attributes (`GET /api/v1/object_manager_attributes`, api/object) by their
        display names, a select's value as its option's name."""
        if self.attributes is None:
            self.attributes = {}
            try:
                rows, _headers = self.client.get_list("/api/v1/object_manager_attributes")
            except SourceError:
                rows = []  # no admin.object permission: the records come without these values
            for attribute in rows:
                if not isinstance(attribute, dict) or not attribute.get("name"):
                    continue
                owner, name = str(attribute.get("object") or ""), str(attribute["name"])
                if owner not in OWN_ATTRIBUTES or name in OWN_ATTRIBUTES[owner]:
                    continue
                if not attribute.get("editable") or attribute.get("active") is False:
                    continue  # Zammad's own attributes
                options = (attribute.get("data_option") or {}).get("options") or {}
                if isinstance(options, list):  # [{"name", "value"}] in newer versions
                    options = {str(o.get("value")): o.get("name") for o in options if isinstance(o, dict)}
                names = {str(k): str(v) for k, v in options.items()} if isinstance(options, dict) else {}
                self.attributes.setdefault(owner, {})[name] = (str(attribute.get("display") or name), names)
        values: dict[str, Any] = {}
        for name, (display, options) in self.attributes.get(kind, {}).items():
            value = row.get(name)
            if value in (None, "", []):
                continue
            if isinstance(value, str):
                value = options.get(value, value)
            elif isinstance(value, list):
                value = [options.get(str(v), str(v)) for v in value]
            values[display] = value
        return values

    def _macro(self, row: dict[str, Any]) -> MacroIn:
        """A macro's `perform` ({"ticket.state_id": {"value": …}, "ticket.tags": {"operator", "value"},
        "article.note": {"body", "internal"}, …}) as Sportello's actions; the rest is reported."""
        actions: list[dict[str, Any]] = []
        unmapped: list[str] = []
        body = ""
        for key, setting in (row.get("perform") or {}).items():
            value = setting.get("value") if isinstance(setting, dict) else setting
            if key == "ticket.state_id":
                actions.append({"type": "set_status", "status": self.states.get(str(value), str(value))})
            elif key == "ticket.priority_id":
                actions.append({"type": "set_priority", "priority": self.priorities.get(str(value), str(value))})
            elif key == "ticket.group_id" and value not in ("", None):
                actions.append({"type": "set_group", "group": str(value)})
            elif key == "ticket.owner_id" and isinstance(setting, dict) and setting.get("pre_condition") == "not_set":
                actions.append({"type": "set_assignee", "assignee": None})
            elif key == "ticket.owner_id" and str(value).isdigit() and "pre_condition" not in (setting or {}):
                actions.append({"type": "set_assignee", "assignee": str(value)})
            elif key == "ticket.tags" and isinstance(setting, dict):
                tags = [t.strip() for t in str(value or "").split(",") if t.strip()]
                kind = "remove_tags" if setting.get("operator") == "remove" else "add_tags"
                actions.append({"type": kind, "tags": tags})
            elif key == "article.note" and isinstance(setting, dict) and not body:
                from sportello.core.html import html_to_text

                body = html_to_text(str(setting.get("body") or ""))
                if str(setting.get("internal")).lower() == "true":
                    unmapped.append("article.note as an internal note (a reply here)")
            else:
                unmapped.append(f"{key}={json.dumps(setting)}")
        if row.get("group_ids"):
            unmapped.append(f"only for groups {row['group_ids']}")
        return MacroIn(
            source_id=str(row["id"]),
            name=str(row.get("name") or ""),
            body=body,
            actions=actions,
            unmapped=unmapped,
            active=row.get("active") is not False,
            updated_at=_time(row.get("updated_at")),
        )

    def _group(self, row: dict[str, Any]) -> Record | None:
        if row.get("active") is False:
            return None
        return GroupIn(str(row["id"]), str(row.get("name") or ""), str(row.get("note") or ""))

    def _organization(self, row: dict[str, Any]) -> Record:
        return OrganizationIn(
            source_id=str(row["id"]),
            name=str(row.get("name") or ""),
            domain=str(row.get("domain") or ""),
            notes=str(row.get("note") or ""),
            updated_at=_time(row.get("updated_at")),
            custom_fields=self._custom("Organization", row),
        )

    def _person(self, row: dict[str, Any]) -> Record | None:
        user_id = str(row["id"])
        if user_id == SYSTEM_USER:
            return None
        roles = {self.roles.get(str(r), "") for r in row.get("role_ids") or []}
        identities: list[IdentityIn] = []
        if row.get("email"):
            identities.append(IdentityIn("email", str(row["email"])))
        for key in ("phone", "mobile"):
            if row.get(key):
                identities.append(IdentityIn("phone", str(row[key]), False))
        groups = row.get("group_ids") or []
        agent = bool(roles & {"Agent", "Admin"})
        name = " ".join(str(row[k]).strip() for k in ("firstname", "lastname") if row.get(k)).strip()
        return PersonIn(
            source_id=user_id,
            name=name or str(row.get("login") or ""),
            identities=identities,
            organization=str(row.get("organization_id") or ""),
            agent=agent,
            admin="Admin" in roles,
            groups=sorted(str(g) for g in groups),  # a list, or {group id: [access]} since Zammad 4
            language=str((row.get("preferences") or {}).get("locale") or "")[:2],
            notes=str(row.get("note") or ""),
            updated_at=_time(row.get("updated_at")),
            custom_fields={} if agent else self._custom("User", row),
        )

    def _ticket(self, row: dict[str, Any]) -> Record:
        ticket_id = str(row["id"])
        created = _time(row.get("created_at"))
        if created is None:
            return Skipped("ticket", ticket_id, "no created_at")
        state = self.states.get(str(row.get("state_id")), str(row.get("state") or row.get("state_id") or ""))
        if state == "removed":
            return Skipped("ticket", ticket_id, "removed in Zammad")
        number = str(row.get("number") or "")
        ticket = TicketIn(
            source_id=ticket_id,
            number=int(number) if number.isdigit() else None,
            subject=str(row.get("title") or ""),
            requester=_ref(row.get("customer_id")),
            created_at=created,
            updated_at=_time(row.get("updated_at")) or created,
            status=state,
            priority=self.priorities.get(str(row.get("priority_id")), str(row.get("priority") or "")),
            channel=_channel(row.get("create_article_type")) or "email",
            group=str(row.get("group_id") or ""),
            assignee=_ref(row.get("owner_id")),
            solved_at=_time(row.get("close_at")),
            custom_fields=self._custom("Ticket", row),
        )
        ticket.load_comments = lambda: self._thread(ticket)
        return ticket

    def _thread(self, ticket: TicketIn) -> list[CommentIn]:
        from sportello.core.html import html_to_text

        tags = self.client.get("/api/v1/tags", {"object": "Ticket", "o_id": ticket.source_id}).get("tags") or []
        ticket.tags = [str(t) for t in tags if str(t).strip()]
        rows, _headers = self.client.get_list(f"/api/v1/ticket_articles/by_ticket/{ticket.source_id}")
        comments: list[CommentIn] = []
        for row in rows:
            if not isinstance(row, dict) or "id" not in row:
                continue
            try:
                at = _time(row.get("created_at"))
            except RowError:
                at = None
            if at is None:
                continue  # an article without a time has no place in the thread
            body = str(row.get("body") or "")
            html = "html" in str(row.get("content_type") or "")
            author = _ref(row.get("origin_by_id") or row.get("created_by_id"))
            comments.append(
                CommentIn(
                    source_id=str(row["id"]),
                    author="" if row.get("sender") == "System" else author,
                    body_text=html_to_text(body) if html else body,
                    body_html=body if html else "",
                    created_at=at,
                    public=not row.get("internal"),
                    channel=_channel(row.get("type")) if row.get("type") != "note" else "",
                    attachments=[
                        self._attachment(ticket.source_id, str(row["id"]), a)
                        for a in row.get("attachments") or []
                        if isinstance(a, dict)
                    ],
                )
            )
        return comments

    def _attachment(self, ticket_id: str, article_id: str, row: dict[str, Any]) -> AttachmentIn:
        preferences = row.get("preferences") or {}
        content_type = str(preferences.get("Content-Type") or preferences.get("Mime-Type") or "")
        path = f"/api/v1/ticket_attachment/{ticket_id}/{article_id}/{row.get('id')}"
        return AttachmentIn(
            source_id=str(row.get("id") or path),
            filename=str(row.get("filename") or "attachment"),
            content_type=content_type.split(";")[0].strip(),
            size=_int(row.get("size")),
            inline=bool(preferences.get("Content-ID")) and "inline" in str(preferences.get("Content-Disposition", "")),
            fetch=lambda: self.client.download(path),
        )
