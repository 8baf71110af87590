"""`sportello import csv`: organizations, people, tickets and comments from CSV or JSON files.

The layouts are in docs/importing.md. A file ending in .json holds a list of objects with the
same keys as the CSV's columns (lists may be JSON lists instead of `;`-separated text, and a
ticket may carry its `comments` inline). A row that cannot be read is skipped with its line and
the reason; the rest of the file still comes.
"""

from __future__ import annotations

import csv
import json
import mimetypes
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sportello.importers.records import (
    AttachmentIn,
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

TRUE = {"1", "true", "yes", "y", "public", "t"}


class SourceError(Exception):
    """The source cannot be read at all (a missing file, a server that refuses the token)."""


class RowError(ValueError):
    pass


def parse_time(value: Any, *, field: str, required: bool = True) -> datetime | None:
    if value in (None, ""):
        if required:
            raise RowError(f"{field} is missing")
        return None
    try:
        text = str(value).strip().replace("Z", "+00:00")
        at = datetime.fromisoformat(text)
    except ValueError as exc:
        raise RowError(f"{field} {value!r} is not an ISO 8601 time") from exc
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def split(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in str(value or "").replace(",", ";").split(";") if v.strip()]


def custom_fields_of(row: dict[str, Any]) -> dict[str, Any]:
    """A row's custom fields by name: its `cf_<name>` columns (CSV: text) and, in JSON, its
    `custom_fields` object (values as JSON gives them: numbers, true/false, lists). An empty cell
    is a field without a value."""
    found: dict[str, Any] = {}
    given = row.get("custom_fields")
    if given not in (None, ""):
        if not isinstance(given, dict):
            raise RowError("custom_fields is not an object")
        found.update({str(k): v for k, v in given.items()})
    for column, value in row.items():
        if isinstance(column, str) and column.lower().startswith("cf_") and len(column) > 3:
            found[column[3:]] = value
    return found


def rows_of(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line or item number, row) of a CSV or JSON file."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(path.read_text(encoding="utf-8-sig"))
            if isinstance(data, dict):  # {"tickets": [...]} as well as [...]
                data = next((v for v in data.values() if isinstance(v, list)), [])
            if not isinstance(data, list):
                raise SourceError(f"{path}: expected a list of objects")
            for index, row in enumerate(data, start=1):
                yield index, row if isinstance(row, dict) else {"__bad__": row}
            return
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            for row in reader:
                yield reader.line_num, {_column(k): v for k, v in row.items() if k}
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, SourceError):
            raise
        raise SourceError(f"Cannot read {path}: {exc}") from exc


@dataclass
class TabularSource:
    tickets: str | None = None
    customers: str | None = None
    organizations: str | None = None
    comments: str | None = None
    name: str = "csv"

    def __post_init__(self) -> None:
        for path in (self.tickets, self.customers, self.organizations, self.comments):
            if path and not Path(path).is_file():
                raise SourceError(f"No such file: {path}")
        self._alias: dict[str, str] = {}  # a person's email (lower case) -> their id
        self._bad_comments: list[Skipped] = []

    def total(self, stream: str) -> int | None:
        path = {"organizations": self.organizations, "people": self.customers, "tickets": self.tickets}.get(stream)
        if not path:
            return 0
        return sum(1 for _ in rows_of(path))

    def read(self, stream: str, *, since: datetime | None, cursor: str | None) -> Iterator[Record]:
        if stream == "groups":
            yield from self._groups()
        elif stream == "organizations" and self.organizations:
            for line, row in rows_of(self.organizations):
                try:
                    yield self._organization(row)
                except RowError as exc:
                    yield Skipped("organization", f"line {line}", str(exc))
        elif stream == "people" and self.customers:
            for line, row in rows_of(self.customers):
                try:
                    person = self._person(row)
                except RowError as exc:
                    yield Skipped("customer", f"line {line}", str(exc))
                    continue
                if since and person.updated_at and person.updated_at < since:
                    continue
                yield person
        elif stream == "tickets" and self.tickets:
            comments = self._comments()
            yield from self._bad_comments
            for line, row in rows_of(self.tickets):
                try:
                    ticket = self._ticket(row, comments)
                except RowError as exc:
                    yield Skipped("ticket", f"line {line}", str(exc))
                    continue
                if since and ticket.updated_at < since:
                    continue
                yield ticket

    def _groups(self) -> Iterator[Record]:
        names: dict[str, None] = {}
        if self.tickets:
            for _line, row in rows_of(self.tickets):
                if str(row.get("group") or "").strip():
                    names[str(row["group"]).strip()] = None
        if self.customers:
            for _line, row in rows_of(self.customers):
                for name in split(row.get("groups")):
                    names[name] = None
        for name in names:
            yield GroupIn(source_id=name, name=name)

    def _organization(self, row: dict[str, Any]) -> OrganizationIn:
        _check(row)
        source_id = str(row.get("id") or row.get("name") or "").strip()
        name = str(row.get("name") or "").strip()
        if not name:
            raise RowError("name is missing")
        return OrganizationIn(
            source_id=source_id,
            name=name,
            domain=str(row.get("domain") or "").strip(),
            notes=str(row.get("notes") or ""),
            custom_fields=custom_fields_of(row),
        )

    def _person(self, row: dict[str, Any]) -> PersonIn:
        _check(row)
        emails = split(row.get("email")) + split(row.get("emails"))
        phones = split(row.get("phone")) + split(row.get("phones"))
        source_id = str(row.get("id") or (emails[0].lower() if emails else "")).strip()
        if not source_id:
            raise RowError("neither id nor email")
        for email in emails:
            self._alias[email.lower()] = source_id
        role = str(row.get("role") or "customer").strip().lower()
        if role not in ("customer", "agent", "admin"):
            raise RowError(f"role {role!r} is not customer, agent or admin")
        return PersonIn(
            source_id=source_id,
            name=str(row.get("name") or "").strip(),
            identities=[IdentityIn("email", e) for e in emails] + [IdentityIn("phone", p) for p in phones],
            organization=str(row.get("organization") or row.get("organization_id") or "").strip(),
            agent=role != "customer",
            admin=role == "admin",
            groups=split(row.get("groups")),
            language=str(row.get("language") or "").strip(),
            notes=str(row.get("notes") or ""),
            updated_at=parse_time(row.get("updated_at"), field="updated_at", required=False),
            custom_fields=custom_fields_of(row),
        )

    def _ref(self, value: Any) -> str:
        text = str(value or "").strip()
        return self._alias.get(text.lower(), text)

    def _comments(self) -> dict[str, list[CommentIn]]:
        found: dict[str, list[CommentIn]] = {}
        if not self.comments:
            return found
        for line, row in rows_of(self.comments):
            try:
                _check(row)
                ticket = str(row.get("ticket_id") or row.get("ticket") or "").strip()
                if not ticket:
                    raise RowError("ticket_id is missing")
                found.setdefault(ticket, []).append(self._comment(row, f"line {line}", Path(self.comments).parent))
            except RowError as exc:
                self._bad_comments.append(Skipped("comment", f"line {line}", str(exc)))
        return found

    def _comment(self, row: dict[str, Any], fallback_id: str, folder: Path) -> CommentIn:
        source_id = str(row.get("id") or fallback_id)
        return CommentIn(
            source_id=source_id,
            author=self._ref(row.get("author") or row.get("author_id") or row.get("author_email")),
            body_text=str(row.get("body") or ""),
            body_html=str(row.get("html") or ""),
            created_at=parse_time(row.get("created_at"), field="created_at"),  # type: ignore[arg-type]
            public=str(row.get("public", "true")).strip().lower() in TRUE,
            channel=str(row.get("channel") or ""),
            attachments=[
                _attachment(folder, name, f"{source_id}:{index}")
                for index, name in enumerate(split_paths(row.get("attachments")), start=1)
            ],
        )

    def _ticket(self, row: dict[str, Any], comments: dict[str, list[CommentIn]]) -> TicketIn:
        _check(row)
        source_id = str(row.get("id") or "").strip()
        if not source_id:
            raise RowError("id is missing")
        requester = self._ref(row.get("requester") or row.get("requester_id") or row.get("requester_email"))
        if not requester:
            raise RowError("requester is missing")
        created = parse_time(row.get("created_at"), field="created_at")
        assert created is not None
        updated = parse_time(row.get("updated_at"), field="updated_at", required=False) or created
        number_text = str(row.get("number") or "").strip()
        try:
            number = int(number_text) if number_text else None
        except ValueError as exc:
            raise RowError(f"number {number_text!r} is not a whole number") from exc
        thread: list[CommentIn] = []
        if str(row.get("body") or "").strip():
            thread.append(CommentIn(f"{source_id}:body", requester, str(row["body"]), created))
        inline = row.get("comments")
        if isinstance(inline, list):
            for index, item in enumerate(inline, start=1):
                if isinstance(item, dict):
                    thread.append(self._comment(item, f"{source_id}:{index}", Path(str(self.tickets)).parent))
        thread += comments.get(source_id, [])
        rating = str(row.get("rating") or row.get("csat") or "").strip().lower()
        return TicketIn(
            source_id=source_id,
            number=number,
            subject=str(row.get("subject") or ""),
            requester=requester,
            created_at=created,
            updated_at=updated,
            status=str(row.get("status") or "open"),
            priority=str(row.get("priority") or ""),
            channel=str(row.get("channel") or "email"),
            group=str(row.get("group") or "").strip(),
            assignee=self._ref(row.get("assignee") or row.get("assignee_email")),
            tags=split(row.get("tags")),
            language=str(row.get("language") or ""),
            rating=RatingIn(rating, str(row.get("rating_comment") or "")) if rating in ("good", "bad") else None,
            custom_fields=custom_fields_of(row),
            comments=thread,
        )


def _check(row: dict[str, Any]) -> None:
    if "__bad__" in row:
        raise RowError("not an object")
    if None in row.values() and any(v is None for v in row.values()):
        raise RowError("fewer columns than the header")


def _column(header: str) -> str:
    """Column names are read in any case; a custom field's keeps its own, which becomes its label."""
    name = header.strip()
    return f"cf_{name[3:]}" if name.lower().startswith("cf_") else name.lower()


def split_paths(value: Any) -> list[str]:
    """File names of a comment's attachments: a JSON list, or `;`-separated (never `,`, which
    file names may hold)."""
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in str(value or "").split(";") if v.strip()]


def _attachment(folder: Path, name: str, source_id: str) -> AttachmentIn:
    """A file beside the comments file (or under it): read only when the entry is written, so a
    missing file is reported there with the rest of the ticket still coming."""
    path = folder / name

    def fetch() -> bytes:
        try:
            return path.read_bytes()
        except OSError as exc:
            raise RowError(f"cannot read {path}: {exc.strerror or exc}") from exc

    size = path.stat().st_size if path.is_file() else 0
    return AttachmentIn(
        source_id=source_id,
        filename=path.name,
        content_type=mimetypes.guess_type(path.name)[0] or "",
        size=size,
        fetch=fetch,
    )
