"""`sportello import helpscout`: a Help Scout account through its Mailbox API 2.0.

What is read, and the documentation it follows (https://developer.helpscout.com/mailbox-api/):
- a token: the Client Credentials flow, `POST /v2/oauth2/token` with `grant_type=client_credentials`,
  the app's id and secret (overview/authentication); sent as `Authorization: Bearer …`, asked for
  again when it expires (a 401);
- mailboxes (`GET /v2/mailboxes`) become groups; users (`GET /v2/users`, and `?mailbox=ID` for who
  works in which) inactive agents in their mailboxes' groups;
- organizations (`GET /v2/organizations`, endpoints/organizations/list): name, first domain, notes;
  an account without them (older plans answer 404) still gives each customer's free-text
  `organization`, made an organization of that name;
- customers (`GET /v2/customers`) with their emails and phones (`_embedded.emails`, `.phones`),
  their `organizationId`, and their customer properties (`properties`: `name`, `value`/`text`,
  endpoints/customer-properties) into Sportello's customer fields;
- CSAT: the happiness ratings report (`GET /v2/reports/happiness/ratings`, reports/happiness/
  happiness-ratings-report: `ratingId` 1 great, 2 okay, 3 not good, with `ratingComments`),
  read before the conversations: "great" is good, "not good" bad, "okay" left out (Sportello's
  surveys ask good or bad); a plan without reports (403/404) imports no ratings;
- saved replies become macros: `GET /v2/mailboxes/{id}/saved-replies` and each one's text
  (`GET /v2/mailboxes/{id}/saved-replies/{id}`, endpoints/saved-replies);
- with a Docs API key (`docs_key`), the knowledge base from the Docs API v1
  (https://developer.helpscout.com/docs-api/, HelpScoutDocsClient below);
- conversations with their threads (`GET /v2/conversations?status=all&embed=threads&sortField=
  modifiedAt&sortOrder=asc`, `modifiedSince` for a delta), and each thread's attachments
  (`GET /v2/conversations/{id}/attachments/{id}/data`, base64).

Lists are HAL: the rows under `_embedded`, the next page at `_links.next.href` (and `page.number`,
`page.totalPages`). Rate limits (overview/rate-limiting): a 429 is waited out for the seconds its
`X-RateLimit-Retry-After` (or `Retry-After`) says; 5xx answers are retried a few times with a
growing wait (the shared client, http.py, which renews the token on a 401); any other error
stops the import with the message of Help Scout's error body
(`{"logRef", "message", "_embedded": {"errors": [{"path", "message"}]}}`, overview/errors).

The conversations' cursor is "modifiedSince|page": a run killed in the middle continues at the
next page, and a complete run leaves the time it started (less a margin), so the next run asks
only for conversations modified since.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.parse
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import Message
from typing import Any

from sportello.importers.kb_records import KbArticleIn, KbCategoryIn, KbTranslationIn, MacroIn
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

API = "https://api.helpscout.net"
DOCS_API = "https://docsapi.helpscout.net"
MARGIN = timedelta(minutes=5)  # the next delta starts this long before the last run did
# Thread types (mailbox-api/endpoints/conversations/threads/list): who wrote, and whether customers saw it.
PUBLIC_THREADS = {"customer", "message", "reply", "chat", "phone", "beaconchat"}
INTERNAL_THREADS = {"note", "forwardparent", "forwardchild"}
THREAD_CHANNELS = {"chat": "chat", "beaconchat": "chat", "phone": "phone"}
# The happiness report's ratingId (reports/happiness/happiness-ratings-report): great, okay, not good.
RATINGS = {"1": "good", "great": "good", "3": "bad", "not good": "bad", "notgood": "bad"}
RATINGS_FROM = datetime(2011, 1, 1, tzinfo=UTC)  # before Help Scout's first rating


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def error_message(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace") or "no details"
    if not isinstance(data, dict):
        return "no details"
    parts = [str(data.get("message") or data.get("error_description") or data.get("error") or "")]
    errors = (data.get("_embedded") or {}).get("errors") if isinstance(data.get("_embedded"), dict) else None
    for error in errors or []:
        if isinstance(error, dict):
            parts.append(": ".join(str(error[k]) for k in ("path", "message") if error.get(k)))
    return "; ".join(p for p in parts if p) or "no details"


class HelpScoutClient(ApiClient):
    """The shared client (http.py) with Help Scout's OAuth2 token: taken with the Client
    Credentials flow on first use, asked for again when an answer says it expired (a 401)."""

    vendor = "Help Scout"
    example = API

    def __init__(
        self,
        *,
        app_id: str,
        app_secret: str,
        url: str = API,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = TIMEOUT,
    ) -> None:
        super().__init__(url, authorization="", sleep=sleep, timeout=timeout)
        self.app_id, self.app_secret = app_id, app_secret
        self.token = ""

    def _token(self) -> str:
        """A new access token (Client Credentials flow)."""
        form = urllib.parse.urlencode(
            {"grant_type": "client_credentials", "client_id": self.app_id, "client_secret": self.app_secret}
        ).encode()
        body, _headers = self.open(f"{self.base}/v2/oauth2/token", data=form, authorize=False)
        try:
            token = json.loads(body)["access_token"]
        except (ValueError, KeyError, TypeError) as exc:
            raise SourceError("Help Scout's token answer has no access_token") from exc
        return str(token)

    def authorization(self) -> str:
        if not self.token:
            self.token = self._token()
        return f"Bearer {self.token}"

    def renew_authorization(self) -> bool:
        self.token = ""
        return True

    def retry_after(self, headers: Message) -> str | None:
        return headers.get("X-RateLimit-Retry-After") or headers.get("Retry-After")

    def error_message(self, body: bytes) -> str:
        return error_message(body)

    def pages(self, path: str, key: str, params: dict[str, Any] | None = None) -> Iterator[tuple[list[Any], dict]]:
        """Each page's rows (`_embedded[key]`) and the page itself, following `_links.next`."""
        url: str | None = path
        while url:
            page = self.get(url, params)
            params = None  # the next link carries them
            rows = (page.get("_embedded") or {}).get(key) or []
            yield rows, page
            url = ((page.get("_links") or {}).get("next") or {}).get("href")


class HelpScoutDocsClient(ApiClient):
    """Help Scout's Docs API v1 (https://developer.helpscout.com/docs-api/): the user's Docs API key
    as the user name of HTTP Basic authentication, with a dummy password `X` (overview,
    Authentication). Lists come in the Collections Envelope, `{"<key>": {"page", "pages", "count",
    "items"}}`, asked page by page with `page`; one object in `{"<key>": {...}}`. Rate limits are
    per account and per ten minutes: a 429 is waited out for `Retry-After` or, failing that, the
    seconds `X-RateLimit-Reset` says are left in the window (overview, Rate Limiting)."""

    vendor = "Help Scout Docs"
    example = DOCS_API

    def __init__(self, key: str, *, url: str = DOCS_API, sleep: Callable[[float], None] = time.sleep) -> None:
        basic = base64.b64encode(f"{key}:X".encode()).decode()
        super().__init__(url, authorization=f"Basic {basic}", sleep=sleep)

    def retry_after(self, headers: Message) -> str | None:
        return headers.get("Retry-After") or headers.get("X-RateLimit-Reset")

    def error_message(self, body: bytes) -> str:
        return error_message(body)

    def items(self, path: str, key: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every row of a list, page after page until `pages`."""
        number = 1
        while True:
            envelope = self.get(path, {**(params or {}), "page": number}).get(key)
            if not isinstance(envelope, dict):
                raise SourceError(f"Help Scout Docs' answer to {path} has no {key!r} list")
            yield from (row for row in envelope.get("items") or [] if isinstance(row, dict))
            try:
                pages = int(envelope.get("pages") or 1)
            except (TypeError, ValueError):
                pages = 1
            if number >= pages:
                return
            number += 1


def _time(value: Any) -> datetime | None:
    return parse_time(value, field="time", required=False) if value else None


def _order(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 10**6


class HelpScoutSource:
    def __init__(
        self,
        *,
        app_id: str,
        app_secret: str,
        url: str = API,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        docs_key: str = "",
        docs_url: str = DOCS_API,
        docs_language: str = "",
    ) -> None:
        self.client = HelpScoutClient(app_id=app_id, app_secret=app_secret, url=url, sleep=sleep)
        self.name = f"helpscout:{app_id}"[:100]
        self.now = now
        # The Docs API is another API with its own key: the knowledge base comes only with one.
        self.docs = HelpScoutDocsClient(docs_key, url=docs_url, sleep=sleep) if docs_key else None
        if docs_language and language_of(docs_language) is None:
            raise SourceError(f"--docs-language {docs_language!r} is not one of this help desk's languages")
        self.docs_language = docs_language
        self.kb_streams = ("kb", "macros") if self.docs else ("macros",)
        self.ratings: dict[str, RatingIn] = {}  # by conversation id
        self.organization_names: set[str] = set()  # customers' free-text organizations made so far

    def total(self, stream: str) -> int | None:
        path = {"people": ("/v2/customers", {}), "tickets": ("/v2/conversations", {"status": "all"})}.get(stream)
        if path is None:
            return None
        try:
            page = self.client.get(path[0], path[1])
            return int((page.get("page") or {}).get("totalElements") or 0) or None
        except (SourceError, TypeError, ValueError):
            return None

    def read(self, stream: str, *, since: datetime | None, cursor: str | None) -> Iterator[Record]:
        if stream == "groups":
            for rows, _page in self.client.pages("/v2/mailboxes", "mailboxes"):
                for mailbox in rows:
                    yield GroupIn(str(mailbox["id"]), str(mailbox.get("name") or ""))
        elif stream == "organizations":
            yield from self._organizations()
        elif stream == "people":
            yield from self._users()
            yield from self._customers()
        elif stream == "tickets":
            self._ratings(since)
            yield from self._conversations(since, cursor)
        elif stream == "kb" and self.docs is not None:
            yield from self._docs(since)
        elif stream == "macros":
            yield from self._saved_replies()

    def _optional(self, path: str, key: str, params: dict[str, Any] | None = None) -> Iterator[tuple[list[Any], dict]]:
        """A list that an account may not have (its plan, its age): a 403 or 404 is an empty list."""
        try:
            yield from self.client.pages(path, key, params)
        except SourceError as exc:
            if " 404 " in str(exc) or " 403 " in str(exc):
                return
            raise

    def _organizations(self) -> Iterator[Record]:
        for rows, _page in self._optional("/v2/organizations", "organizations"):
            for row in rows:
                if not isinstance(row, dict) or row.get("id") is None:
                    yield Skipped("organization", "?", "not an organization")
                    continue
                domains = [str(d) for d in row.get("domains") or [] if d]
                yield OrganizationIn(
                    source_id=str(row["id"]),
                    name=str(row.get("name") or ""),
                    domain=domains[0] if domains else "",
                    notes="\n\n".join(str(row[k]) for k in ("description", "note") if row.get(k)),
                    updated_at=_time(row.get("updatedAt")),
                )

    def _ratings(self, since: datetime | None) -> None:
        """Every rating since `since` (or ever), by conversation, for the conversations to carry."""
        params = {"start": _stamp(since or RATINGS_FROM), "end": _stamp(self.now()), "rating": "all"}
        page, pages = 1, 1
        while page <= pages:
            try:
                body = self.client.get("/v2/reports/happiness/ratings", {**params, "page": page})
            except SourceError as exc:
                if " 404 " in str(exc) or " 403 " in str(exc):
                    return  # no reports on this plan
                raise
            for row in body.get("results") or []:
                if not isinstance(row, dict) or row.get("id") is None:
                    continue
                rating = RATINGS.get(str(row.get("ratingId") or row.get("rating") or "").strip().lower())
                if rating is not None:
                    comment = str(row.get("ratingComments") or "")
                    self.ratings[str(row["id"])] = RatingIn(rating, comment, _time(row.get("ratingCreatedAt")))
            pages = int(body.get("pages") or 1)
            page += 1

    # --- Knowledge base (Docs API) -------------------------------------------------------------

    def _docs(self, since: datetime | None) -> Iterator[Any]:
        """Collections (categories here) with their categories (categories under them), then each
        collection's articles: the list gives references, `GET /v1/articles/{id}` the text."""
        assert self.docs is not None
        from django.conf import settings

        locale = self.docs_language or settings.LANGUAGE_CODE  # Docs sites have one language
        collections = list(self.docs.items("/v1/collections", "collections"))
        collections.sort(key=lambda c: (_order(c.get("order")), str(c.get("name") or "")))
        known: dict[str, set[str]] = {}
        for position, row in enumerate(collections):
            if row.get("id") is None:
                yield Skipped("category", "?", "a collection without an id")
                continue
            known[str(row["id"])] = set()
            yield KbCategoryIn(f"collection:{row['id']}", str(row.get("name") or ""), position=position)
        for row in collections:
            if row.get("id") is None:
                continue
            categories = list(self.docs.items(f"/v1/collections/{row['id']}/categories", "categories"))
            categories.sort(key=lambda c: (_order(c.get("order")), str(c.get("name") or "")))
            for position, category in enumerate(categories):
                if category.get("id") is None:
                    yield Skipped("category", "?", "a category without an id")
                    continue
                known[str(row["id"])].add(str(category["id"]))
                yield KbCategoryIn(
                    f"category:{category['id']}",
                    str(category.get("name") or ""),
                    parent=f"collection:{row['id']}",
                    position=position,
                )
        for row in collections:
            if row.get("id") is None:
                continue
            public = str(row.get("visibility") or "public") == "public"
            path = f"/v1/collections/{row['id']}/articles"
            for position, ref in enumerate(self.docs.items(path, "articles", {"status": "all"})):
                changed = _time(ref.get("updatedAt"))
                if since is not None and changed is not None and changed < since:
                    continue  # unchanged since: its text is not even asked for
                try:
                    article = self.docs.get(f"/v1/articles/{ref['id']}").get("article")
                    if not isinstance(article, dict):
                        raise ValueError("the answer has no article")
                    yield self._article(article, str(row["id"]), known[str(row["id"])], public, position, locale)
                except (KeyError, TypeError, ValueError) as exc:
                    yield Skipped("article", str(ref.get("id", "?")), f"cannot read it: {exc}")

    def _article(
        self, row: dict[str, Any], collection: str, categories: set[str], public: bool, position: int, locale: str
    ) -> KbArticleIn:
        """An article in the first of its categories that its collection lists (a Sportello
        article has one category), else in the collection itself; its published text, as HTML."""
        article_id = str(row["id"])
        category = next((f"category:{c}" for c in row.get("categories") or [] if str(c) in categories), "")
        return KbArticleIn(
            source_id=article_id,
            category=category or f"collection:{collection}",
            translations=[
                KbTranslationIn(
                    source_id=article_id,
                    locale=locale,
                    title=str(row.get("name") or ""),
                    body_html=str(row.get("text") or ""),
                    draft=str(row.get("status") or "") != "published",
                    created_at=_time(row.get("createdAt")),
                    updated_at=_time(row.get("updatedAt")),
                )
            ],
            visibility="public" if public else "internal",
            tags=[str(k) for k in row.get("keywords") or [] if str(k).strip()],
            position=position,
            created_at=_time(row.get("createdAt")),
            updated_at=_time(row.get("updatedAt")),
        )

    def _saved_replies(self) -> Iterator[Any]:
        for rows, _page in self.client.pages("/v2/mailboxes", "mailboxes"):
            for mailbox in rows:
                path = f"/v2/mailboxes/{mailbox['id']}/saved-replies"
                try:
                    data, _headers = self.client.get_json(path)
                except SourceError as exc:
                    if " 404 " in str(exc) or " 403 " in str(exc):
                        continue
                    raise
                replies = data if isinstance(data, list) else ((data or {}).get("_embedded") or {}).get("savedReplies")
                for row in replies or []:
                    if not isinstance(row, dict) or row.get("id") is None:
                        yield Skipped("macro", "?", "a saved reply without an id")
                        continue
                    text = row.get("text")
                    if text is None:  # the list gives a preview; the reply itself its text
                        text = self.client.get(f"{path}/{row['id']}").get("text")
                    from sportello.core.html import html_to_text

                    yield MacroIn(
                        source_id=f"{mailbox['id']}:{row['id']}",
                        name=str(row.get("name") or ""),
                        body=html_to_text(str(text or "")),
                    )

    def _users(self) -> Iterator[Record]:
        mailboxes: dict[str, list[str]] = {}
        for rows, _page in self.client.pages("/v2/mailboxes", "mailboxes"):
            for mailbox in rows:
                for users, _p in self.client.pages("/v2/users", "users", {"mailbox": mailbox["id"]}):
                    for user in users:
                        mailboxes.setdefault(str(user["id"]), []).append(str(mailbox["id"]))
        for rows, _page in self.client.pages("/v2/users", "users"):
            for user in rows:
                identities = [IdentityIn("email", str(user["email"]))] if user.get("email") else []
                identities += [IdentityIn("email", str(a)) for a in user.get("alternateEmails") or [] if a]
                name = " ".join(str(user[k]).strip() for k in ("firstName", "lastName") if user.get(k))
                yield PersonIn(
                    source_id=f"user-{user['id']}",
                    name=name or str(user.get("email") or ""),
                    identities=identities,
                    agent=True,
                    admin=user.get("role") in ("owner", "admin"),
                    groups=mailboxes.get(str(user["id"]), []),
                    updated_at=_time(user.get("updatedAt")),
                )

    def _customers(self) -> Iterator[Record]:
        # Always the whole list (unchanged ones are skipped): a conversation changed since may be
        # from a customer who has not changed.
        for rows, _page in self.client.pages("/v2/customers", "customers"):
            for row in rows:
                try:
                    customer = self._customer(row)
                except (KeyError, TypeError, ValueError) as exc:
                    yield Skipped("customer", str(row.get("id", "?")), f"cannot read it: {exc}")
                    continue
                named = str(row.get("organization") or "").strip()
                if isinstance(customer, PersonIn) and not customer.organization and named:
                    # The free-text company of an account without organizations: one of that name.
                    if named.lower() not in self.organization_names:
                        self.organization_names.add(named.lower())
                        yield OrganizationIn(f"name:{named.lower()}", named)
                    customer.organization = f"name:{named.lower()}"
                yield customer

    def _customer(self, row: dict[str, Any]) -> Record:
        embedded = row.get("_embedded") or {}
        identities = [IdentityIn("email", str(e["value"])) for e in embedded.get("emails") or [] if e.get("value")]
        identities += [
            IdentityIn("phone", str(p["value"]), False) for p in embedded.get("phones") or [] if p.get("value")
        ]
        name = " ".join(str(row[k]).strip() for k in ("firstName", "lastName") if row.get(k))
        properties = {
            str(p.get("name") or p.get("slug")): p.get("text") or p.get("value")
            for p in row.get("properties") or embedded.get("properties") or []
            if isinstance(p, dict) and (p.get("name") or p.get("slug"))
        }
        return PersonIn(
            source_id=f"customer-{row['id']}",
            name=name or (identities[0].value if identities else ""),
            identities=identities,
            organization=str(row.get("organizationId") or ""),
            notes=str(row.get("background") or ""),
            updated_at=_time(row.get("updatedAt")),
            custom_fields={k: v for k, v in properties.items() if v not in (None, "")},
        )

    def _conversations(self, since: datetime | None, cursor: str | None) -> Iterator[Record]:
        started = self.now()
        modified_since, page_number = (_stamp(since) if since else ""), 1
        if since is None and cursor and "|" in cursor:
            saved, _bar, number = cursor.partition("|")
            modified_since, page_number = saved, int(number) if number.isdigit() else 1
        params: dict[str, Any] = {
            "status": "all",
            "embed": "threads",
            "sortField": "modifiedAt",
            "sortOrder": "asc",
            "page": page_number,
        }
        if modified_since:
            params["modifiedSince"] = modified_since
        for rows, page in self.client.pages("/v2/conversations", "conversations", params):
            for row in rows:
                try:
                    yield self._conversation(row)
                except (KeyError, TypeError, ValueError) as exc:
                    yield Skipped("ticket", str(row.get("id", "?")), f"cannot read it: {exc}")
            reached = int((page.get("page") or {}).get("number") or page_number)
            yield Checkpoint("tickets", f"{modified_since}|{reached + 1}")
            page_number = reached + 1
        # Read to the end: the next run asks for what changed since this one began.
        yield Checkpoint("tickets", f"{_stamp(started - MARGIN)}|1")

    def _conversation(self, row: dict[str, Any]) -> Record:
        conversation_id = str(row["id"])
        if row.get("state") in ("deleted", "draft"):
            return Skipped("ticket", conversation_id, f"{row['state']} in Help Scout")
        created = _time(row.get("createdAt"))
        if created is None:
            return Skipped("ticket", conversation_id, "no createdAt")
        threads = ((row.get("_embedded") or {}).get("threads")) or []
        comments = [c for c in (self._thread(conversation_id, t) for t in threads) if c is not None]
        customer = row.get("primaryCustomer") or {}
        waiting = row.get("customerWaitingSince") or {}
        times = [created, _time(row.get("userUpdatedAt")), _time(row.get("closedAt")), _time(waiting.get("time"))]
        times += [c.created_at for c in comments]
        assignee = row.get("assignee") or {}
        return TicketIn(
            source_id=conversation_id,
            number=int(row["number"]) if str(row.get("number") or "").isdigit() else None,
            subject=str(row.get("subject") or ""),
            requester=f"customer-{customer['id']}" if customer.get("id") else "",
            created_at=created,
            updated_at=max(t for t in times if t is not None),
            status=str(row.get("status") or "active"),
            channel=str(row.get("type") or "email"),
            group=str(row.get("mailboxId") or ""),
            assignee=f"user-{assignee['id']}" if assignee.get("id") else "",
            tags=[str(t.get("tag") or "") for t in row.get("tags") or [] if isinstance(t, dict) and t.get("tag")],
            solved_at=_time(row.get("closedAt")),
            custom_fields={str(f.get("name")): f.get("text") or f.get("value") for f in row.get("customFields") or []},
            rating=self.ratings.get(conversation_id),
            comments=comments,
        )

    def _thread(self, conversation_id: str, row: dict[str, Any]) -> CommentIn | None:
        kind = str(row.get("type") or "")
        if kind not in PUBLIC_THREADS | INTERNAL_THREADS:
            return None  # line items: status changes, assignments (no message)
        if row.get("state") in ("draft", "underreview"):
            return None  # never sent
        created = _time(row.get("createdAt"))
        if created is None:
            return None
        author = row.get("createdBy") or {}
        who = {"customer": "customer", "user": "user"}.get(str(author.get("type") or ""))
        body = str(row.get("body") or "")
        from sportello.core.html import html_to_text

        return CommentIn(
            source_id=str(row["id"]),
            author=f"{who}-{author['id']}" if who and author.get("id") else "",
            body_text=html_to_text(body),
            body_html=body,
            created_at=created,
            public=kind in PUBLIC_THREADS and row.get("state") != "hidden",
            channel=THREAD_CHANNELS.get(kind) or str((row.get("source") or {}).get("type") or ""),
            attachments=[
                self._attachment(conversation_id, a) for a in (row.get("_embedded") or {}).get("attachments") or []
            ],
        )

    def _attachment(self, conversation_id: str, row: dict[str, Any]) -> AttachmentIn:
        attachment_id = str(row["id"])
        href = ((row.get("_links") or {}).get("data") or {}).get("href") or (
            f"/v2/conversations/{conversation_id}/attachments/{attachment_id}/data"
        )

        def fetch() -> bytes:
            data = self.client.get(href).get("data")
            try:
                return base64.b64decode(str(data or ""), validate=True)
            except ValueError as exc:
                raise SourceError("the attachment's data is not base64") from exc

        return AttachmentIn(
            source_id=attachment_id,
            filename=str(row.get("filename") or "attachment"),
            content_type=str(row.get("mimeType") or ""),
            size=int(row.get("size") or 0),
            fetch=fetch,
        )
