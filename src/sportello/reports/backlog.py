"""The backlog under filters the daily backlog does not keep: the agent, a tag, an organization, custom fields.

`BacklogDay` holds open tickets per day, status category, group, channel, priority and category;
it cannot say which of them an agent holds or which carry a tag. For those filters the backlog is
counted from each matching ticket's open intervals, as its status history says — the same
definition `facts.rebuild_backlog` writes BacklogDay from: a ticket is open at the end of a day of
the site's time zone when it was in a new, open, pending or on-hold status then; it is in the
category of the first change's old status from its creation (its current one without history);
merged tickets are left out; the group is the ticket's current one. So

    open(day, state, group) = intervals of that state begun by the end of day - those ended by then,

two grouped counts of the status changes by day (one statement, `OPEN_SQL`), and a running sum.

Only tickets that can be open in the days asked are read: created before their end, and not done
(solved or closed) since before their start. `solved_at` is set at every change into a done status,
so a ticket done since then has no open interval left in those days; its intervals would add up to
zero there anyway (each begun and ended before the first day).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from sportello.reports.facts import OPEN_STATES
from sportello.reports.frame import Filters
from sportello.reports.models import TicketFact
from sportello.tickets.models import Change, Status

# (status category, group id) -> open tickets.
Counts = dict[tuple[str, int | None], int]

# Each status change of the chosen tickets (`f`): the interval of its new status begins (+1), the
# one of the status before it ends (-1; the status before is the previous change's new one, the
# first change's old one: as rebuild_backlog reads the history); each ticket's first interval
# begins at its creation, in the first change's old status, even when that change comes after the
# days asked (so `c` reads every change). Events after the last day are left out, those before the
# first day summed in one row (day NULL).
OPEN_CTE = """
WITH f (ticket_id, created_at, state, group_id) AS ({facts}),
c AS (
    SELECT ch.ticket_id, ch.created_at AS moment, f.group_id, ch.old_value, ch.new_value,
           COALESCE(LAG(ch.new_value) OVER w, ch.old_value) AS before,
           ROW_NUMBER() OVER w AS step
    FROM {change} ch JOIN f ON f.ticket_id = ch.ticket_id
    WHERE ch.field = 'status'
    WINDOW w AS (PARTITION BY ch.ticket_id ORDER BY ch.created_at, ch.id)
),
e (ticket_id, moment, state, group_id, delta) AS (
    SELECT c.ticket_id, c.moment, s.category, c.group_id, 1 FROM c JOIN {status} s ON s.name = c.new_value
    UNION ALL
    SELECT c.ticket_id, c.moment, s.category, c.group_id, -1 FROM c JOIN {status} s ON s.name = c.before
    UNION ALL
    SELECT f.ticket_id, f.created_at, CASE WHEN c.ticket_id IS NULL THEN f.state ELSE s.category END, f.group_id, 1
    FROM f LEFT JOIN c ON c.ticket_id = f.ticket_id AND c.step = 1 LEFT JOIN {status} s ON s.name = c.old_value
)
"""
OPEN_SQL = (
    OPEN_CTE
    + """
SELECT CASE WHEN e.moment < %s THEN NULL ELSE {day} END AS day, e.state, e.group_id, SUM(e.delta)
FROM e
WHERE e.moment < %s AND e.state IN ({states})
GROUP BY 1, 2, 3
"""
)


def needs_intervals(filters: Filters) -> bool:
    """Whether the backlog under these filters must be counted from the tickets' status history."""
    return filters.agent is not None or bool(filters.tag) or filters.organization is not None or bool(filters.custom)


def _site_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_default_timezone())


def open_per_day(rows: QuerySet[TicketFact], first: date, last: date) -> dict[date, Counts]:
    """For each day from `first` to `last` (site time zone), the tickets of `rows` (facts, already
    filtered: merged ones and those the reader may not see left out) open at its end, per status
    category and group (only the non-zero counts)."""
    start, end = _site_midnight(first), _site_midnight(last + timedelta(days=1))
    chosen = (
        rows.filter(created_at__lt=end)
        .filter(Q(solved_at__isnull=True) | Q(solved_at__gte=start))
        .order_by()
        .values_list("pk", "created_at", "state", "group_id")
    )
    try:
        facts_sql, facts_params = chosen.query.sql_with_params()
    except EmptyResultSet:  # a filter nothing can match (a reader who sees no ticket)
        return {day: {} for day in _days(first, last)}
    quote = connection.ops.quote_name
    day_sql, day_params = connection.ops.datetime_cast_date_sql("e.moment", (), timezone.get_default_timezone_name())
    sql = OPEN_SQL.format(
        facts=facts_sql,
        change=quote(Change._meta.db_table),
        status=quote(Status._meta.db_table),
        day=day_sql,
        states=", ".join(["%s"] * len(OPEN_STATES)),
    )
    until, since = connection.ops.adapt_datetimefield_value(end), connection.ops.adapt_datetimefield_value(start)
    params: list[Any] = [*facts_params, since, *day_params, until, *OPEN_STATES]
    deltas: dict[date | None, Counts] = defaultdict(dict)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for day, state, group_id, delta in cursor.fetchall():
            key = (state, group_id)
            found = deltas[None if day is None else date.fromisoformat(str(day))]
            found[key] = found.get(key, 0) + int(delta)
    running: Counts = dict(deltas.get(None, {}))
    days: dict[date, Counts] = {}
    for day in _days(first, last):
        for key, delta in deltas.get(day, {}).items():
            running[key] = running.get(key, 0) + delta
        days[day] = {key: n for key, n in running.items() if n}
    return days


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=index) for index in range((last - first).days + 1)]


# --- Kept slices: the backlog under one filter value -------------------------------------------------------
#
# At a million tickets the history above reads every status change of tens of thousands of tickets
# for one filter (an agent's, a product's): about a second. `BacklogSlice` keeps the same counts per
# day, status category, group and one filter value (an assignee, an organization, a tag id, a
# custom field's "key=value" option), written as BacklogDay is: from history by the rebuild
# (`rebuild_slices`, by the SQL above, so the two agree by construction) and for today from the
# facts by the scheduled snapshot (`snapshot_slices`). A report filtered by one such value and at
# most a group reads them; other combinations keep the history. Like BacklogDay, a day's rows keep
# the values the tickets had when it was written (the history's: their values now) until the next
# rebuild.

SLICE_KINDS = ("agent", "organization", "tag", "field")
# The sentinel row the rebuild writes last: until there is one (an upgrade), reports read the history.
REBUILT = "rebuilt"


def _slice_keys(columns: str, where: str) -> str:
    """Each fact's filter values, one row per value: `columns` of the fact `t`, then kind and value."""
    table = connection.ops.quote_name(TicketFact._meta.db_table)
    if connection.vendor == "postgresql":
        elements = "jsonb_array_elements_text(t.{}) AS x(value)"
    else:
        elements = "json_each(t.{}) AS x"
    return " UNION ALL ".join(
        [
            f"SELECT {columns}, 'agent' AS kind, CAST(t.assignee_id AS text) AS value FROM {table} t "
            f"WHERE {where} AND t.assignee_id IS NOT NULL",
            f"SELECT {columns}, 'organization' AS kind, CAST(t.organization_id AS text) AS value FROM {table} t "
            f"WHERE {where} AND t.organization_id IS NOT NULL",
            f"SELECT {columns}, 'tag' AS kind, CAST(x.value AS text) AS value "
            f"FROM {table} t, {elements.format('tags')} WHERE {where}",
            f"SELECT {columns}, 'field' AS kind, CAST(x.value AS text) AS value "
            f"FROM {table} t, {elements.format('field_values')} "
            f"WHERE {where}",
        ]
    )


SLICES_SQL = (
    OPEN_CTE
    + """, k (ticket_id, kind, value) AS ({keys})
SELECT CASE WHEN e.moment < %s THEN NULL ELSE {day} END AS day, e.state, e.group_id, k.kind, k.value, SUM(e.delta)
FROM e JOIN k ON k.ticket_id = e.ticket_id
WHERE e.moment < %s AND e.state IN ({states})
GROUP BY 1, 2, 3, 4, 5
"""
)


def rebuild_slices(first: date, last: date) -> int:
    """The slices of every day from `first` to `last` (site time zone) from the tickets' status
    history, in one statement; the rows written (the days before `first` are left as they are)."""
    from sportello.reports.models import BacklogSlice

    start, end = _site_midnight(first), _site_midnight(last + timedelta(days=1))
    quote = connection.ops.quote_name
    table = quote(TicketFact._meta.db_table)
    day_sql, day_params = connection.ops.datetime_cast_date_sql("e.moment", (), timezone.get_default_timezone_name())
    sql = SLICES_SQL.format(
        facts=f"SELECT ticket_id, created_at, state, group_id FROM {table} WHERE NOT merged AND created_at < %s",
        change=quote(Change._meta.db_table),
        status=quote(Status._meta.db_table),
        keys=_slice_keys("t.ticket_id", "NOT t.merged"),
        day=day_sql,
        states=", ".join(["%s"] * len(OPEN_STATES)),
    )
    until, since = connection.ops.adapt_datetimefield_value(end), connection.ops.adapt_datetimefield_value(start)
    deltas: dict[tuple[str, int | None, str, str], dict[date | None, int]] = defaultdict(dict)
    with connection.cursor() as cursor:
        cursor.execute(sql, [until, since, *day_params, until, *OPEN_STATES])
        for day, state, group_id, kind, value, delta in cursor.fetchall():
            found = deltas[(state, group_id, kind, value)]
            moment = None if day is None else date.fromisoformat(str(day))
            found[moment] = found.get(moment, 0) + int(delta)
    days = _days(first, last)
    with transaction.atomic():
        BacklogSlice.objects.filter(day__gte=first, day__lte=last).delete()
        BacklogSlice.objects.filter(kind=REBUILT).delete()
        written, chunk = 0, []
        for (state, group_id, kind, value), by_day in deltas.items():
            running = by_day.get(None, 0)
            for day in days:
                running += by_day.get(day, 0)
                if running:
                    chunk.append(
                        BacklogSlice(day=day, state=state, group_id=group_id, kind=kind, value=value, count=running)
                    )
            if len(chunk) >= 10_000:
                written += len(BacklogSlice.objects.bulk_create(chunk))
                chunk = []
        written += len(BacklogSlice.objects.bulk_create(chunk))
        BacklogSlice.objects.create(day=last, state="", kind=REBUILT, value="", count=0)
    return written


def snapshot_slices(today: date) -> int:
    """Today's slices from the facts as they are now (the scheduled job, beside BacklogDay's)."""
    from sportello.reports.models import BacklogSlice

    states = ", ".join(["%s"] * len(OPEN_STATES))
    keys = _slice_keys("t.state, t.group_id", f"NOT t.merged AND t.state IN ({states})")
    sql = f"SELECT state, group_id, kind, value, COUNT(*) FROM ({keys}) AS s GROUP BY 1, 2, 3, 4"
    with connection.cursor() as cursor:
        cursor.execute(sql, list(OPEN_STATES) * 4)
        rows = [
            BacklogSlice(day=today, state=state, group_id=group_id, kind=kind, value=value, count=n)
            for state, group_id, kind, value, n in cursor.fetchall()
        ]
    with transaction.atomic():
        BacklogSlice.objects.filter(day=today).exclude(kind=REBUILT).delete()
        BacklogSlice.objects.bulk_create(rows, batch_size=5000)
    return len(rows)


def slice_for(filters: Filters) -> tuple[str, str] | None:
    """The kept slice that answers these filters (one agent, organization, tag or counted option, and
    at most a group besides), or None when the history must."""
    if filters.channel or filters.priority is not None or filters.category is not None:
        return None
    found: list[tuple[str, str]] = []
    if filters.agent is not None:
        found.append(("agent", str(filters.agent)))
    if filters.organization is not None:
        found.append(("organization", str(filters.organization)))
    if filters.tag:
        from sportello.tickets.models import Tag

        tag = Tag.objects.filter(name=filters.tag).values_list("pk", flat=True).first()
        found.append(("tag", "" if tag is None else str(tag)))  # no such tag: no rows, an empty backlog
    if filters.custom:
        from sportello.reports.rollup import field_option

        option = field_option(*filters.custom[0]) if len(filters.custom) == 1 else None
        if option is None:
            return None
        found.append(("field", option))
    if len(found) != 1:
        return None
    from sportello.reports.models import BacklogSlice

    return found[0] if BacklogSlice.objects.filter(kind=REBUILT).exists() else None
