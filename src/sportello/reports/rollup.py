"""Daily roll-ups of the report facts: what a month of a metric report adds up at a million tickets.

A month of facts is ~90,000 rows at a million tickets a year; the same month of `ReportDaily` is a
few hundred rows per day and grain, whatever the intake. Each row holds counts (created, solved,
reopened, one-touch, SLA outcomes; replies, notes, chats and minutes logged per agent who acted) of
one day of the site's time zone, keyed by the dimensions of its grain (`GRAINS`).

How it is kept (the same numbers as the facts, always):
1. Every write of facts (`facts._write`, the outbox listener and the rebuild alike) takes one lock
   (`lock`, a PostgreSQL advisory lock of the transaction), reads what the tickets it rewrites
   contributed until now (`snapshot`), writes the facts, and adds the difference between the new and
   the old contributions to the roll-up rows they touch (`apply`), in the same transaction. The lock
   makes "read the old facts, write the new" atomic across workers.
2. `rebuild` recomputes every row from the facts (`sportello reports rebuild`, and `--rollup-only`)
   and records the site's time zone in `RollupState`; until then, and after the site's time zone
   changes, reports read the facts.

How it is read (`ticket_rows`, `actor_rows`): a report asks for the rows of the grain made of the
dimensions its filters fix plus the one it breaks figures down by; when no grain has them (a tag, an
organization or a custom field filter; two filters besides the group; a reader in another time zone
than the site's) it gets None and reads the facts instead.

Medians and 90th percentiles of response times come from per-day histograms kept the same way
(`ResponseHistogram`, `histogram_rows`, `histogram_percentile`): one bucket per second below 64 s,
then buckets 4% wide (`EDGES`), each read as the geometric middle of the whole seconds it holds, so
every value, and so every percentile interpolated between two of them, is within 2% of the exact
one. The facts, which give them exactly, answer when no histogram grain fits.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace
from datetime import date, datetime
from operator import itemgetter
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone

from sportello.core.rows import bound_cursor
from sportello.reports.frame import Filters
from sportello.reports.models import (
    ActivityKind,
    ReportDaily,
    ResponseHistogram,
    RollupState,
    SlaOutcome,
    TicketCount,
    TicketFact,
)
from sportello.reports.services import Period

# Dimension -> column of ReportDaily, in the order of a key.
DIMENSIONS = {
    "group": "group_id",
    "assignee": "assignee_id",
    "actor": "actor_id",
    "channel": "channel",
    "priority": "priority",
    "category": "category_id",
    "sla_policy": "sla_policy_id",
    "tag": "tag_id",
    "organization": "organization_id",
    "field": "field_value",
}
DIMS = tuple(DIMENSIONS)
# The dimensions every ticket has one value of; the tag, organization and field grains pair theirs
# with one of these.
OTHERS = ("group", "assignee", "channel", "priority", "category", "sla_policy")
TICKET_GRAINS: tuple[tuple[str, ...], ...] = (
    (),
    ("group",),
    ("assignee",),
    ("channel",),
    ("priority",),
    ("category",),
    ("sla_policy",),
    ("group", "assignee"),
    ("group", "channel"),
    ("group", "priority"),
    ("group", "category"),
    ("group", "sla_policy"),
    # The agents report (per assignee) under a channel, priority or category filter.
    ("assignee", "channel"),
    ("assignee", "priority"),
    ("assignee", "category"),
)
# A ticket counts under each of its tags (none: not at all), alone or with one other dimension.
TAG_GRAINS: tuple[tuple[str, ...], ...] = (("tag",), *((other, "tag") for other in OTHERS))
# Under its customer's organization (none: not at all), alone, with one other dimension or a tag.
ORGANIZATION_GRAINS: tuple[tuple[str, ...], ...] = (("organization",), *((other, "organization") for other in OTHERS))
TAG_ORGANIZATION_GRAINS: tuple[tuple[str, ...], ...] = (("tag", "organization"),)
# Under each option of its choice, multiple-choice and checkbox fields ("key=value"), likewise.
FIELD_GRAINS: tuple[tuple[str, ...], ...] = (("field",), *((other, "field") for other in OTHERS))
TAG_FIELD_GRAINS: tuple[tuple[str, ...], ...] = (("tag", "field"),)
# Activity by the agent who acted: all of it ("actor"), or that on tickets (not merged) of a group,
# channel, priority, category, organization, tag or field option.
ACTOR_GRAINS: tuple[tuple[str, ...], ...] = (
    ("actor",),
    ("group", "actor"),
    ("actor", "channel"),
    ("actor", "priority"),
    ("actor", "category"),
    ("actor", "organization"),
    ("actor", "tag"),
    ("actor", "field"),
)
# The grains response times are kept for (the report filters by no SLA policy): those of the
# ticket grains, and a tag, an organization or a field option alone or with a group or an agent;
# each filter with each of the report's breakdowns (all tickets, per group, per agent). Counted as
# on the same grains of ReportDaily.
HISTOGRAM_TICKET_GRAINS = tuple(grain for grain in TICKET_GRAINS if "sla_policy" not in grain)
HISTOGRAM_TAG_GRAINS: tuple[tuple[str, ...], ...] = (("tag",), ("group", "tag"), ("assignee", "tag"))
HISTOGRAM_ORGANIZATION_GRAINS: tuple[tuple[str, ...], ...] = (
    ("organization",),
    ("group", "organization"),
    ("assignee", "organization"),
)
HISTOGRAM_FIELD_GRAINS: tuple[tuple[str, ...], ...] = (("field",), ("group", "field"), ("assignee", "field"))
HISTOGRAM_GRAINS = (
    HISTOGRAM_TICKET_GRAINS + HISTOGRAM_TAG_GRAINS + HISTOGRAM_ORGANIZATION_GRAINS + HISTOGRAM_FIELD_GRAINS
)
# ResponseHistogram.measure -> the TicketFact duration it counts.
HISTOGRAM_MEASURES = (
    "first_response_business_seconds",
    "first_response_seconds",
    "resolution_business_seconds",
    "resolution_seconds",
)
HISTOGRAM_DIMS = ("group", "assignee", "channel", "priority", "category", "tag", "organization", "field")
TICKET_MEASURES = (
    "created",
    "solved",
    "reopened",
    "one_touch",
    "solved_replies",
    "first_response_met",
    "first_response_breached",
    "next_response_met",
    "next_response_breached",
    "resolution_met",
    "resolution_breached",
)
ACTOR_MEASURES = ("replies", "notes", "chats", "handle_minutes")
MEASURES = TICKET_MEASURES + ACTOR_MEASURES
INDEX = {name: i for i, name in enumerate(MEASURES)}
SLA_COLUMNS = (
    ("sla_first_response", "first_response"),
    ("sla_next_response", "next_response"),
    ("sla_resolution", "resolution"),
)
ACTOR_KINDS = {ActivityKind.REPLY.value: "replies", ActivityKind.NOTE.value: "notes", ActivityKind.CHAT.value: "chats"}
# The ticket custom fields whose options the field grains count a ticket under.
FIELD_TYPES = ("choice", "multichoice", "checkbox")
FIELD_VALUE_LENGTH = 200  # ReportDaily.field_value


def field_types() -> dict[str, str]:
    """Key -> type of the ticket custom fields of FIELD_TYPES, active or not (one statement)."""
    from sportello.fields.models import CustomField, FieldTarget

    rows = CustomField.objects.filter(target=FieldTarget.TICKET, type__in=FIELD_TYPES).values_list("key", "type")
    return dict(rows)


def field_values(values: dict[str, Any], types: dict[str, str]) -> list[str]:
    """A ticket's options of those fields as the facts keep them: "key=value" for a choice and for
    each choice of a multiple choice, "key=yes" for a ticked checkbox; sorted, without repeats.
    (Migration 0010 computes the same in SQL.)"""
    found: set[str] = set()
    for key, value in values.items():
        kind = types.get(key)
        if kind == "choice" and isinstance(value, str):
            found.add(f"{key}={value}")
        elif kind == "multichoice" and isinstance(value, list):
            found.update(f"{key}={item}" for item in value if isinstance(item, str))
        elif kind == "checkbox" and value is True:
            found.add(f"{key}=yes")
    return sorted(option for option in found if len(option) <= FIELD_VALUE_LENGTH)


def grain_name(dims: Iterable[str]) -> str:
    wanted = set(dims)
    return "+".join(dim for dim in DIMS if dim in wanted)


GRAINS = frozenset(
    grain_name(grain)
    for grain in TICKET_GRAINS
    + TAG_GRAINS
    + ORGANIZATION_GRAINS
    + TAG_ORGANIZATION_GRAINS
    + FIELD_GRAINS
    + TAG_FIELD_GRAINS
    + ACTOR_GRAINS
)
HISTOGRAMS = frozenset(grain_name(grain) for grain in HISTOGRAM_GRAINS)
# (name, positions in DIMS) of each grain, for building keys fast.


# A contribution's dimension values: a list of len(DIMS) + 1, the last always None, so that one
# itemgetter per grain picks the grain's values and None for the others (a key costs one call).
NONE = len(DIMS)
KeyPart = Callable[[list[Any]], tuple[Any, ...]]


def _keys(grains: Iterable[tuple[str, ...]]) -> list[tuple[str, KeyPart]]:
    found: list[tuple[str, KeyPart]] = []
    for grain in grains:
        positions = {DIMS.index(dim) for dim in grain}
        found.append((grain_name(grain), itemgetter(*(i if i in positions else NONE for i in range(len(DIMS))))))
    return found


_TICKET_KEYS = _keys(TICKET_GRAINS)
_TAG_KEYS = _keys(TAG_GRAINS)
_ORGANIZATION_KEYS = _keys(ORGANIZATION_GRAINS)
_TAG_ORGANIZATION_KEYS = _keys(TAG_ORGANIZATION_GRAINS)
_FIELD_KEYS = _keys(FIELD_GRAINS)
_TAG_FIELD_KEYS = _keys(TAG_FIELD_GRAINS)
ACTOR, TAG, ORGANIZATION, FIELD = (DIMS.index(dim) for dim in ("actor", "tag", "organization", "field"))
_ACTOR_KEYS = _keys(ACTOR_GRAINS[:1])  # all activity, merged tickets' too
_ACTOR_TICKET_KEYS = _keys(grain for grain in ACTOR_GRAINS[1:] if grain[-1] not in ("organization", "tag", "field"))
_ACTOR_ORGANIZATION_KEYS = _keys([("actor", "organization")])
_ACTOR_TAG_KEYS = _keys([("actor", "tag")])
_ACTOR_FIELD_KEYS = _keys([("actor", "field")])
_HISTOGRAM_KEYS = _keys(HISTOGRAM_TICKET_GRAINS)
_HISTOGRAM_TAG_KEYS = _keys(HISTOGRAM_TAG_GRAINS)
_HISTOGRAM_ORGANIZATION_KEYS = _keys(HISTOGRAM_ORGANIZATION_GRAINS)
_HISTOGRAM_FIELD_KEYS = _keys(HISTOGRAM_FIELD_GRAINS)

# A key: (day, grain, *the DIMS' values, None outside the grain); a histogram's key adds
# (measure, bucket) and its value is [tickets].
Key = tuple[Any, ...]
HISTOGRAM_KEY = 2 + len(DIMS) + 2
Totals = dict[Key, list[int]]

# What a fact's contribution depends on, in this order (TicketFact columns).
FACT_READ = (
    "ticket_id",
    "created_at",
    "solved_at",
    "merged",
    "group_id",
    "assignee_id",
    "channel",
    "priority",
    "category_id",
    "sla_policy_id",
    "one_touch",
    "replies",
    "sla_first_response",
    "sla_next_response",
    "sla_resolution",
    *HISTOGRAM_MEASURES,
    "tags",
    "organization_id",
    "field_values",
)
ACTIVITY_READ = ("fact_id", "kind", "agent_id", "at", "time_spent")

_enabled: ContextVar[bool] = ContextVar("reports_rollup_enabled", default=True)
LOCK = 0x5E0_7E11  # the advisory lock every write of facts takes (PostgreSQL)


# --- Histogram buckets -------------------------------------------------------------------------------------

EXACT = 64  # seconds below this have a bucket each
WIDTH = 104  # then each bucket's first second is 104% of the previous one's, rounded up
LONGEST = 10 * 366 * 86400  # ten years: longer durations count in the last bucket


def _edges() -> list[int]:
    edges = list(range(EXACT))
    edge = EXACT
    while edge <= LONGEST:
        edges.append(edge)
        edge = -(-edge * WIDTH // 100)
    return edges


EDGES = _edges()  # the first second of each bucket
PRECISION_PERCENT = 2  # the largest relative error of a value read from a bucket: sqrt(1.04) - 1 < 2%


def bucket_of(seconds: int) -> int:
    """The bucket of a duration (a negative one, a clock set wrong, counts as 0 s)."""
    return bisect_right(EDGES, max(seconds, 0)) - 1


def bucket_value(bucket: int) -> float:
    """What a bucket's tickets are read as: the geometric middle of its first and last second."""
    first = EDGES[bucket]
    last = EDGES[bucket + 1] - 1 if bucket + 1 < len(EDGES) else first
    return float(first) if last == first else math.sqrt(first * last)


def histogram_percentile(counts: list[tuple[int, int]], fraction: float) -> float | None:
    """`percentile_cont` over the tickets of these (bucket, tickets) pairs, each read as its bucket's
    value: the value at rank fraction*(n-1), interpolated between the two nearest."""
    ordered = sorted((bucket, n) for bucket, n in counts if n)
    total = sum(n for _bucket, n in ordered)
    if not total:
        return None
    rank = fraction * (total - 1)
    low = math.floor(rank)
    high = min(low + 1, total - 1)
    values: dict[int, float] = {}
    seen = 0
    for bucket, n in ordered:
        for position in (low, high):
            if position not in values and seen <= position < seen + n:
                values[position] = bucket_value(bucket)
        seen += n
        if high in values:
            break
    return values[low] + (values[high] - values[low]) * (rank - low)


# --- Contributions ------------------------------------------------------------------------------------------


def _add(totals: Totals, day: date, values: list[Any], keys: list[tuple[str, KeyPart]], add: dict[int, int]) -> None:
    for name, part in keys:
        key = (day, name, *part(values))
        found = totals.get(key)
        if found is None:
            found = totals[key] = [0] * len(MEASURES)
        for index, n in add.items():
            found[index] += n


def _count(totals: Totals, day: date, values: list[Any], keys: list[tuple[str, KeyPart]], tail: Key) -> None:
    for name, part in keys:
        key = (day, name, *part(values), *tail)
        found = totals.get(key)
        if found is None:
            totals[key] = [1]
        else:
            found[0] += 1


def _histogram(
    totals: Totals,
    day: date,
    values: list[Any],
    tags: Iterable[int],
    fields: Iterable[str],
    measure: int,
    bucket: int,
) -> None:
    """A ticket's duration in its bucket on the histogram grains: once per tag and option it has on
    the tag and field grains, on the organization grains when its customer has one."""
    tail = (measure, bucket)
    _count(totals, day, values, _HISTOGRAM_KEYS, tail)
    if values[ORGANIZATION] is not None:
        _count(totals, day, values, _HISTOGRAM_ORGANIZATION_KEYS, tail)
    narrowed = list(values)
    for tag in tags:
        narrowed[TAG] = tag
        _count(totals, day, narrowed, _HISTOGRAM_TAG_KEYS, tail)
    narrowed[TAG] = None
    for field in fields:
        narrowed[FIELD] = field
        _count(totals, day, narrowed, _HISTOGRAM_FIELD_KEYS, tail)


def _add_ticket(
    totals: Totals, day: date, values: list[Any], tags: Iterable[int], fields: Iterable[str], add: dict[int, int]
) -> None:
    """A ticket's counts on the ticket grains; on the tag grains once per tag it has, on the field
    grains once per option, and on the organization grains when its customer has one."""
    _add(totals, day, values, _TICKET_KEYS, add)
    organization = values[ORGANIZATION] is not None
    if organization:
        _add(totals, day, values, _ORGANIZATION_KEYS, add)
    for field in fields:
        narrowed = list(values)
        narrowed[FIELD] = field
        _add(totals, day, narrowed, _FIELD_KEYS, add)
    for tag in tags:
        tagged = list(values)
        tagged[TAG] = tag
        _add(totals, day, tagged, _TAG_KEYS, add)
        if organization:
            _add(totals, day, tagged, _TAG_ORGANIZATION_KEYS, add)
        for field in fields:
            tagged[FIELD] = field
            _add(totals, day, tagged, _TAG_FIELD_KEYS, add)


def _add_actor(
    totals: Totals, day: date, values: list[Any], tags: Iterable[int], fields: Iterable[str], add: dict[int, int]
) -> None:
    """Activity on a ticket (not merged) with these `values` (the actor's set) on the narrowed actor grains."""
    _add(totals, day, values, _ACTOR_TICKET_KEYS, add)
    if values[ORGANIZATION] is not None:
        _add(totals, day, values, _ACTOR_ORGANIZATION_KEYS, add)
    narrowed = list(values)
    for tag in tags:
        narrowed[TAG] = tag
        _add(totals, day, narrowed, _ACTOR_TAG_KEYS, add)
    narrowed[TAG] = None
    for field in fields:
        narrowed[FIELD] = field
        _add(totals, day, narrowed, _ACTOR_FIELD_KEYS, add)


# Where the parts of a FACT_READ row are.
_DURATIONS = slice(15, 15 + len(HISTOGRAM_MEASURES))
_TAGS, _ORGANIZATION, _FIELDS = (FACT_READ.index(name) for name in ("tags", "organization_id", "field_values"))


def contributions(
    facts: Iterable[tuple[Any, ...]], activity: Iterable[tuple[Any, ...]], zone: Any, totals: Totals | None = None
) -> Totals:
    """What these facts (FACT_READ rows) and their activity (ACTIVITY_READ rows) add to the roll-up."""
    totals = {} if totals is None else totals
    tickets: dict[int, tuple[bool, list[Any], list[int], list[str]]] = {}

    def day(instant: datetime) -> date:
        return timezone.localtime(instant, zone).date()

    for row in facts:
        (pk, created_at, solved_at, merged, group, assignee, channel, priority, category, policy,
         one_touch, replies, *outcomes) = row[:15]  # fmt: skip
        values = [group, assignee, None, channel, priority, category, policy, None, row[_ORGANIZATION], None, None]
        tags = row[_TAGS] or []
        fields = row[_FIELDS] or []
        tickets[pk] = (merged, values, tags, fields)
        if merged:
            continue
        for duration, seconds in enumerate(row[_DURATIONS]):
            if seconds is not None:
                # First responses count on the day the ticket was created, resolutions on its last solve.
                when = created_at if duration < 2 else solved_at
                _histogram(totals, day(when), values, tags, fields, duration, bucket_of(seconds))
        created = {INDEX["created"]: 1}
        for outcome, (_column, target) in zip(outcomes, SLA_COLUMNS, strict=True):
            if outcome == SlaOutcome.MET:
                created[INDEX[f"{target}_met"]] = 1
            elif outcome == SlaOutcome.BREACHED:
                created[INDEX[f"{target}_breached"]] = 1
        _add_ticket(totals, day(created_at), values, tags, fields, created)
        if solved_at is not None:
            solved = {INDEX["solved"]: 1, INDEX["one_touch"]: int(one_touch), INDEX["solved_replies"]: replies}
            _add_ticket(totals, day(solved_at), values, tags, fields, solved)
    for fact_id, kind, agent, at, minutes in activity:
        merged, values, tags, fields = tickets[fact_id]
        if kind == ActivityKind.REOPEN:
            if not merged:
                _add_ticket(totals, day(at), values, tags, fields, {INDEX["reopened"]: 1})
            continue
        measure = ACTOR_KINDS.get(kind)
        if measure is None:
            continue
        acted = {INDEX[measure]: 1, INDEX["handle_minutes"]: minutes or 0}
        by_actor: list[Any] = [None] * (len(DIMS) + 1)
        by_actor[ACTOR] = agent
        # As `metrics.activity_rows`: all activity counts for the agent who acted; once narrowed by
        # the tickets' group, channel, priority, category, organization, tag or field option, only
        # the activity on tickets that were not merged.
        _add(totals, day(at), by_actor, _ACTOR_KEYS, acted)
        if not merged:
            by_actor = list(values)
            by_actor[ACTOR] = agent
            _add_actor(totals, day(at), by_actor, tags, fields, acted)
    return totals


def difference(new: Totals, old: Totals) -> Totals:
    found: Totals = {}
    for key in new.keys() | old.keys():
        after, before = new.get(key), old.get(key)
        if after is None:
            change = [-n for n in before or ()]
        elif before is None:
            change = list(after)
        else:
            change = [a - b for a, b in zip(after, before, strict=True)]
        if any(change):
            found[key] = change
    return found


# --- Keeping it --------------------------------------------------------------------------------------------


def lock() -> None:
    """Serialise writes of facts (call inside a transaction): see the module's docstring."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK])


def kept_zone() -> Any | None:
    """The site's time zone when the roll-up was built in it (and so must be kept), else None."""
    name = timezone.get_default_timezone_name()
    return timezone.get_default_timezone() if RollupState.objects.filter(time_zone=name).exists() else None


def snapshot(ticket_ids: list[int], zone: Any) -> Totals:
    """What the facts of these tickets contribute now (read under the lock, before they are rewritten)."""
    from sportello.reports.models import Activity

    facts = list(TicketFact.objects.filter(pk__in=ticket_ids).values_list(*FACT_READ))
    activity = Activity.objects.filter(fact_id__in=[row[0] for row in facts]).values_list(*ACTIVITY_READ)
    return contributions(facts, activity, zone)


def apply(change: Totals) -> int:
    """Add `change` to the roll-up rows (a row that comes to all zeros is deleted) and to the
    histograms; returns roll-up rows written."""
    histograms = {key: value for key, value in change.items() if len(key) == HISTOGRAM_KEY}
    add_histograms(histograms)
    change = {key: value for key, value in change.items() if len(key) != HISTOGRAM_KEY}
    if not change:
        return 0
    if connection.vendor == "postgresql":
        return _upsert(change)
    # SQLite: its unique indexes hold nulls distinct, so no upsert on the key; read, delete, rewrite.
    columns = ("pk", "day", "grain", *DIMENSIONS.values(), *MEASURES)
    width = 2 + len(DIMS)
    existing: dict[Key, tuple[int, list[int]]] = {}
    for row in ReportDaily.objects.filter(_touched(change)).values_list(*columns):
        existing[tuple(row[1 : 1 + width])] = (row[0], list(row[1 + width :]))
    gone: list[int] = []
    written: list[ReportDaily] = []
    for key, delta in change.items():
        pk, values = existing.get(key, (None, [0] * len(MEASURES)))
        values = [a + b for a, b in zip(values, delta, strict=True)]
        if pk is not None:
            gone.append(pk)
        if any(values):
            written.append(_row(key, values))
    ReportDaily.objects.filter(pk__in=gone).delete()
    ReportDaily.objects.bulk_create(written, batch_size=2000)
    return len(written)


DAILY_COLUMNS = ("day", "grain", *DIMENSIONS.values(), *MEASURES)
# The PostgreSQL types of DAILY_COLUMNS, for unnest's arrays.
_DAILY_TYPES = ("date", "varchar", "bigint", "bigint", "bigint", "varchar", "smallint", "bigint", "bigint", "bigint",
                "bigint", "varchar", *["int"] * len(MEASURES))  # fmt: skip
_UPSERT_CHUNK = 20000


def _upsert_sql() -> str:
    quote = connection.ops.quote_name
    table = quote(ReportDaily._meta.db_table)
    columns = [quote(column) for column in DAILY_COLUMNS]
    arrays = ", ".join(f"%s::{kind}[]" for kind in _DAILY_TYPES)
    key = ", ".join(columns[: 2 + len(DIMS)])
    measures = columns[2 + len(DIMS) :]
    add = ", ".join(f"{m} = {table}.{m} + EXCLUDED.{m}" for m in measures)
    zero = " AND ".join(f"{table}.{m} = 0" for m in measures)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {add} RETURNING {table}.{quote('id')}, {zero}"
    )


def _upsert(change: Totals) -> int:
    """`apply` on PostgreSQL: the changes added to the rows in one upsert on their key (the
    `daily_key` constraint, nulls not distinct), which returns the rows that came to all zeros;
    only those are deleted. Reading, deleting and re-creating every touched row cost 3 times the Python."""
    rows = [(*key, *delta) for key, delta in change.items() if any(delta)]
    if not rows:
        return 0
    sql = _upsert_sql()
    empty: list[int] = []
    with bound_cursor() as cursor:  # a statement of a fixed shape: prepared once per connection
        for start in range(0, len(rows), _UPSERT_CHUNK):
            chunk = rows[start : start + _UPSERT_CHUNK]
            cursor.execute(sql, [list(column) for column in zip(*chunk, strict=True)])
            empty.extend(pk for pk, zero in cursor.fetchall() if zero)
        if empty:
            table = connection.ops.quote_name(ReportDaily._meta.db_table)
            cursor.execute(f"DELETE FROM {table} WHERE id = ANY(%s::bigint[])", [empty])
    return len(rows) - len(empty)


def _touched(change: Totals) -> Q:
    """The roll-up rows that may hold these keys: per grain, its days and its dimensions' values
    (a superset, matched by key after). Reading every row of the grains on those days instead
    read most of the grains keyed by organization, option or agent for each batch."""
    per_grain: dict[str, list[set[Any]]] = {}
    for key in change:
        found = per_grain.get(key[1])
        if found is None:
            found = per_grain[key[1]] = [set() for _ in range(1 + len(DIMS))]
        for position, value in enumerate(key[:1] + key[2:]):
            found[position].add(value)
    touched = Q()
    for grain, values in per_grain.items():
        condition = Q(grain=grain, day__in=values[0])
        for dim in grain.split("+") if grain else ():
            column = DIMENSIONS[dim]
            wanted = values[1 + DIMS.index(dim)]
            known = [value for value in wanted if value is not None]
            match = Q(**{f"{column}__in": known}) if known else Q(pk__in=[])
            if None in wanted:
                match |= Q(**{f"{column}__isnull": True})
            condition &= match
        touched |= condition
    return touched


HISTOGRAM_COLUMNS = ("day", "grain", "group_id", "assignee_id", "channel", "priority", "category_id", "tag_id",
                     "organization_id", "field_value", "measure", "bucket", "tickets")  # fmt: skip
# Where a histogram key's dimensions are, and what "none" is in their columns.
_HISTOGRAM_POSITIONS = [2 + DIMS.index(dim) for dim in HISTOGRAM_DIMS]
_NONE = {"channel": "", "field": ""}


def _histogram_row(key: Key, tickets: int) -> tuple[Any, ...]:
    dims = [
        key[i] if key[i] is not None else _NONE.get(dim, 0)
        for i, dim in zip(_HISTOGRAM_POSITIONS, HISTOGRAM_DIMS, strict=True)
    ]
    return (key[0], key[1], *dims, key[-2], key[-1], tickets)


def add_histograms(change: Totals) -> int:
    """Add these (histogram key -> [tickets]) to `ResponseHistogram`: one upsert that adds to the
    rows there are, then the rows that came to 0 deleted. Returns the rows upserted."""
    rows = [_histogram_row(key, value[0]) for key, value in change.items() if value[0]]
    if not rows:
        return 0
    quote = connection.ops.quote_name
    table = quote(ResponseHistogram._meta.db_table)
    columns = ", ".join(quote(column) for column in HISTOGRAM_COLUMNS)
    conflict = ", ".join(quote(column) for column in HISTOGRAM_COLUMNS[:-1])
    tickets = quote("tickets")
    update = f"ON CONFLICT ({conflict}) DO UPDATE SET {tickets} = {table}.{tickets} + EXCLUDED.{tickets}"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            types = (
                "date",
                "varchar",
                "bigint",
                "bigint",
                "varchar",
                "smallint",
                "bigint",
                "bigint",
                "bigint",
                "varchar",
                "smallint",
                "smallint",
                "int",
            )
            arrays = ", ".join(f"%s::{kind}[]" for kind in types)
            for start in range(0, len(rows), 20000):
                chunk = rows[start : start + 20000]
                cursor.execute(
                    f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays}) {update}",
                    [list(column) for column in zip(*chunk, strict=True)],
                )
        else:
            marks = ", ".join(["%s"] * len(HISTOGRAM_COLUMNS))
            # "WHERE true" keeps SQLite from reading ON CONFLICT as a join condition.
            cursor.executemany(f"INSERT INTO {table} ({columns}) SELECT {marks} WHERE true {update}", rows)
    ResponseHistogram.objects.filter(tickets=0, day__in={row[0] for row in rows}).delete()
    return len(rows)


def _row(key: Key, values: list[int]) -> ReportDaily:
    dims = dict(zip(DIMENSIONS.values(), key[2:], strict=True))
    return ReportDaily(day=key[0], grain=key[1], **dims, **dict(zip(MEASURES, values, strict=True)))


# --- Ticket counts (the dashboard) ----------------------------------------------------------------------------

CountKey = tuple[str, int, int, str, int]  # (state, group or 0, assignee or 0, channel, priority)
COUNT_KEY = ("state", "group_id", "assignee_id", "channel", "priority")
COUNT_READ = (*COUNT_KEY, "merged")


def counts(facts: Iterable[tuple[Any, ...]]) -> dict[CountKey, int]:
    """The tickets these facts (COUNT_READ rows) count, per key."""
    found: dict[CountKey, int] = {}
    for state, group, assignee, channel, priority, merged in facts:
        if not merged:
            key = (state, group or 0, assignee or 0, channel or "", priority or 0)
            found[key] = found.get(key, 0) + 1
    return found


def count_snapshot(ticket_ids: list[int]) -> dict[CountKey, int]:
    """What the facts of these tickets count now (read under the lock, before they are rewritten)."""
    return counts(TicketFact.objects.filter(pk__in=ticket_ids).values_list(*COUNT_READ))


def add_counts(change: dict[CountKey, int]) -> None:
    """Add to `TicketCount` (one upsert), then delete the rows that came to 0."""
    rows = [(*key, n) for key, n in change.items() if n]
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(TicketCount._meta.db_table)
    tickets = quote("tickets")
    key = ", ".join(quote(column) for column in COUNT_KEY)
    marks = ", ".join(["%s"] * (len(COUNT_KEY) + 1))
    sql = (
        f"INSERT INTO {table} ({key}, {tickets}) SELECT {marks} WHERE true "
        f"ON CONFLICT ({key}) DO UPDATE SET {tickets} = {table}.{tickets} + EXCLUDED.{tickets}"
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
    TicketCount.objects.filter(tickets=0).delete()


def count_difference(new: dict[CountKey, int], old: dict[CountKey, int]) -> dict[CountKey, int]:
    return {key: new.get(key, 0) - old.get(key, 0) for key in new.keys() | old.keys()}


def recount() -> int:
    """Every `TicketCount` row from the facts (call under the lock); returns the rows written."""
    rows = (
        TicketFact.objects.filter(merged=False)
        .values(*COUNT_KEY)
        .annotate(n=Count("pk"))
        .values_list(*COUNT_KEY, "n")
        .order_by()
    )
    written = [
        TicketCount(state=s, group_id=g or 0, assignee_id=a or 0, channel=c or "", priority=p or 0, tickets=n)
        for s, g, a, c, p, n in rows
    ]
    TicketCount.objects.all().delete()
    TicketCount.objects.bulk_create(written)
    return len(written)


@receiver(post_delete, sender=TicketFact)
def _fact_deleted(sender: Any, instance: TicketFact, **kwargs: Any) -> None:
    """A ticket deleted takes its facts with it: its count goes too (the roll-up keeps it until a rebuild)."""
    add_counts({key: -n for key, n in counts([tuple(getattr(instance, f) for f in COUNT_READ)]).items()})


FLUSH = 300_000  # roll-up keys held in memory before the histograms among them are written


def rebuild(batch: int = 5000) -> int:
    """Every roll-up row from the facts, in one transaction under the lock; returns the rows written."""
    from sportello.reports.models import Activity

    zone = timezone.get_default_timezone()
    totals: Totals = {}
    with transaction.atomic():
        lock()
        ResponseHistogram.objects.all().delete()
        last = 0
        while True:
            chunk = list(TicketFact.objects.filter(pk__gt=last).order_by("pk").values_list(*FACT_READ)[:batch])
            if not chunk:
                break
            last = chunk[-1][0]
            activity = Activity.objects.filter(fact_id__in=[row[0] for row in chunk]).values_list(*ACTIVITY_READ)
            contributions(chunk, activity, zone, totals)
            if len(totals) > FLUSH:  # the histograms are added up in the table as they come
                add_histograms({key: totals.pop(key) for key in list(totals) if len(key) == HISTOGRAM_KEY})
        add_histograms({key: totals.pop(key) for key in list(totals) if len(key) == HISTOGRAM_KEY})
        recount()
        ReportDaily.objects.all().delete()
        rows = [_row(key, values) for key, values in totals.items() if any(values)]
        ReportDaily.objects.bulk_create(rows, batch_size=5000)
        RollupState.objects.all().delete()
        RollupState.objects.create(time_zone=timezone.get_default_timezone_name())
    return len(rows)


# --- Reading it --------------------------------------------------------------------------------------------


@contextmanager
def facts_only() -> Iterator[None]:
    """Reports read the facts in this block (tests compare both ways; a rollup-less fallback)."""
    token = _enabled.set(False)
    try:
        yield
    finally:
        _enabled.reset(token)


def usable() -> bool:
    """The roll-up answers for this reader: built in the site's time zone, which is the reader's."""
    if not _enabled.get():
        return False
    site = timezone.get_default_timezone_name()
    if timezone.get_current_timezone_name() != site:
        return False
    return RollupState.objects.filter(time_zone=site).exists()


# Report filter -> the dimension it fixes on ticket grains.
TICKET_FILTERS = (
    ("group", "group"),
    ("agent", "assignee"),
    ("channel", "channel"),
    ("priority", "priority"),
    ("category", "category"),
)


def _rows(dims: set[str], conditions: dict[str, Any], period: Period) -> QuerySet[ReportDaily] | None:
    grain = grain_name(dims)
    if grain not in GRAINS or not usable():
        return None
    return ReportDaily.objects.filter(grain=grain, day__gte=period.first, day__lte=period.last, **conditions)


def histogram_rows(
    filters: Filters, groups: list[int] | None, period: Period, by: str | None = None
) -> QuerySet[ResponseHistogram] | None:
    """The response-time histograms of `period` under these filters and the reader's `groups`,
    broken down by `by` ("group" or "assignee"); None when no histogram grain has them. A "none"
    (no group, nobody assigned) is 0 in the rows."""
    if not usable():
        return None
    found = _dimensions(filters, groups, by)
    if found is None:
        return None
    dims, conditions = found
    grain = grain_name(dims)
    if grain not in HISTOGRAMS:
        return None
    if "tag_id__in" in conditions:
        # The tag's id itself, so that the planner can take the partial index of the tag grains.
        conditions["tag_id__in"] = [row["pk"] for row in conditions["tag_id__in"]]
    return ResponseHistogram.objects.filter(grain=grain, day__gte=period.first, day__lte=period.last, **conditions)


def field_option(key: str, value: str) -> str | None:
    """The field grains' "key=value" of a custom field filter, or None when they do not count it (a
    text, number or date field; a checkbox's "no", which is also every ticket never ticked)."""
    from sportello.fields.models import FieldTarget
    from sportello.fields.services import by_key, clean_filters

    fields = by_key(FieldTarget.TICKET)
    defn = fields.get(key)
    if defn is None or defn.type not in FIELD_TYPES:
        return None
    cleaned = clean_filters(FieldTarget.TICKET, {key: value}, fields=fields).get(key)
    if defn.type == "checkbox":
        option = f"{key}=yes" if cleaned is True else None
    else:
        option = f"{key}={cleaned}" if isinstance(cleaned, str) else None
    return option if option is not None and len(option) <= FIELD_VALUE_LENGTH else None


def _dimensions(filters: Filters, groups: list[int] | None, by: str | None) -> tuple[set[str], dict[str, Any]] | None:
    """The dimensions a grain must hold for these filters, the reader's `groups` and the breakdown
    `by`, and the conditions on its rows; None when a filter has no dimension (two custom fields,
    or one the field grains do not count)."""
    dims = {by} if by else set()
    conditions: dict[str, Any] = {}
    for name, dim in TICKET_FILTERS:
        value = getattr(filters, name)
        if value is not None and value != "":
            dims.add(dim)
            conditions[DIMENSIONS[dim]] = value
    if groups is not None:
        dims.add("group")
        conditions["group_id__in"] = groups
    if filters.tag:
        # Tag names are unique: the tag grains' rows of the tag so named (none when there is none).
        from sportello.tickets.models import Tag

        dims.add("tag")
        conditions["tag_id__in"] = Tag.objects.filter(name=filters.tag).values("pk")
    if filters.organization is not None:
        dims.add("organization")
        conditions["organization_id"] = filters.organization
    if filters.custom:
        if len(filters.custom) > 1:
            return None
        option = field_option(*filters.custom[0])
        if option is None:
            return None
        dims.add("field")
        conditions["field_value"] = option
    return dims, conditions


def ticket_rows(
    filters: Filters, groups: list[int] | None, period: Period, by: str | None = None
) -> QuerySet[ReportDaily] | None:
    """The ticket-grain rows of `period` under these filters (and the reader's `groups`, None for
    all), broken down by the dimension `by`; None when no grain has them. By tag under a tag filter
    (the other tags of the tickets that have it) is None too: a ticket's tags are not paired up."""
    if by == "tag" and filters.tag:
        return None
    found = _dimensions(filters, groups, by)
    return None if found is None else _rows(*found, period)


def actor_rows(filters: Filters, groups: list[int] | None, period: Period) -> QuerySet[ReportDaily] | None:
    """The activity per agent who acted in `period` (the agent filter: who acted), or None."""
    found = _dimensions(replace(filters, agent=None), groups, "actor")
    if found is None:
        return None
    dims, conditions = found
    if filters.agent is not None:
        conditions["actor_id"] = filters.agent
    return _rows(dims, conditions, period)
