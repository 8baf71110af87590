"""`sportello import osticket`: an osTicket (1.10 and later) MySQL/MariaDB database, read-only.

The tables read, as osTicket's installer names them (setup/inc/streams/core/install-mysql.sql,
default prefix `ost_`, `--prefix` for another):
- departments (`department`) become groups;
- staff (`staff`, with `staff_dept_access` for the departments beyond their own) inactive agents;
- organizations (`organization`), users (`user`) with every address (`user_email`) customers;
- tickets (`ticket`, the subject and priority from `ticket__cdata` and `ticket_priority`, the
  status from `ticket_status`), read in order of their last change with that as the cursor;
- each new or changed ticket's thread (`thread` with object_type 'T', `thread_entry`: 'M' a
  message from a user, 'R' a staff response, 'N' an internal note) and the entries' attachments
  (`attachment` type 'H', `file`, the bytes from `file_chunk` in chunk order).

After the tickets, the knowledge base and the canned responses (`kb_streams`):
- FAQ categories (`faq_category`; `category_pid` where osTicket has it) become KB categories, their
  names in other languages from `translation` (type 'phrase', the hash of `category.name.{id}`);
- FAQs (`faq`) articles: the question the title, the answer HTML the body, the keywords tags; an FAQ
  listed as Internal (`ispublished` 0) or in a private category (`ispublic` 0) is for agents only,
  Public and Featured ones are public. osTicket has no drafts: every FAQ is published. Their
  translations are `translation` rows of type 'article' (the hash of `faq.q:a.{id}`, the text a JSON
  object with `question` and `answer`); the FAQ itself is in osTicket's system language
  (`config`, core `system_language`);
- the FAQs' files (`attachment` type 'F'): inline images, which the answer shows as `cid:KEY` or
  `file.php?key=KEY` (the `file.key`), are stored here and the images point to them; the other
  files are stored too and listed as links after the text (osTicket lists them under the answer),
  a language's own files after that language's text only;
- canned responses (`canned_response`) macros with their text (osTicket's `%{…}` variables as
  Sportello's placeholders where there is one), disabled ones inactive; their department and their
  files (`attachment` type 'C') have no place in a macro and are reported.

A status maps by its name (the defaults and `--mapping`), else by its osTicket state: open → open,
closed → closed, archived → closed; tickets in the deleted state are skipped and reported. The
ticket number people quote (`ticket.number`) is kept when it is a number free here; one with
letters (a custom number format, "ABC-000123") is kept as the ticket's original number, which
search finds. The other fields of the ticket forms (the columns of `ticket__cdata` beyond subject
and priority, labelled by `form_field`) arrive as custom fields.

The connection is opened read-only (`SET SESSION TRANSACTION READ ONLY`): nothing in osTicket's
database can change. osTicket writes DATETIME columns in its server's time zone; `--db-timezone`
says which (UTC by default).
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime, tzinfo
from html import escape, unescape
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sportello.importers.kb_records import KbArticleIn, KbCategoryIn, KbImageIn, KbTranslationIn, MacroIn
from sportello.importers.kb_writer import language_of
from sportello.importers.mapping import Mapping
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
from sportello.importers.sources.tabular import SourceError

PAGE = 200  # tickets a query
TIMEOUT = 60
STATES = {"open": "open", "closed": "closed", "archived": "closed"}
# The last change of a ticket `t`: osTicket moves `updated` on edits, `lastupdate` on new entries.
# The columns of `ticket__cdata` that are not custom fields (subject and priority are read apart).
CDATA_BUILTIN = {"ticket_id", "subject", "priority"}
STAMP = "GREATEST(t.created, t.updated, COALESCE(t.lastupdate, t.created))"
ENTRY_CHANNELS = {"email": "email", "web": "web", "phone": "phone", "api": "api"}
# The image addresses an FAQ answer holds for its own files: `cid:KEY` as osTicket stores them, or
# `file.php?key=KEY…` as it shows them. Both become FILE_URL (a `cid:` would not survive sanitizing).
FILE_KEY = re.compile(r"^(?:cid:(?P<cid>[^\s?&#]+)|\S*file\.php\?(?:\S*&)?key=(?P<key>[^&#\s]+)\S*)$")
FILE_URL = "/file.php?key={key}"
IMG_SRC_ATTR = re.compile(r"""(<img\b[^>]*?\bsrc\s*=\s*)(?:"([^"]*)"|'([^']*)')""", re.I)
# osTicket's variables (include/class.variable.php, the ticket's `asVar`/`getVar`) with a
# counterpart among Sportello's placeholders; the others stay as they are and are reported.
PLACEHOLDERS = {
    "ticket.number": "ticket.number",
    "ticket.subject": "ticket.subject",
    "ticket.status": "ticket.status",
    "ticket.priority": "ticket.priority",
    "ticket.dept": "ticket.group",
    "ticket.dept.name": "ticket.group",
    "ticket.name": "customer.name",
    "ticket.name.first": "customer.first_name",
    "ticket.email": "customer.email",
    "ticket.staff": "agent.name",
    "ticket.staff.name": "agent.name",
    "ticket.staff.name.first": "agent.first_name",
    "recipient": "customer.name",
    "recipient.name": "customer.name",
    "recipient.name.first": "customer.first_name",
    "recipient.email": "customer.email",
    "url": "site.url",
}
VARIABLE = re.compile(r"%\{\s*([a-zA-Z0-9_.]+)\s*\}")


def translate_variables(text: str) -> tuple[str, list[str]]:
    """`text` with osTicket's `%{ticket.number}` written as Sportello's `{{ ticket.number }}`, and the
    variables that have no counterpart (left as they are)."""
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in PLACEHOLDERS:
            return "{{ " + PLACEHOLDERS[name] + " }}"
        if name not in missing:
            missing.append(name)
        return match.group(0)

    return VARIABLE.sub(replace, text or ""), missing


def translation_tag(tag: str) -> str:
    """osTicket's `_H()` (include/class.i18n.php): the `object_hash` of a custom data translation."""
    return hashlib.md5(tag.encode(), usedforsecurity=False).hexdigest()[-16:]


def parse_dsn(dsn: str) -> dict[str, Any]:
    """mysql://user:password@host:port/database (also mariadb://) as PyMySQL's connect arguments."""
    parsed = urllib.parse.urlsplit(dsn)
    if parsed.scheme not in ("mysql", "mariadb") or not parsed.hostname or not parsed.path.strip("/"):
        raise SourceError(f"Not a database address: {dsn!r} (expected mysql://USER:PASSWORD@HOST/DATABASE)")
    try:
        port = parsed.port or 3306
    except ValueError as exc:
        raise SourceError(f"Not a database address: {dsn!r} ({exc})") from exc
    return {
        "host": parsed.hostname,
        "port": port,
        "user": urllib.parse.unquote(parsed.username or "root"),
        "password": urllib.parse.unquote(parsed.password or ""),
        "database": urllib.parse.unquote(parsed.path.strip("/")),
    }


class OsticketSource:
    def __init__(
        self,
        dsn: str,
        *,
        prefix: str = "ost_",
        db_timezone: str = "UTC",
        mapping: Mapping | None = None,
        page: int = PAGE,
        kb: bool = True,
    ) -> None:
        import pymysql

        if not re.fullmatch(r"[A-Za-z0-9_]*", prefix):
            raise SourceError(f"Not a table prefix: {prefix!r} (letters, digits and _ only)")
        try:
            self.tz: tzinfo = UTC if db_timezone in ("", "UTC") else ZoneInfo(db_timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise SourceError(f"Unknown time zone {db_timezone!r} (for example Europe/Rome)") from exc
        args = parse_dsn(dsn)
        self.prefix = prefix
        self.mapping = mapping or Mapping()
        self.field_labels: dict[str, str] | None = None  # form_field name -> label, read once
        self.private_categories: set[str] = set()  # FAQ categories not public (`ispublic` 0)
        self.page = page
        self.kb_streams = ("kb", "macros") if kb else ()
        self.name = f"osticket:{args['host']}/{args['database']}"[:100]
        try:
            self.connection = pymysql.connect(
                **args,
                charset="utf8mb4",
                cursorclass=pymysql.cursors.DictCursor,
                connect_timeout=10,
                read_timeout=TIMEOUT,
                autocommit=True,
            )
        except pymysql.MySQLError as exc:
            raise SourceError(f"Cannot open the osTicket database at {args['host']}: {exc.args[-1]}") from exc
        with self.connection.cursor() as cursor:
            cursor.execute("SET SESSION TRANSACTION READ ONLY")
            cursor.execute(
                "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = %s",
                [args["database"]],
            )
            tables = {str(row["name"]) for row in cursor.fetchall()}
        missing = [t for t in ("ticket", "thread_entry", "user", "staff") if f"{prefix}{t}" not in tables]
        if missing:
            raise SourceError(
                f"{args['database']} is not an osTicket database with the prefix {prefix!r}: "
                f"no table {prefix}{missing[0]} (see --prefix)"
            )
        self.tables = tables

    def close(self) -> None:
        self.connection.close()

    # --- Queries --------------------------------------------------------------------------------

    def t(self, name: str) -> str:
        return f"`{self.prefix}{name}`"

    def has(self, name: str) -> bool:
        return f"{self.prefix}{name}" in self.tables

    def query(self, sql: str, params: list[Any] | tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        import pymysql

        try:
            with self.connection.cursor() as cursor:
                cursor.execute(sql, params)
                return list(cursor.fetchall())
        except pymysql.MySQLError as exc:
            raise SourceError(f"The osTicket database answered: {exc.args[-1]}") from exc

    def _time(self, value: Any) -> datetime | None:
        """A DATETIME as osTicket wrote it (its server's zone); zero dates ('0000-00-00') are none."""
        if not isinstance(value, datetime):
            return None
        return (value if value.tzinfo else value.replace(tzinfo=self.tz)).astimezone(UTC)

    def _db_time(self, value: datetime) -> str:
        return value.astimezone(self.tz).strftime("%Y-%m-%d %H:%M:%S")

    # --- Streams --------------------------------------------------------------------------------

    def total(self, stream: str) -> int | None:
        table = {"groups": "department", "organizations": "organization", "tickets": "ticket"}.get(stream)
        try:
            if stream == "people":
                rows = self.query(
                    f"SELECT (SELECT COUNT(*) FROM {self.t('staff')}) + (SELECT COUNT(*) FROM {self.t('user')}) AS n"
                )
            elif table and self.has(table):
                rows = self.query(f"SELECT COUNT(*) AS n FROM {self.t(table)}")
            else:
                return None
        except SourceError:
            return None
        return int(rows[0]["n"])

    def read(self, stream: str, *, since: datetime | None, cursor: str | None) -> Iterator[Record]:
        if stream == "groups" and self.has("department"):
            for row in self.query(f"SELECT id, name FROM {self.t('department')} ORDER BY id"):
                yield GroupIn(str(row["id"]), str(row["name"] or ""))
        elif stream == "organizations" and self.has("organization"):
            yield from self._organizations()
        elif stream == "people":
            yield from self._staff()
            yield from self._users(since)
        elif stream == "tickets":
            yield from self._tickets(since, cursor)
        elif stream == "kb" and self.has("faq_category") and self.has("faq"):
            yield from self._faq_categories()
            yield from self._faqs()
        elif stream == "macros" and self.has("canned_response"):
            yield from self._canned_responses()

    def _organizations(self) -> Iterator[Record]:
        # All of them, even with --since (they are few): a customer read since may belong to any.
        for row in self.query(f"SELECT id, name, domain, updated FROM {self.t('organization')} ORDER BY id"):
            domains = [d for d in re.split(r"[\s,]+", str(row["domain"] or "")) if d]
            yield OrganizationIn(
                source_id=str(row["id"]),
                name=str(row["name"] or ""),
                domain=domains[0] if domains else "",
                updated_at=self._time(row["updated"]),
            )

    def _staff(self) -> Iterator[Record]:
        departments: dict[int, list[str]] = {}
        if self.has("staff_dept_access"):
            for row in self.query(f"SELECT staff_id, dept_id FROM {self.t('staff_dept_access')} ORDER BY dept_id"):
                departments.setdefault(int(row["staff_id"]), []).append(str(row["dept_id"]))
        # All of the staff, even with --since (they are few): any of them may have answered since.
        sql = (
            "SELECT staff_id, dept_id, firstname, lastname, username, email, phone, isadmin, lang, notes, updated "
            f"FROM {self.t('staff')} ORDER BY staff_id"
        )
        for row in self.query(sql):
            name = " ".join(str(row[k]).strip() for k in ("firstname", "lastname") if row[k]) or str(row["username"])
            identities = [IdentityIn("email", str(row["email"]))] if row["email"] else []
            if row["phone"]:
                identities.append(IdentityIn("phone", str(row["phone"]), False))
            groups = [str(row["dept_id"])] if row["dept_id"] else []
            groups += [g for g in departments.get(int(row["staff_id"]), []) if g not in groups]
            yield PersonIn(
                source_id=f"staff-{row['staff_id']}",
                name=name,
                identities=identities,
                agent=True,
                admin=bool(row["isadmin"]),
                groups=groups,
                language=str(row["lang"] or "")[:2],
                notes=str(row["notes"] or ""),
                updated_at=self._time(row["updated"]),
            )

    def _users(self, since: datetime | None) -> Iterator[Record]:
        last = 0
        while True:
            sql = f"SELECT id, org_id, default_email_id, name, updated FROM {self.t('user')} WHERE id > %s"
            params: list[Any] = [last]
            if since:
                # Who changed, and who wrote in what changed: a ticket's requester must be known.
                when = self._db_time(since)
                sql += (
                    f" AND (updated >= %s OR id IN (SELECT t.user_id FROM {self.t('ticket')} t WHERE {STAMP} >= %s)"
                    f" OR id IN (SELECT user_id FROM {self.t('thread_entry')} WHERE created >= %s))"
                )
                params += [when, when, when]
            users = self.query(sql + f" ORDER BY id LIMIT {int(self.page)}", params)
            if not users:
                return
            ids = [int(u["id"]) for u in users]
            emails: dict[int, list[dict[str, Any]]] = {}
            marks = ", ".join(["%s"] * len(ids))
            for row in self.query(
                f"SELECT id, user_id, address FROM {self.t('user_email')} WHERE user_id IN ({marks}) ORDER BY id", ids
            ):
                emails.setdefault(int(row["user_id"]), []).append(row)
            for user in users:
                rows = emails.get(int(user["id"]), [])
                # The default address first: it is the one replies went to.
                rows.sort(key=lambda r: (r["id"] != user["default_email_id"], r["id"]))
                yield PersonIn(
                    source_id=f"user-{user['id']}",
                    name=str(user["name"] or ""),
                    identities=[IdentityIn("email", str(r["address"])) for r in rows if r["address"]],
                    organization=str(user["org_id"]) if user["org_id"] else "",
                    updated_at=self._time(user["updated"]),
                )
            last = ids[-1]

    def _tickets(self, since: datetime | None, cursor: str | None) -> Iterator[Record]:
        stamp = STAMP
        cdata = self.has("ticket__cdata")
        columns = (
            "t.ticket_id, t.number, t.user_id, t.staff_id, t.dept_id, t.source, t.created, t.updated, t.closed, "
            f"s.name AS status_name, s.state AS status_state, {stamp} AS stamp, "
            + ("c.subject, p.priority AS priority_name" if cdata else "'' AS subject, '' AS priority_name")
        )
        joins = f" LEFT JOIN {self.t('ticket_status')} s ON s.id = t.status_id"
        if cdata:
            joins += (
                f" LEFT JOIN {self.t('ticket__cdata')} c ON c.ticket_id = t.ticket_id"
                f" LEFT JOIN {self.t('ticket_priority')} p ON p.priority_id = c.priority"
            )
        after: tuple[str, int] | None = None
        if cursor and "|" in cursor:
            at, _bar, ticket_id = cursor.partition("|")
            after = (at, int(ticket_id)) if ticket_id.isdigit() else None
        while True:
            where: list[str] = []
            params: list[Any] = []
            if since is not None:
                where.append(f"{stamp} >= %s")
                params.append(self._db_time(since))
            if after is not None:
                where.append(f"({stamp} > %s OR ({stamp} = %s AND t.ticket_id > %s))")
                params += [after[0], after[0], after[1]]
            sql = f"SELECT {columns} FROM {self.t('ticket')} t{joins}"
            if where:
                sql += " WHERE " + " AND ".join(where)
            rows = self.query(sql + f" ORDER BY stamp, t.ticket_id LIMIT {int(self.page)}", params)
            if not rows:
                return
            custom = self._custom_values([int(r["ticket_id"]) for r in rows]) if cdata else {}
            for row in rows:
                try:
                    yield self._ticket(row, custom.get(int(row["ticket_id"]), {}))
                except (KeyError, TypeError, ValueError) as exc:
                    yield Skipped("ticket", str(row.get("ticket_id")), f"cannot read it: {exc}")
            last = rows[-1]
            after = (str(last["stamp"]), int(last["ticket_id"]))
            yield Checkpoint("tickets", f"{after[0]}|{after[1]}")
            if len(rows) < self.page:
                return

    def _custom_values(self, ticket_ids: list[int]) -> dict[int, dict[str, Any]]:
        """The tickets' custom form fields by their labels: `ticket__cdata` holds one column per
        field of the ticket forms, named by the field's `name` (its label in `form_field`)."""
        if self.field_labels is None:
            self.field_labels = {}
            if self.has("form_field"):
                for row in self.query(f"SELECT name, label FROM {self.t('form_field')} WHERE name <> ''"):
                    self.field_labels[str(row["name"])] = str(row["label"] or row["name"])
        marks = ", ".join(["%s"] * len(ticket_ids))
        rows = self.query(f"SELECT * FROM {self.t('ticket__cdata')} WHERE ticket_id IN ({marks})", ticket_ids)
        values: dict[int, dict[str, Any]] = {}
        for row in rows:
            values[int(row["ticket_id"])] = {
                self.field_labels.get(name, name): value
                for name, value in row.items()
                if name not in CDATA_BUILTIN and value not in (None, "")
            }
        return values

    def _ticket(self, row: dict[str, Any], custom: dict[str, Any] | None = None) -> Record:
        ticket_id = int(row["ticket_id"])
        created = self._time(row["created"])
        if created is None:
            return Skipped("ticket", str(ticket_id), "no creation time")
        state = str(row["status_state"] or "open")
        if state == "deleted":
            return Skipped("ticket", str(ticket_id), "deleted in osTicket")
        name = str(row["status_name"] or "")
        status = name if name and self.mapping.status(name) else STATES.get(state, name or "open")
        number = str(row["number"] or "").strip()
        return TicketIn(
            source_id=str(ticket_id),
            number=int(number) if number.isdigit() else None,
            reference="" if number.isdigit() else number[:50],
            custom_fields=custom or {},
            subject=str(row["subject"] or ""),
            requester=f"user-{row['user_id']}" if row["user_id"] else "",
            created_at=created,
            updated_at=self._time(row["stamp"]) or created,
            status=status,
            priority=str(row["priority_name"] or ""),
            channel=str(row["source"] or "other").lower(),
            group=str(row["dept_id"]) if row["dept_id"] else "",
            assignee=f"staff-{row['staff_id']}" if row["staff_id"] else "",
            solved_at=self._time(row["closed"]),
            load_comments=lambda: self._thread(ticket_id),
        )

    def _thread(self, ticket_id: int) -> list[CommentIn]:
        from sportello.core.html import html_to_text

        rows = self.query(
            "SELECT e.id, e.type, e.staff_id, e.user_id, e.source, e.body, e.format, e.created "
            f"FROM {self.t('thread_entry')} e JOIN {self.t('thread')} th ON th.id = e.thread_id "
            "WHERE th.object_type = 'T' AND th.object_id = %s ORDER BY e.created, e.id",
            [ticket_id],
        )
        files: dict[int, list[AttachmentIn]] = {}
        ids = [int(r["id"]) for r in rows]
        if ids and self.has("attachment") and self.has("file"):
            marks = ", ".join(["%s"] * len(ids))
            for row in self.query(
                "SELECT a.id, a.object_id, a.name, a.inline, f.id AS file_id, f.name AS file_name, f.type, f.size, "
                f"f.bk FROM {self.t('attachment')} a JOIN {self.t('file')} f ON f.id = a.file_id "
                f"WHERE a.type = 'H' AND a.object_id IN ({marks}) ORDER BY a.id",
                ids,
            ):
                files.setdefault(int(row["object_id"]), []).append(self._attachment(row))
        comments: list[CommentIn] = []
        for row in rows:
            created = self._time(row["created"])
            if created is None:
                continue  # an entry without a time has no place in the thread
            if row["staff_id"]:
                author = f"staff-{row['staff_id']}"
            elif row["user_id"]:
                author = f"user-{row['user_id']}"
            else:
                author = ""
            body = str(row["body"] or "")
            html = str(row["format"] or "").lower() == "html"
            comments.append(
                CommentIn(
                    source_id=str(row["id"]),
                    author=author,
                    body_text=html_to_text(body) if html else body,
                    body_html=body if html else "",
                    created_at=created,
                    public=row["type"] in ("M", "R"),
                    channel=ENTRY_CHANNELS.get(str(row["source"] or "").lower(), ""),
                    attachments=files.get(int(row["id"]), []),
                )
            )
        return comments

    def _attachment(self, row: dict[str, Any]) -> AttachmentIn:
        file_id, backend = int(row["file_id"]), str(row["bk"] or "D")

        def fetch() -> bytes:
            if backend != "D":
                raise SourceError(f"stored outside the database (osTicket storage backend {backend!r})")
            chunks = self.query(
                f"SELECT filedata FROM {self.t('file_chunk')} WHERE file_id = %s ORDER BY chunk_id", [file_id]
            )
            return b"".join(bytes(c["filedata"]) for c in chunks)

        return AttachmentIn(
            source_id=str(row["id"]),
            filename=str(row["name"] or row["file_name"] or "attachment"),
            content_type=str(row["type"] or ""),
            size=int(row["size"] or 0),
            inline=bool(row["inline"]),
            fetch=fetch,
        )

    # --- Knowledge base -------------------------------------------------------------------------

    def _translations(self, kind: str, tags: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
        """The `translation` rows of `kind` for each of `tags` (source id → osTicket tag), by source id."""
        if not tags or not self.has("translation"):
            return {}
        hashes = {translation_tag(tag): source_id for source_id, tag in tags.items()}
        marks = ", ".join(["%s"] * len(hashes))
        found: dict[str, list[dict[str, Any]]] = {}
        for row in self.query(
            f"SELECT id, object_hash, lang, text, updated FROM {self.t('translation')} "
            f"WHERE type = %s AND object_hash IN ({marks}) ORDER BY id",
            [kind, *hashes],
        ):
            found.setdefault(hashes[str(row["object_hash"])], []).append(row)
        return found

    def _system_language(self) -> str:
        if self.has("config"):
            rows = self.query(
                f"SELECT value FROM {self.t('config')} WHERE namespace = 'core' AND `key` = 'system_language'"
            )
            if rows and rows[0]["value"]:
                return str(rows[0]["value"])
        return "en_US"

    def _faq_categories(self) -> Iterator[Any]:
        rows = self.query(f"SELECT * FROM {self.t('faq_category')} ORDER BY category_id")
        names = self._translations("phrase", {str(r["category_id"]): f"category.name.{r['category_id']}" for r in rows})
        self.private_categories = {str(r["category_id"]) for r in rows if not r["ispublic"]}
        # Parents first: a subcategory (osTicket 1.12 and later) refers to one written before it.
        rows.sort(key=lambda r: (bool(r.get("category_pid")), int(r["category_id"])))
        for position, row in enumerate(rows):
            category_id = str(row["category_id"])
            parent = row.get("category_pid")
            other: dict[str, str] = {}
            for translation in names.get(category_id, []):
                language = language_of(str(translation["lang"] or ""))
                if language and str(translation["text"] or "").strip():
                    other[language] = str(translation["text"])
            yield KbCategoryIn(
                f"category:{category_id}",
                str(row["name"] or ""),
                parent=f"category:{parent}" if parent else "",
                position=position,
                names=other,
            )

    def _faqs(self) -> Iterator[Any]:
        primary = self._system_language()
        private = self.private_categories
        rows = self.query(
            "SELECT faq_id, category_id, ispublished, question, answer, keywords, created, updated "
            f"FROM {self.t('faq')} ORDER BY faq_id"
        )
        texts = self._translations("article", {str(r["faq_id"]): f"faq.q:a.{r['faq_id']}" for r in rows})
        files = self._kb_files("F", [int(r["faq_id"]) for r in rows])
        for position, row in enumerate(rows):
            faq_id = str(row["faq_id"])
            try:
                translations = [
                    KbTranslationIn(
                        source_id=faq_id,
                        locale=primary,
                        title=str(row["question"] or ""),
                        body_html=str(row["answer"] or ""),
                        created_at=self._time(row["created"]),
                        updated_at=self._time(row["updated"]),
                    )
                ]
                for each in texts.get(faq_id, []):
                    text = json.loads(str(each["text"] or "{}"))
                    if not isinstance(text, dict):
                        raise ValueError(f"translation {each['id']} is not a question and an answer")
                    translations.append(
                        KbTranslationIn(
                            source_id=f"{faq_id}:{each['lang']}",
                            locale=str(each["lang"] or ""),
                            title=str(text.get("question") or row["question"] or ""),
                            body_html=str(text.get("answer") or ""),
                            created_at=self._time(each["updated"]),
                            updated_at=self._time(each["updated"]),
                        )
                    )
                images = self._faq_files(translations, files.get(int(row["faq_id"]), []))
            except (KeyError, TypeError, ValueError) as exc:
                yield Skipped("article", faq_id, f"cannot read it: {exc}")
                continue
            public = bool(row["ispublished"]) and str(row["category_id"]) not in private
            yield KbArticleIn(
                source_id=faq_id,
                category=f"category:{row['category_id']}",
                translations=translations,
                visibility="public" if public else "internal",
                tags=[k for k in (w.strip() for w in re.split(r"[,;]", str(row["keywords"] or ""))) if k],
                position=position,
                created_at=self._time(row["created"]),
                updated_at=self._time(row["updated"]),
                images=images,
            )

    def _kb_files(self, kind: str, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        """The files (`attachment` of type `kind`) of each of `ids`, with their `file` rows."""
        if not ids or not self.has("attachment") or not self.has("file"):
            return {}
        marks = ", ".join(["%s"] * len(ids))
        found: dict[int, list[dict[str, Any]]] = {}
        for row in self.query(
            "SELECT a.id, a.object_id, a.name, a.inline, a.lang, f.id AS file_id, f.name AS file_name, f.type, "
            f"f.size, f.bk, f.`key` AS file_key FROM {self.t('attachment')} a "
            f"JOIN {self.t('file')} f ON f.id = a.file_id WHERE a.type = %s AND a.object_id IN ({marks}) ORDER BY a.id",
            [kind, *ids],
        ):
            found.setdefault(int(row["object_id"]), []).append(row)
        return found

    def _faq_files(self, translations: list[KbTranslationIn], files: list[dict[str, Any]]) -> list[KbImageIn]:
        """The FAQ's files to store: its images pointed to at FILE_URL in every text, the others
        listed as links after the texts of their language (after all of them when they have none)."""
        by_key = {str(f["file_key"]): f for f in files}
        images: dict[str, KbImageIn] = {}
        shown: set[str] = set()

        def repoint(match: re.Match[str]) -> str:
            raw = match.group(2) if match.group(2) is not None else match.group(3)
            found = FILE_KEY.match(unescape(raw).strip())
            key = urllib.parse.unquote((found.group("cid") or found.group("key")) if found else "")
            if key not in by_key:
                return match.group(0)  # an image from elsewhere stays where it is
            shown.add(key)
            url = FILE_URL.format(key=key)
            images.setdefault(url, self._kb_file(url, by_key[key]))
            return f'{match.group(1)}"{url}"'

        for translation in translations:
            translation.body_html = IMG_SRC_ATTR.sub(repoint, translation.body_html)
        for translation in translations:
            listed = []
            for row in files:
                key = str(row["file_key"])
                if key in shown or (row["lang"] and language_of(str(row["lang"])) != language_of(translation.locale)):
                    continue
                url = FILE_URL.format(key=key)
                images.setdefault(url, self._kb_file(url, row))
                name = str(row["name"] or row["file_name"] or "attachment")
                listed.append(f'<li><a href="{url}">{escape(name)}</a></li>')
            if listed:
                translation.body_html += f"\n<ul>{''.join(listed)}</ul>"
        return list(images.values())

    def _kb_file(self, url: str, row: dict[str, Any]) -> KbImageIn:
        attachment = self._attachment(row)
        return KbImageIn(url=url, filename=attachment.filename, fetch=attachment.fetch)

    # --- Canned responses -----------------------------------------------------------------------

    def _canned_responses(self) -> Iterator[Any]:
        from sportello.core.html import html_to_text

        rows = self.query(
            "SELECT canned_id, dept_id, isenabled, title, response, updated "
            f"FROM {self.t('canned_response')} ORDER BY canned_id"
        )
        files = self._kb_files("C", [int(r["canned_id"]) for r in rows])
        for row in rows:
            response = str(row["response"] or "")
            # osTicket stores the response as HTML when its rich-text editor is on, else as text.
            text = html_to_text(response) if re.search(r"<[a-zA-Z/][^>]*>", response) else response
            body, missing = translate_variables(text)
            unmapped = [f"variable %{{{name}}}" for name in missing]
            names = [str(f["name"] or f["file_name"] or "attachment") for f in files.get(int(row["canned_id"]), [])]
            if names:
                unmapped.append("attachments " + ", ".join(names))
            if row["dept_id"]:
                unmapped.append(f"restriction to department {row['dept_id']}")
            yield MacroIn(
                source_id=str(row["canned_id"]),
                name=str(row["title"] or ""),
                body=body.strip(),
                unmapped=unmapped,
                active=bool(row["isenabled"]),
                updated_at=self._time(row["updated"]),
            )
