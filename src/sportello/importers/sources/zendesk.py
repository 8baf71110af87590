"""`sportello import zendesk`: a Zendesk Support account through its REST API.

What is read, and the documentation it follows (developer.zendesk.com/api-reference):
- groups: `GET /api/v2/groups` (ticketing/groups/groups), followed by `next_page`;
- organizations: the time-based incremental export `GET /api/v2/incremental/organizations?start_time=`
  (ticketing/ticket-management/incremental_exports), pages until `end_of_stream`, `end_time` as cursor;
- users, with every identity sideloaded: `GET /api/v2/incremental/users/cursor?start_time=&include=identities`,
  then `?cursor=<after_cursor>` until `end_of_stream`;
- tickets: `GET /api/v2/incremental/tickets/cursor?start_time=`, then `?cursor=`;
- each new or changed ticket's thread: `GET /api/v2/tickets/{id}/comments?page[size]=100`, cursor
  pagination (`meta.has_more`, `links.next`) (ticketing/tickets/ticket_comments);
- attachments: each comment's `attachments[].content_url`, downloaded.

Authentication is an API token: Basic `{email}/token:{token}` (introduction#api-token).
Rate limits (account-api/rate-limits): a 429 says how long to wait in `Retry-After` (seconds);
the shared client (sources/http.py) waits that long and asks again. 5xx answers are retried a few
times with a growing wait; any other error stops the import with the error body's message (a run
started again resumes).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

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


class ZendeskSource:
    def __init__(
        self,
        url: str,
        *,
        email: str,
        token: str,
        sleep: Callable[[float], None] = time.sleep,
        client: ZendeskClient | None = None,
    ) -> None:
        self.client = client or ZendeskClient(url, email=email, token=token, sleep=sleep)
        self.name = f"zendesk:{self.client.host}"[:100]

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

    def read(self, stream: str, *, since: datetime | None, cursor: str | None) -> Iterator[Record]:
        start = str(int(since.timestamp())) if since else "0"
        if stream == "groups":
            yield from self._groups()
        elif stream == "organizations":
            yield from self._organizations(cursor or start)
        elif stream == "people":
            yield from self._cursor_export("users", start, cursor, self._person, include="identities")
        elif stream == "tickets":
            yield from self._cursor_export("tickets", start, cursor, self._ticket)

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
            load_comments=lambda: self._comments(ticket_id),
        )

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
