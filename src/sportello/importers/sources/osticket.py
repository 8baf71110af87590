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

import re
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
        self.page = page
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
