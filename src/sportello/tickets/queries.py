"""Ticket lists: the built-in views, filters, sort orders and keyset pagination.

The inbox page and the API's ticket list both call `list_tickets`, so they always agree. Keyset
pagination (a cursor holding the last row's sort key) keeps every page one index range scan, at
page 1 or page 10,000; the query count does not grow with the page size.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_noop

from sportello.accounts.models import User
from sportello.core.errors import InvalidInput
from sportello.fields import services as custom_fields
from sportello.tickets.access import tickets_visible_to
from sportello.tickets.held import hold_lookups
from sportello.tickets.models import ACTIVE_CATEGORIES, Channel, Priority, StatusCategory, Ticket

OPEN_STATES = [str(c) for c in (StatusCategory.NEW, StatusCategory.OPEN)]
UNSOLVED_STATES = [str(c) for c in ACTIVE_CATEGORIES]

# SLA filters: a running clock due within the hour, or already overdue (one range on sla.next_due).
SLA_FILTERS = {"breaching": gettext_noop("Breaching within 1 h"), "breached": gettext_noop("Breached")}
SLA_SOON = timedelta(hours=1)
DATE_FIELDS = ("created_from", "created_until", "updated_from", "updated_until")


@dataclass(frozen=True)
class View:
    slug: str
    title: str
    states: list[str]
    mine: bool = False
    unassigned: bool = False


# Titles are marked for translation here and translated where they are shown.
VIEWS = [
    View("mine", gettext_noop("My open tickets"), UNSOLVED_STATES, mine=True),
    View("unassigned", gettext_noop("Unassigned"), OPEN_STATES, unassigned=True),
    View("open", gettext_noop("All open"), OPEN_STATES),
    View("pending", gettext_noop("Pending"), [StatusCategory.PENDING]),
    View("on_hold", gettext_noop("On hold"), [StatusCategory.ON_HOLD]),
    View("solved", gettext_noop("Solved"), [StatusCategory.SOLVED]),
]
VIEWS_BY_SLUG = {view.slug: view for view in VIEWS}

# sort name -> ordering; each ends in a unique column (-id, or the number) so that the key is
# unique and the cursor exact. Every term of one ordering runs the same way, so each ascending
# sort reads its descending twin's index backwards (ticket_updated, ticket_priority, ticket_created,
# the number's unique index; per state, the ticket_state_* indexes).
SORTS: dict[str, tuple[str, ...]] = {
    "newest": ("-updated_at", "-id"),
    "oldest": ("updated_at", "id"),
    "priority": ("-priority", "-updated_at", "-id"),
    "priority_asc": ("priority", "updated_at", "id"),
    "created": ("-created_at", "-id"),
    "created_asc": ("created_at", "id"),
    "number": ("-number",),
    "number_asc": ("number",),
}


@dataclass
class TicketFilter:
    view: str | None = None
    status: list[int] = field(default_factory=list)  # status ids
    state: list[str] = field(default_factory=list)  # status categories
    group: list[int] = field(default_factory=list)
    assignee: list[int] = field(default_factory=list)  # 0 means unassigned
    priority: list[int] = field(default_factory=list)
    channel: list[str] = field(default_factory=list)
    tag: list[str] = field(default_factory=list)
    customer: int | None = None
    organization: int | None = None
    sla: str | None = None  # "breaching" or "breached"
    # Date ranges: from is inclusive, until exclusive (the form turns dates into the agent's days).
    created_from: datetime | None = None
    created_until: datetime | None = None
    updated_from: datetime | None = None
    updated_until: datetime | None = None
    # Custom fields by key: a text's part, a choice, a number, a date, yes/no (fields/services.py).
    custom: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The filter as JSON (a saved view keeps it): only what is set, dates in ISO 8601."""
        data: dict[str, Any] = {}
        for name, value in asdict(self).items():
            if value in (None, [], "", {}):
                continue
            data[name] = value.isoformat() if isinstance(value, datetime) else value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TicketFilter:
        """The filter `to_json` wrote; unknown keys (from an older version) are left out."""
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for name, value in data.items():
            if name not in known:
                continue
            if name in DATE_FIELDS and isinstance(value, str):
                value = datetime.fromisoformat(value)
            values[name] = value
        return cls(**values)

    def validate(self) -> None:
        if self.view and self.view not in VIEWS_BY_SLUG:
            raise InvalidInput(f"Unknown view {self.view!r}; one of: {', '.join(VIEWS_BY_SLUG)}", field="view")
        bad = [s for s in self.state if s not in StatusCategory.values]
        if bad:
            raise InvalidInput(f"Unknown state {bad[0]!r}", field="state")
        bad_p = [p for p in self.priority if p not in Priority.values]
        if bad_p:
            raise InvalidInput(f"Unknown priority {bad_p[0]!r}", field="priority")
        bad_c = [c for c in self.channel if c not in Channel.values]
        if bad_c:
            raise InvalidInput(f"Unknown channel {bad_c[0]!r}", field="channel")
        for name in DATE_FIELDS:
            value = getattr(self, name)
            if value is not None and (not isinstance(value, datetime) or timezone.is_naive(value)):
                raise InvalidInput(f"{name} must be a point in time with its offset", field=name)
        if self.sla and self.sla not in SLA_FILTERS:
            raise InvalidInput(f"Unknown SLA filter {self.sla!r}; one of: {', '.join(SLA_FILTERS)}", field="sla")
        if self.custom:
            custom_fields.clean_filters("ticket", self.custom)


def filtered(user: User, flt: TicketFilter) -> QuerySet[Ticket]:
    flt.validate()
    tickets = tickets_visible_to(user)
    if flt.view:
        tickets = _apply_view(tickets, VIEWS_BY_SLUG[flt.view], user)
    elif not flt.state and not flt.status:  # spam only when asked for (state or status "spam")
        tickets = tickets.exclude(state=StatusCategory.SPAM)
    if flt.state:
        tickets = tickets.filter(state__in=flt.state)
    if flt.status:
        tickets = tickets.filter(status_id__in=flt.status)
    if flt.group:
        tickets = tickets.filter(group_id__in=flt.group)
    if flt.assignee:
        ids = [a for a in flt.assignee if a]
        condition = Q(assignee_id__in=ids)
        if 0 in flt.assignee:
            condition |= Q(assignee__isnull=True)
        tickets = tickets.filter(condition)
    if flt.priority:
        tickets = tickets.filter(priority__in=flt.priority)
    if flt.channel:
        tickets = tickets.filter(channel__in=flt.channel)
    for name in flt.tag:
        tickets = tickets.filter(tags__name=name.strip().lower())
    if flt.customer:
        tickets = tickets.filter(customer_id=flt.customer)
    if flt.organization:
        tickets = tickets.filter(customer__organization_id=flt.organization)
    for name in DATE_FIELDS:
        if (value := getattr(flt, name)) is not None:
            column, end = name.rsplit("_", 1)
            tickets = tickets.filter(**{f"{column}_at__{'gte' if end == 'from' else 'lt'}": value})
    if flt.sla:
        now = timezone.now()
        if flt.sla == "breaching":
            tickets = tickets.filter(sla__next_due__gte=now, sla__next_due__lt=now + SLA_SOON)
        else:
            tickets = tickets.filter(sla__next_due__lt=now)
    if flt.custom:
        tickets = custom_fields.filter_by(tickets, "ticket", flt.custom)
    return tickets.filter(merged_into__isnull=True)


def _apply_view(tickets: QuerySet[Ticket], view: View, user: User) -> QuerySet[Ticket]:
    tickets = tickets.filter(state__in=view.states)
    if view.mine:
        tickets = tickets.filter(assignee=user)
    if view.unassigned:
        tickets = tickets.filter(assignee__isnull=True)
    return tickets


# Counting a view of hundreds of thousands of tickets takes PostgreSQL 100+ ms; counting up to the
# cap takes about one. Past the cap a view shows "1000+": nobody reads an exact backlog from a label.
VIEW_COUNT_CAP = 1000
# The counts are kept until any ticket changes, and this long at most (see view_counts).
VIEW_COUNTS_TTL = 30


class ViewCount(int):
    """A view's count, capped: `capped` says there are more than `VIEW_COUNT_CAP` tickets."""

    @property
    def capped(self) -> bool:
        return self > VIEW_COUNT_CAP

    def __str__(self) -> str:
        return f"{VIEW_COUNT_CAP}+" if self.capped else int.__str__(self)


def latest_change() -> str:
    """A mark of the latest change of any ticket (one row of the `ticket_updated` index): what the
    inbox's cached counts are kept under."""
    latest = Ticket.objects.order_by("-updated_at", "-id").values_list("updated_at", "id", "version").first()
    return f"{latest[0].isoformat()}:{latest[1]}:{latest[2]}" if latest else "empty"


def view_counts(
    user: User, saved: Sequence[tuple[str, TicketFilter]] = (), *, changed: str | None = None
) -> dict[str, ViewCount]:
    """How many tickets each built-in view, and each of the `saved` views (key, filter), holds
    for this user, up to the cap.

    Every page of the inbox shows them, so they are cached per user under the latest change of
    any ticket (every write bumps a ticket's `updated_at` and `version`; reading the newest one is
    one row of the `ticket_updated` index): a change shows in the next page's counts, and a page
    that changed nothing costs one short query instead of a count per view. The saved views'
    filters are part of the key, so a view saved or edited is counted at once. What the stamp cannot
    see (a deleted ticket) calls `forget_view_counts`; the TTL bounds the rest (an agent moved to
    other groups, an SLA clock passing its due time, writes within one frozen instant in tests).
    """
    stamp = changed or latest_change()  # `changed`: the caller read it already (latest_change)
    generation = cache.get(COUNTS_GENERATION_KEY, 0)
    shape = json.dumps([[key, flt.to_json()] for key, flt in saved], sort_keys=True, default=str)
    digest = hashlib.sha256(shape.encode()).hexdigest()[:16]
    key = f"sportello:view-counts:{user.pk}:{stamp}:{generation}:{digest}"
    counts: dict[str, int] | None = cache.get(key)
    if counts is None:
        counts = _count_views(user, saved)
        cache.set(key, counts, VIEW_COUNTS_TTL)
    return {slug: ViewCount(count) for slug, count in counts.items()}


COUNTS_GENERATION_KEY = "sportello:view-counts-generation"


def forget_view_counts() -> None:
    """Every agent's cached counts are recounted on their next page (after tickets were deleted)."""
    if not cache.add(COUNTS_GENERATION_KEY, 1, timeout=None):
        try:
            cache.incr(COUNTS_GENERATION_KEY)
        except ValueError:  # evicted meanwhile
            cache.set(COUNTS_GENERATION_KEY, 1, timeout=None)


def _count_views(user: User, saved: Sequence[tuple[str, TicketFilter]] = ()) -> dict[str, int]:
    """The capped count of every view in one statement (one capped subquery per view), however
    many saved views there are: the query count does not grow with them."""
    base = tickets_visible_to(user).filter(merged_into__isnull=True)
    if base.query.is_empty():
        return {**{view.slug: 0 for view in VIEWS}, **{key: 0 for key, _flt in saved}}
    queries: list[tuple[str, QuerySet[Ticket] | None]] = [(view.slug, _apply_view(base, view, user)) for view in VIEWS]
    for key, flt in saved:
        try:
            queries.append((key, filtered(user, flt)))
        except InvalidInput:  # a filter saved by an older version that no longer holds: counted as empty
            queries.append((key, None))
    parts: list[str] = []
    params: list[Any] = []
    for index, (_key, tickets) in enumerate(queries):
        if tickets is None or tickets.query.is_empty():
            parts.append("0")
            continue
        sql, view_params = tickets.values("pk")[: VIEW_COUNT_CAP + 1].query.sql_with_params()
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS view_{index})")
        params.extend(view_params)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        row = cursor.fetchone()
    return {key: int(count) for (key, _tickets), count in zip(queries, row, strict=True)}


@dataclass
class Page:
    tickets: list[Ticket]
    next_cursor: str | None


# What a ticket table (tickets/templatetags/ticket_rows.py) shows, and every sort's key.
TABLE_FIELDS = (
    "number", "subject", "customer", "channel", "status", "state", "priority", "group", "assignee", "version",
    "created_at", "updated_at", "first_response_at",
    "customer__name", "assignee__username", "assignee__first_name", "assignee__last_name",
)  # fmt: skip


def list_tickets(
    user: User,
    flt: TicketFilter,
    *,
    sort: str = "newest",
    cursor: str | None = None,
    size: int = 50,
    with_tags: bool = True,
    stamp: int | None = None,
    table: bool = False,
) -> Page:
    """A page of tickets in `sort` order after `cursor`; `with_tags=False` when they are not shown.

    With the lookups' version `stamp` (core/lookups.py) the statuses and groups come from this
    process's copy (tickets/held.py) and the SLA clocks with one query by ticket id, not joined:
    planning the join of five tables cost PostgreSQL more than the scan. `table=True` reads only
    the columns a ticket table shows (TABLE_FIELDS); any other field of them costs a query each.
    """
    if sort not in SORTS:
        raise InvalidInput(f"Unknown sort {sort!r}; one of: {', '.join(SORTS)}", field="sort")
    size = max(1, min(size, 200))
    ordering = SORTS[sort]
    tickets = filtered(user, flt)
    if cursor:
        tickets = tickets.filter(_after(ordering, _decode(cursor, len(ordering))))
    tickets = tickets.select_related("customer", "assignee", *(() if stamp is not None else ("status", "group", "sla")))
    if table:
        tickets = tickets.only(*TABLE_FIELDS)
    if with_tags:
        tickets = tickets.prefetch_related("tags")
    rows = list(tickets.order_by(*ordering)[: size + 1])
    next_cursor = _encode(rows[size - 1], ordering) if len(rows) > size else None
    rows = rows[:size]
    if stamp is not None:
        hold_lookups(rows, stamp)
        _hold_clocks(rows, table)
    return Page(tickets=rows, next_cursor=next_cursor)


# The clocks' columns a ticket table's SLA badge reads (sla/services.py `clocks`).
TABLE_CLOCK_FIELDS = (
    "warning_minutes", "first_response_due", "next_response_due", "next_response_started_at", "resolution_due",
    "paused_at",
)  # fmt: skip


def _hold_clocks(tickets: list[Ticket], table: bool) -> None:
    """The tickets' SLA clocks in one query, held as `select_related("sla")` would (None: no clocks)."""
    from sportello.sla.models import TicketSLA

    if not tickets:
        return
    clocks = TicketSLA.objects.filter(ticket_id__in=[t.pk for t in tickets])
    if table:
        clocks = clocks.only(*TABLE_CLOCK_FIELDS)
    found = {sla.ticket_id: sla for sla in clocks}
    relation = Ticket._meta.get_field("sla")
    for ticket in tickets:
        sla = found.get(ticket.pk)
        relation.set_cached_value(ticket, sla)
        if sla is not None:
            TicketSLA._meta.get_field("ticket").set_cached_value(sla, ticket)


def _key(ticket: Ticket, ordering: tuple[str, ...]) -> list[Any]:
    values = []
    for term in ordering:
        value = getattr(ticket, term.lstrip("-"))
        values.append(value.isoformat() if isinstance(value, datetime) else value)
    return values


def _encode(ticket: Ticket, ordering: tuple[str, ...]) -> str:
    return base64.urlsafe_b64encode(json.dumps(_key(ticket, ordering)).encode()).decode().rstrip("=")


def _decode(cursor: str, length: int) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != length:
            raise ValueError("length")
        return [datetime.fromisoformat(v) if isinstance(v, str) else int(v) for v in values]
    except (ValueError, TypeError) as exc:
        raise InvalidInput("The page cursor is not valid; start again from the first page", field="cursor") from exc


def _after(ordering: tuple[str, ...], values: list[Any]) -> Q:
    """Rows strictly after `values` in `ordering`: (a > x) or (a = x and b > y) or …

    The redundant bound `a >= x` comes first: PostgreSQL turns it into an index condition and
    starts the scan at the cursor, where the OR alone would read every earlier row (page 6,000
    of a view took 400 ms without it, 0.1 ms with it).
    """
    condition = Q()
    for index in range(len(ordering) - 1, -1, -1):
        name = ordering[index].lstrip("-")
        op = "lt" if ordering[index].startswith("-") else "gt"
        step = Q(**{f"{name}__{op}": values[index]})
        condition = step if index == len(ordering) - 1 else step | (Q(**{name: values[index]}) & condition)
    first = ordering[0].lstrip("-")
    bound = Q(**{f"{first}__{'lte' if ordering[0].startswith('-') else 'gte'}": values[0]})
    return bound & condition
