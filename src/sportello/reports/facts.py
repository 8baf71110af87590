"""Keeping the report facts: per-ticket facts and agent activity, recomputed in batches from the tickets.

`refresh(ticket_ids)` reads the tickets as they are now (a constant number of queries per batch,
whatever its size) and writes their `TicketFact` rows (one upsert) and `Activity` rows (one delete,
one insert). It does not care which event called it or in which order events arrive, so a second
delivery writes the same rows: it is the outbox listener of every ticket event (`on_events`,
registered in `ReportsConfig.ready`) and the worker of `sportello reports rebuild`.

How each fact is defined (docs/reports.md says the same for readers):
- replies: public messages of agents (direction outbound, not internal); notes: internal notes.
- first response: the ticket's `first_response_at` (its first public reply) minus `created_at`.
- resolution: for a solved or closed ticket, its LAST solve (`solved_at`, cleared on reopen and set
  again on the next solve) minus `created_at`.
- business seconds: the same spans counted in the business hours of the calendar of the SLA policy
  that applies to the ticket (holidays included); 24/7 (= calendar seconds) without one.
- reopens: status changes from a solved or closed status to any other (not spam).
- one-touch: solved or closed, exactly one public reply, never reopened.
- SLA outcome of each target: breached (the clock says so), met (the response was given or the
  ticket solved in time), open (not decided yet), or "" (the ticket's policy has no such target).
- merged: merged into another ticket; its entries were moved there and counted there.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, JSONField, Q
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone

from sportello.chat.models import Conversation
from sportello.core import events
from sportello.core.rows import bound_cursor
from sportello.customers.models import Customer, Identity, IdentityKind
from sportello.reports import rollup
from sportello.reports.models import Activity, ActivityKind, BacklogDay, SlaOutcome, TicketFact
from sportello.sla.business_time import ALWAYS, CalendarSpec, Timeline
from sportello.sla.models import Calendar, Policy, TicketSLA
from sportello.tickets.models import ACTIVE_CATEGORIES, Change, Direction, Entry, Status, StatusCategory, Ticket

log = logging.getLogger("sportello.reports")

DONE = frozenset({StatusCategory.SOLVED, StatusCategory.CLOSED})
OPEN_STATES = tuple(str(state) for state in ACTIVE_CATEGORIES)
REBUILD_BATCH = 1000

# The columns of a ticket the facts read, in order.
TICKET_COLUMNS = (
    "pk",
    "number",
    "created_at",
    "channel",
    "state",
    "priority",
    "group_id",
    "assignee_id",
    "category_id",
    "customer_id",
    "customer__organization_id",
    "merged_into_id",
    "first_response_at",
    "solved_at",
    "time_spent",
    "version",
    "custom_fields",
)
UPDATED_FIELDS = [
    field.name for field in TicketFact._meta.concrete_fields if field.name not in ("ticket",) and not field.primary_key
]


# --- Business hours ----------------------------------------------------------------------------------


class _Calendars:
    """Timelines of the calendars, per process, read again when a calendar's `updated_at` moves."""

    def __init__(self) -> None:
        self.timelines: dict[int, tuple[datetime, Timeline]] = {}
        self.always = Timeline(ALWAYS)

    def timelines_for(self, calendar_ids: Iterable[int]) -> dict[int, Timeline]:
        wanted = set(calendar_ids)
        if not wanted:
            return {}
        stamps = dict(_select("calendars", sorted(wanted)))
        stale = [pk for pk, stamp in stamps.items() if self.timelines.get(pk, (None,))[0] != stamp]
        if stale:
            for calendar in Calendar.objects.filter(pk__in=stale).prefetch_related("intervals", "holidays"):
                self.timelines[calendar.pk] = (calendar.updated_at, Timeline(calendar.spec()))
        return {pk: self.timelines[pk][1] for pk in stamps if pk in self.timelines}

    def forget(self) -> None:
        self.timelines.clear()


calendars = _Calendars()


def business_seconds(timeline: Timeline | CalendarSpec, start: datetime, end: datetime) -> int:
    return int(timeline.between(start, end).total_seconds())


# --- Reading a batch -------------------------------------------------------------------------------------


@dataclass
class _Sla:
    policy_id: int | None
    calendar_id: int | None
    minutes: tuple[int | None, int | None, int | None]
    breached: tuple[bool, bool, bool]


def _categories() -> dict[str, str]:
    """Status name -> category (history stores a status by its name)."""
    return dict(Status.objects.values_list("name", "category"))


# The reads of a batch are SQL built once per process (`_sql`), sent with the ids apart from their
# text (`core.rows.bound_cursor`: prepared on PostgreSQL once repeated): compiling the ORM's
# querysets cost more than the database spent answering them.


def _quoted(model: type[Any]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _columns(*names: str) -> str:
    return ", ".join(connection.ops.quote_name(name) for name in names)


@cache
def _sql(vendor: str) -> dict[str, str]:
    """The statements of a batch; "{ids}" stands where the batch's ids go (see `_select`)."""
    ticket, customer, identity = _quoted(Ticket), _quoted(Customer), _quoted(Identity)
    sla, policy, entry, change = _quoted(TicketSLA), _quoted(Policy), _quoted(Entry), _quoted(Change)
    tags, chat, status = _quoted(Ticket.tags.through), _quoted(Conversation), _quoted(Status)
    fact, activity, calendar = _quoted(TicketFact), _quoted(Activity), _quoted(Calendar)
    return {
        # TICKET_COLUMNS, then the SLA (_Sla) and the customer's first e-mail address.
        "tickets": f"""
            SELECT t.id, t.number, t.created_at, t.channel, t.state, t.priority, t.group_id, t.assignee_id,
                t.category_id, t.customer_id, c.organization_id, t.merged_into_id, t.first_response_at,
                t.solved_at, t.time_spent, t.version, t.custom_fields,
                s.ticket_id, s.policy_id, p.calendar_id, s.first_response_minutes, s.next_response_minutes,
                s.resolution_minutes, s.first_response_breached, s.next_response_breached, s.resolution_breached,
                (SELECT i.value FROM {identity} i WHERE i.customer_id = t.customer_id AND i.kind = %s
                 ORDER BY i.id LIMIT 1)
            FROM {ticket} t LEFT JOIN {customer} c ON c.id = t.customer_id
                LEFT JOIN {sla} s ON s.ticket_id = t.id LEFT JOIN {policy} p ON p.id = s.policy_id
            WHERE t.id {{ids}} ORDER BY t.id""",
        "entries": f"""
            SELECT ticket_id, direction, internal, author_user_id, created_at, time_spent FROM {entry}
            WHERE ticket_id {{ids}}""",
        "changes": f"""
            SELECT ticket_id, actor_id, old_value, new_value, created_at FROM {change}
            WHERE field = 'status' AND ticket_id {{ids}} ORDER BY created_at, id""",
        "tags": f"SELECT ticket_id, tag_id FROM {tags} WHERE ticket_id {{ids}} ORDER BY tag_id",
        "chats": f"""
            SELECT ticket_id, agent_id, accepted_at FROM {chat}
            WHERE accepted_at IS NOT NULL AND ticket_id {{ids}}""",
        "statuses": f"SELECT name, category FROM {status}",
        "calendars": f"SELECT id, updated_at FROM {calendar} WHERE id {{ids}}",
        # What the roll-up and the ticket counts read of the facts there are (FACT_READ, then the
        # state), and their activity (ACTIVITY_READ).
        "facts": f"SELECT {_columns(*rollup.FACT_READ, 'state')} FROM {fact} WHERE ticket_id {{ids}}",
        "activity": f"SELECT {_columns(*rollup.ACTIVITY_READ)} FROM {activity} WHERE fact_id {{ids}}",
        "forget": f"DELETE FROM {activity} WHERE fact_id {{ids}}",
    }


def _select(name: str, ids: list[int] | None = None, *before: Any) -> list[tuple[Any, ...]]:
    """The rows of statement `name` for these ids (`before`: the parameters ahead of them)."""
    sql = _sql(connection.vendor)[name]
    if ids is None:
        params: list[Any] = list(before)
    elif connection.vendor == "postgresql":
        sql, params = sql.replace("{ids}", "= ANY(%s::bigint[])"), [*before, ids]
    else:
        marks = ", ".join(["%s"] * len(ids)) or "NULL"
        sql, params = sql.replace("{ids}", f"IN ({marks})"), [*before, *ids]
    with bound_cursor() as cursor:
        cursor.execute(sql, params)
        if cursor.description is None:
            return []
        rows = cursor.fetchall()
    if connection.vendor == "sqlite":  # its times come back naive (in UTC)
        rows = [tuple(_aware(value) for value in row) for row in rows]
    return rows


def _aware(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


# --- Computing the facts of a batch --------------------------------------------------------------------


def refresh(ticket_ids: Iterable[int]) -> int:
    """Recompute the facts and activity of these tickets; return how many facts were written."""
    ids = sorted(set(ticket_ids))
    if not ids:
        return 0
    rows = _select("tickets", ids, IdentityKind.EMAIL.value)
    tickets = [(*row[:16], _json(row[16])) for row in rows]
    found = [row[0] for row in tickets]
    slas = {row[0]: _Sla(row[18], row[19], row[20:23], row[23:26]) for row in rows if row[17] is not None}
    domains = {row[0]: row[26].rpartition("@")[2][:200] if row[26] else "" for row in rows}
    entries: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for entry in _select("entries", found):
        entries[entry[0]].append(entry)
    categories = dict(_select("statuses"))
    status_changes: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for change in _select("changes", found):
        status_changes[change[0]].append(change)
    timelines = calendars.timelines_for(sla.calendar_id for sla in slas.values() if sla.calendar_id)
    tags: dict[int, list[int]] = defaultdict(list)
    for ticket_id, tag_id in _select("tags", found):
        tags[ticket_id].append(tag_id)
    chats: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for chat in _select("chats", found):
        chats[chat[0]].append(chat)

    types = rollup.field_types() if any(row[-1] for row in tickets) else {}
    _cover(tickets, slas, timelines)
    now = timezone.now()
    always = calendars.always
    facts: list[tuple[Any, ...]] = []
    activity: dict[int, list[tuple[Any, ...]]] = {}
    reply, note = ActivityKind.REPLY.value, ActivityKind.NOTE.value
    outbound, internal_direction = Direction.OUTBOUND.value, Direction.INTERNAL.value
    for row in tickets:
        (
            pk,
            number,
            created_at,
            channel,
            state,
            priority,
            group_id,
            assignee_id,
            category_id,
            customer_id,
            organization_id,
            merged_into_id,
            first_response_at,
            solved_at,
            time_spent,
            version,
            custom_fields,
        ) = row
        custom_fields = custom_fields if isinstance(custom_fields, dict) else {}
        sla = slas.get(pk)
        timeline = timelines.get(sla.calendar_id, always) if sla and sla.calendar_id else always
        done_by: list[tuple[Any, ...]] = []
        replies = notes = 0
        for _, direction, internal, author, at, minutes in entries.get(pk, ()):
            if direction == outbound and not internal:
                replies += 1
                kind = reply
            elif direction == internal_direction:
                notes += 1
                kind = note
            else:
                continue
            done_by.append((pk, kind, author, at, minutes or 0))
        reopens = 0
        # A merged ticket's messages were moved to the ticket it was merged into; its own solves and
        # reopens are counted nowhere (only a chat an agent accepted on it still counts).
        for _, actor, old, new, at in status_changes.get(pk, ()) if merged_into_id is None else ():
            before, after = categories.get(old, ""), categories.get(new, "")
            if before in DONE and after in OPEN_STATES:
                reopens += 1
                done_by.append((pk, ActivityKind.REOPEN.value, actor, at, 0))
            elif after in DONE and before not in DONE:
                done_by.append((pk, ActivityKind.SOLVE.value, actor, at, 0))
        for _, agent_id, at in chats.get(pk, ()):
            done_by.append((pk, ActivityKind.CHAT.value, agent_id, at, 0))
        activity[pk] = done_by
        done = state in DONE and solved_at is not None and merged_into_id is None
        first_response_seconds = first_response_business_seconds = None
        resolution_seconds = resolution_business_seconds = None
        if first_response_at is not None:
            first_response_seconds = int((first_response_at - created_at).total_seconds())
            first_response_business_seconds = business_seconds(timeline, created_at, first_response_at)
        if done:
            resolution_seconds = int((solved_at - created_at).total_seconds())
            resolution_business_seconds = business_seconds(timeline, created_at, solved_at)
        outcomes = _sla_outcomes(sla, state, first_response_at) if sla is not None else (None, "", "", "")
        # In the order of FACT_COLUMNS (checked below).
        facts.append(
            (
                pk,
                number,
                created_at,
                channel,
                state,
                priority,
                group_id,
                assignee_id,
                category_id,
                customer_id,
                organization_id,
                domains.get(pk, ""),
                first_response_at,
                solved_at if done else None,
                reopens,
                replies,
                notes,
                first_response_seconds,
                first_response_business_seconds,
                resolution_seconds,
                resolution_business_seconds,
                done and replies == 1 and reopens == 0,
                time_spent,
                *outcomes,
                merged_into_id is not None,
                version,
                tags.get(pk, []),
                custom_fields,
                rollup.field_values(custom_fields, types),
                now,
            )
        )
    _write(found, facts, activity)
    return len(facts)


# TicketFact's columns in the order `refresh` builds its rows; Activity's likewise.
FACT_FIELDS = list(TicketFact._meta.concrete_fields)
FACT_COLUMNS = [field.attname for field in FACT_FIELDS]
assert FACT_COLUMNS == [
    "ticket_id", "number", "created_at", "channel", "state", "priority", "group_id", "assignee_id", "category_id",
    "customer_id", "organization_id", "sender_domain", "first_response_at", "solved_at", "reopens", "replies", "notes",
    "first_response_seconds", "first_response_business_seconds", "resolution_seconds", "resolution_business_seconds",
    "one_touch", "time_spent", "sla_policy_id", "sla_first_response", "sla_next_response", "sla_resolution", "merged",
    "version", "tags", "custom_fields", "field_values", "updated_at",
], "refresh builds the facts' rows in this order"  # fmt: skip
ACTIVITY_FIELDS: list[Any] = [Activity._meta.get_field(name) for name in ("fact", "kind", "agent", "at", "time_spent")]
ACTIVITY_COLUMNS = [field.attname for field in ACTIVITY_FIELDS]
# Where the roll-up's FACT_READ columns are in a row of FACT_COLUMNS.
ROLLUP_READ = [FACT_COLUMNS.index(column) for column in rollup.FACT_READ]
COUNT_READ = [FACT_COLUMNS.index(column) for column in rollup.COUNT_READ]
# Where COUNT_READ's are in a row of the statement "facts" (FACT_READ, then the state).
OLD_COUNT_READ = [(*rollup.FACT_READ, "state").index(column) for column in rollup.COUNT_READ]
# The JSON columns of FACT_READ (read back as text on PostgreSQL).
JSON_READ = [rollup.FACT_READ.index(column) for column in ("tags", "field_values")]
assert list(rollup.ACTIVITY_READ) == ACTIVITY_COLUMNS


def _write(found: list[int], facts: list[tuple[Any, ...]], activity: dict[int, list[tuple[Any, ...]]]) -> None:
    """Upsert the facts of the tickets `found` and replace their activity, in one transaction.

    On PostgreSQL the facts are one statement over arrays (`unnest`), and so is the activity: the
    ORM's bulk_create spends more time building model objects and SQL than the database spends
    writing them. A ticket's activity is rewritten only when it changed (most events add none).
    Tickets gone since (deleted) took their facts with them by cascade."""
    with transaction.atomic():
        # The daily roll-up moves by the difference between what these tickets contributed and
        # what they contribute now, read and written under one lock (reports/rollup.py). Only the
        # tickets whose roll-up inputs (FACT_READ, activity) changed can move it: the others are
        # left out of both sides.
        rollup.lock()
        zone = rollup.kept_zone()
        old_facts: dict[int, tuple[Any, ...]] = {}
        for row in _select("facts", found):
            values = list(row)
            for index in JSON_READ:
                values[index] = _json(values[index])
            old_facts[row[0]] = tuple(values)
        old_activity: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
        for row in _select("activity", list(old_facts)) if old_facts else ():
            old_activity[row[0]].append(row)
        rewritten = {
            pk
            for pk, rows in activity.items()
            if len(rows) != len(old_activity.get(pk, ())) or _moved(rows, old_activity[pk])
        }
        read = len(rollup.FACT_READ)
        moved = {
            row[0]
            for row in facts
            if row[0] in rewritten or old_facts.get(row[0], ())[:read] != tuple(row[i] for i in ROLLUP_READ)
        }
        if rewritten:
            _select("forget", sorted(rewritten))
        new_activity = [row for pk in sorted(rewritten) for row in activity[pk]]
        if connection.vendor != "postgresql":
            TicketFact.objects.bulk_create(
                [TicketFact(**dict(zip(FACT_COLUMNS, row, strict=True))) for row in facts],
                update_conflicts=True,
                unique_fields=["ticket"],
                update_fields=UPDATED_FIELDS,
            )
            Activity.objects.bulk_create(
                [Activity(**dict(zip(ACTIVITY_COLUMNS, row, strict=True))) for row in new_activity]
            )
        else:
            with bound_cursor() as cursor:
                if facts:
                    sql = _unnest_sql(TicketFact, tuple(FACT_FIELDS), conflict="ticket_id")
                    cursor.execute(sql, _arrays(facts, FACT_FIELDS))
                if new_activity:
                    sql = _unnest_sql(Activity, tuple(ACTIVITY_FIELDS))
                    cursor.execute(sql, _arrays(new_activity, ACTIVITY_FIELDS))
        counted = rollup.counts(tuple(row[i] for i in OLD_COUNT_READ) for row in old_facts.values())
        counted_now = rollup.counts(tuple(row[i] for i in COUNT_READ) for row in facts)
        rollup.add_counts(rollup.count_difference(counted_now, counted))
        if zone is not None and moved:
            before = rollup.contributions(
                [row[:read] for pk, row in old_facts.items() if pk in moved],
                [row for pk in moved for row in old_activity.get(pk, ())],
                zone,
            )
            after = rollup.contributions(
                [tuple(row[i] for i in ROLLUP_READ) for row in facts if row[0] in moved],
                [row for pk in moved for row in activity.get(pk, ())],
                zone,
            )
            change = rollup.difference(after, before)
            if change:
                rollup.apply(change)


def _moved(new: list[tuple[Any, ...]], old: list[tuple[Any, ...]]) -> bool:
    """Whether a ticket's activity rows differ from those it has (in any order)."""
    return Counter(new) != Counter(old)


@cache
def _unnest_sql(model: type[Any], fields: tuple[Any, ...], conflict: str | None = None) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    # JSON travels as text (json.dumps), cast back here: psycopg's dumping of JSON arrays is slow.
    arrays = ", ".join(f"%s::{'text' if isinstance(field, JSONField) else _db_type(field)}[]" for field in fields)
    names = ", ".join(f"c{i}::jsonb" if isinstance(field, JSONField) else f"c{i}" for i, field in enumerate(fields))
    aliases = ", ".join(f"c{i}" for i in range(len(fields)))
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) SELECT {names} FROM unnest({arrays}) AS u({aliases})"
    if conflict:
        updates = ", ".join(
            f"{quote(field.column)} = EXCLUDED.{quote(field.column)}" for field in fields if field.column != conflict
        )
        sql += f" ON CONFLICT ({quote(conflict)}) DO UPDATE SET {updates}"
    return sql


def _db_type(field: Any) -> str:
    return str(field.rel_db_type(connection) if field.is_relation else field.db_type(connection))


def _arrays(rows: list[tuple[Any, ...]], fields: list[Any]) -> list[list[Any]]:
    if not rows:
        return [[] for _ in fields]
    columns = [list(column) for column in zip(*rows, strict=True)]
    for index, field in enumerate(fields):
        if isinstance(field, JSONField):
            columns[index] = [None if value is None else json.dumps(value) for value in columns[index]]
    return columns


def _cover(tickets: list[tuple[Any, ...]], slas: dict[int, _Sla], timelines: dict[int, Timeline]) -> None:
    """Have each timeline span the batch's instants at once: a Timeline asked outside its span walks
    the calendar again (about a millisecond), which per ticket would cost more than the rest."""
    spans: dict[int | None, list[datetime]] = defaultdict(list)
    for row in tickets:
        sla = slas.get(row[0])
        calendar = sla.calendar_id if sla is not None and sla.calendar_id in timelines else None
        spans[calendar] += [instant for instant in (row[2], row[12], row[13]) if instant is not None]
    for calendar, instants in spans.items():
        timeline = timelines[calendar] if calendar is not None else calendars.always
        timeline.between(min(instants), max(instants))


def _sla_outcomes(sla: _Sla, state: str, first_response_at: datetime | None) -> tuple[int | None, str, str, str]:
    """(sla_policy_id, sla_first_response, sla_next_response, sla_resolution) of a ticket with an SLA."""
    first, following, resolution = sla.minutes
    first_breached, next_breached, resolution_breached = sla.breached
    closed = state in DONE
    return (
        sla.policy_id,
        _outcome(first_breached, first_response_at is not None or closed) if first is not None else "",
        _outcome(next_breached, closed) if following is not None else "",
        _outcome(resolution_breached, closed) if resolution is not None else "",
    )


def _outcome(breached: bool, decided: bool) -> str:
    if breached:
        return SlaOutcome.BREACHED.value
    return SlaOutcome.MET.value if decided else SlaOutcome.OPEN.value


# --- The listener ----------------------------------------------------------------------------------------

LISTENED = (
    events.TICKET_CREATED,
    events.TICKET_UPDATED,
    events.ENTRY_ADDED,
    events.TICKETS_MERGED,
    events.SLA_BREACHED,
)


def on_events(batch: list[events.Event]) -> None:
    """A batch of ticket events: refresh the facts of every ticket they name (and a merge's source,
    a split's origin), in one `refresh` call."""
    ids: set[int] = set()
    for event in batch:
        ids.add(event.ticket_id)
        for key in ("source", "split_from"):
            other = event.data.get(key)
            if isinstance(other, int):
                ids.add(other)
    refresh(ids)


@events.batched(on_events)
def on_event(event: events.Event) -> None:
    on_events([event])


@receiver(post_save, sender=Customer)
def _customer_saved(sender: Any, instance: Customer, created: bool, **kwargs: Any) -> None:
    """A customer moved into another organization (or out of one) is no ticket event: the facts of
    its tickets that name another organization (and so the roll-up's organization rows) are
    refreshed once the change commits. One indexed statement per save of a customer's file."""
    update_fields = kwargs.get("update_fields")
    if created or (update_fields is not None and "organization" not in update_fields):
        return
    organization = instance.organization_id
    same = Q(organization_id__isnull=True) if organization is None else Q(organization_id=organization)
    moved = list(TicketFact.objects.filter(customer_id=instance.pk).exclude(same).values_list("pk", flat=True))
    if moved:
        transaction.on_commit(lambda: _refresh_all(moved))


def _refresh_all(ticket_ids: list[int]) -> None:
    for start in range(0, len(ticket_ids), REBUILD_BATCH):
        refresh(ticket_ids[start : start + REBUILD_BATCH])


# --- Rebuilding from existing tickets ---------------------------------------------------------------------


@dataclass
class Progress:
    tickets: int = 0
    last: int = 0  # the highest ticket id done: `rebuild(after=last)` resumes there


def rebuild(after: int = 0, batch: int = REBUILD_BATCH, limit: int | None = None) -> Iterator[Progress]:
    """Refresh the facts of every ticket with an id above `after`, `batch` at a time, in id order;
    yield the progress after each batch (a stopped rebuild resumes with `after=progress.last`)."""
    progress = Progress(last=after)
    while limit is None or progress.tickets < limit:
        ids = list(Ticket.objects.filter(pk__gt=progress.last).order_by("pk").values_list("pk", flat=True)[:batch])
        if not ids:
            return
        progress.tickets += refresh(ids)
        progress.last = ids[-1]
        yield progress


def rebuild_all() -> int:
    """Facts for every ticket, the backlog from history and the daily roll-up (the demo's load ends with this)."""
    done = 0
    for progress in rebuild():
        done = progress.tickets
    rebuild_backlog()
    from sportello.reports import rollup_sql  # it imports rollup, which this module's listeners feed

    rollup_sql.rebuild_here()
    return done


# --- The daily backlog ---------------------------------------------------------------------------------

BACKLOG_DIMENSIONS = ("state", "group_id", "channel", "priority", "category_id")


def site_zone() -> Any:
    return timezone.get_default_timezone()


def snapshot_backlog(now: datetime | None = None) -> int:
    """Today's row set (site time zone) from the facts as they are now: the scheduled job. The last
    snapshot taken before midnight stays as that day's backlog. Returns the rows written."""
    now = now or timezone.now()
    today = timezone.localtime(now, site_zone()).date()
    rows = (
        TicketFact.objects.filter(state__in=OPEN_STATES, merged=False)
        .values(*BACKLOG_DIMENSIONS)
        .annotate(n=Count("pk"))
        .order_by()
    )
    written = [BacklogDay(day=today, count=row.pop("n"), **row) for row in rows]
    with transaction.atomic():
        BacklogDay.objects.filter(day=today).delete()
        BacklogDay.objects.bulk_create(written)
    from sportello.reports import backlog  # it reads this module's OPEN_STATES

    backlog.snapshot_slices(today)
    return len(written)


def rebuild_backlog(first: date | None = None, last: date | None = None, now: datetime | None = None) -> int:
    """The backlog of every day from `first` (default: the day of the first ticket) to `last`
    (default: today) from history: each ticket's status categories over time (its status changes),
    with its current group, channel, priority and category. Returns the rows written."""
    from sportello.reports import backlog  # it reads this module's OPEN_STATES

    now = now or timezone.now()
    zone = site_zone()
    last = last or timezone.localtime(now, zone).date()
    if first is None:
        earliest = TicketFact.objects.order_by("created_at").values_list("created_at", flat=True).first()
        if earliest is None:
            BacklogDay.objects.filter(day__lte=last).delete()
            backlog.rebuild_slices(last, last)  # none, and the mark that they are kept
            return 0
        first = timezone.localtime(earliest, zone).date()
    days = (last - first).days + 1
    categories = _categories()
    # (state, group, channel, priority, category) -> difference array over the days.
    changes: dict[tuple[Any, ...], list[int]] = {}

    def add(key: tuple[Any, ...], start: datetime, end: datetime | None) -> None:
        begin = _day_index(start, zone, first)
        stop = days if end is None else _day_index(end, zone, first)
        begin, stop = max(begin, 0), min(stop, days)
        if begin >= stop:
            return
        counts = changes.setdefault(key, [0] * (days + 1))
        counts[begin] += 1
        counts[stop] -= 1

    facts = TicketFact.objects.filter(merged=False).order_by("pk")
    columns = ("pk", "created_at", "state", *BACKLOG_DIMENSIONS[1:])
    last_pk = 0
    while True:
        chunk = list(facts.filter(pk__gt=last_pk).values_list(*columns)[: REBUILD_BATCH * 5])
        if not chunk:
            break
        last_pk = chunk[-1][0]
        history: dict[int, list[tuple[datetime, str, str]]] = defaultdict(list)
        for ticket_id, old, new, at in (
            Change.objects.filter(ticket_id__in=[row[0] for row in chunk], field="status")
            .order_by("created_at", "id")
            .values_list("ticket_id", "old_value", "new_value", "created_at")
        ):
            history[ticket_id].append((at, categories.get(old, ""), categories.get(new, "")))
        for pk, created_at, state, *rest in chunk:
            steps = history.get(pk, [])
            current = steps[0][1] if steps else state
            since = created_at
            for at, _old, new in steps:
                if current in OPEN_STATES:
                    add((current, *rest), since, at)
                current, since = new, at
            if current in OPEN_STATES:
                add((current, *rest), since, None)
    written = []
    for key, counts in changes.items():
        running = 0
        for index in range(days):
            running += counts[index]
            if running:
                row = dict(zip(BACKLOG_DIMENSIONS, key, strict=True))
                written.append(BacklogDay(day=first + timedelta(days=index), count=running, **row))
    with transaction.atomic():
        BacklogDay.objects.filter(day__gte=first, day__lte=last).delete()
        BacklogDay.objects.bulk_create(written, batch_size=5000)
    backlog.rebuild_slices(first, last)  # the same days under one agent, organization, tag or option
    return len(written)


def _day_index(instant: datetime, zone: Any, first: date) -> int:
    """The index (from `first`) of the first day at whose end a ticket that opened at `instant` is
    open (or one that closed then is no longer): the local day of `instant` itself."""
    return (timezone.localtime(instant, zone).date() - first).days
