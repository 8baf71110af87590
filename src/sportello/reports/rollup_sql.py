"""The daily roll-up rebuilt by PostgreSQL itself: what `sportello reports rebuild` runs there.

`rollup.rebuild` adds every fact's contributions up in Python: one dictionary update per fact, day
and grain, some hundred million of them at a million tickets (over twenty minutes). Here the same
rows come from set-based SQL, one `INSERT … SELECT … GROUP BY` per grain over two temporary tables
of the facts' contributions (`rollup_units`: a ticket created, solved or reopened on a day;
`rollup_acts`: a reply, note or chat by an agent on a day) and one per histogram grain over the
facts' durations (`rollup_durations`), in the transaction and under the lock `rollup.rebuild` takes.

The rows are the ones `rollup.contributions` computes (tests/reports/test_rollup_sql.py compares
both on varied facts), by the same rules read off each grain's dimensions:
- a ticket grain counts the tickets that were not merged; a null group, assignee or category is
  "none" (a row of its own);
- with "organization", only tickets whose customer has one; with "tag" or "field", a ticket once
  under each of its tags (ids) or options ("key=value"), none without any;
- "actor" alone counts every reply, note and chat (merged tickets' too); an actor grain with other
  dimensions only those on tickets not merged, by the rules above;
- days are the site's (`TIME_ZONE`): a ticket's created day for created and the SLA outcomes, its
  last solve's day for solved, one-touch and replies, the reopen's day for reopened;
- histograms: first responses on the created day, resolutions on the solve's day, in the bucket of
  `rollup.EDGES` the duration falls in (`width_bucket`), "none" and dimensions outside the grain 0.
SQLite (the embedded default) keeps `rollup.rebuild`: its desks are small.
"""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from sportello.reports import rollup
from sportello.reports.models import ActivityKind, ReportDaily, ResponseHistogram, RollupState, SlaOutcome

# The dimensions a ticket has one value of (null: "none"), as TicketFact columns.
SCALAR = {
    "group": "group_id",
    "assignee": "assignee_id",
    "channel": "channel",
    "priority": "priority",
    "category": "category_id",
    "sla_policy": "sla_policy_id",
}
# The dimensions a ticket counts under once per value it has (ids of tags, "key=value" options).
LISTED = {"tag": ("tags", "bigint"), "field": ("field_values", "text")}
CARRIED = [*SCALAR.values(), "organization_id", "tags", "field_values"]


def available() -> bool:
    return connection.vendor == "postgresql"


def _units(cursor: Any, zone: str) -> None:
    """Each fact's contributions to the ticket grains: a row per day it was created, solved or reopened."""
    carried = ", ".join(f"f.{column}" for column in CARRIED)
    outcomes = []
    for column, target in rollup.SLA_COLUMNS:
        outcomes += [
            f"(f.{column} = %(met)s)::int AS {target}_met",
            f"(f.{column} = %(breached)s)::int AS {target}_breached",
        ]
    created = ", ".join(outcomes)
    none = ", ".join(
        f"0 AS {target}_{result}" for _column, target in rollup.SLA_COLUMNS for result in ("met", "breached")
    )
    cursor.execute(
        f"""
        CREATE TEMPORARY TABLE rollup_units ON COMMIT DROP AS
        SELECT (f.created_at AT TIME ZONE %(zone)s)::date AS day, {carried},
               1 AS created, 0 AS solved, 0 AS reopened, 0 AS one_touch, 0 AS solved_replies, {created}
        FROM reports_ticketfact f WHERE NOT f.merged
        UNION ALL
        SELECT (f.solved_at AT TIME ZONE %(zone)s)::date, {carried},
               0, 1, 0, f.one_touch::int, f.replies, {none}
        FROM reports_ticketfact f WHERE NOT f.merged AND f.solved_at IS NOT NULL
        UNION ALL
        SELECT (a.at AT TIME ZONE %(zone)s)::date, {carried},
               0, 0, 1, 0, 0, {none}
        FROM reports_activity a JOIN reports_ticketfact f ON f.ticket_id = a.fact_id
        WHERE a.kind = %(reopen)s AND NOT f.merged
        """,
        {"zone": zone, "met": SlaOutcome.MET.value, "breached": SlaOutcome.BREACHED.value,
         "reopen": ActivityKind.REOPEN.value},
    )  # fmt: skip


def _acts(cursor: Any, zone: str) -> None:
    """Each reply, note and chat with the agent who acted and the dimensions of its ticket."""
    carried = ", ".join(f"f.{column}" for column in CARRIED)
    cursor.execute(
        f"""
        CREATE TEMPORARY TABLE rollup_acts ON COMMIT DROP AS
        SELECT (a.at AT TIME ZONE %(zone)s)::date AS day, a.agent_id AS actor_id, f.merged, {carried},
               (a.kind = %(reply)s)::int AS replies, (a.kind = %(note)s)::int AS notes,
               (a.kind = %(chat)s)::int AS chats, COALESCE(a.time_spent, 0) AS handle_minutes
        FROM reports_activity a JOIN reports_ticketfact f ON f.ticket_id = a.fact_id
        WHERE a.kind IN (%(reply)s, %(note)s, %(chat)s)
        """,
        {"zone": zone, "reply": ActivityKind.REPLY.value, "note": ActivityKind.NOTE.value,
         "chat": ActivityKind.CHAT.value},
    )  # fmt: skip


def _grain_rows(cursor: Any, grain: str) -> int:
    """INSERT the ReportDaily rows of one grain; returns how many."""
    dims = [dim for dim in grain.split("+") if dim]
    actor = "actor" in dims
    source, measures = ("rollup_acts", rollup.ACTOR_MEASURES) if actor else ("rollup_units", rollup.TICKET_MEASURES)
    joins: list[str] = []
    conditions: list[str] = []
    if actor and dims != ["actor"]:
        conditions.append("NOT u.merged")
    chosen: dict[str, str] = {}
    for dim in dims:
        if dim == "actor":
            chosen[dim] = "u.actor_id"
        elif dim in SCALAR:
            chosen[dim] = f"u.{SCALAR[dim]}"
        elif dim == "organization":
            chosen[dim] = "u.organization_id"
            conditions.append("u.organization_id IS NOT NULL")
        elif dim in LISTED:
            column, kind = LISTED[dim]
            joins.append(
                f"CROSS JOIN LATERAL jsonb_array_elements_text(COALESCE(u.{column}, '[]'::jsonb)) AS {dim}_(v)"
            )
            chosen[dim] = f"{dim}_.v::{kind}"
        else:  # a dimension this module does not know: refuse rather than write wrong rows
            raise ValueError(f"no SQL for the roll-up dimension {dim!r}")
    columns = list(rollup.DIMENSIONS.values())
    values = [chosen.get(dim, "NULL") for dim in rollup.DIMENSIONS]
    sums = [f"sum(u.{measure})" for measure in measures]
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    group_by = ", ".join(["u.day", *chosen.values()])
    quote = connection.ops.quote_name
    zeros = [measure for measure in rollup.MEASURES if measure not in measures]
    cursor.execute(
        f"""
        INSERT INTO {quote(ReportDaily._meta.db_table)} (day, grain, {", ".join(columns)}, {", ".join(measures)},
            {", ".join(zeros)})
        SELECT u.day, %s, {", ".join(values)}, {", ".join(sums)}, {", ".join("0" for _zero in zeros)}
        FROM {source} u {" ".join(joins)} {where}
        GROUP BY {group_by}
        """,
        [grain],
    )  # fmt: skip
    return int(cursor.rowcount)


HISTOGRAM_COLUMNS = {"group": "group_id", "assignee": "assignee_id", "channel": "channel", "priority": "priority",
                     "category": "category_id", "tag": "tag_id", "organization": "organization_id",
                     "field": "field_value"}  # fmt: skip
HISTOGRAM_NONE = {"channel": "''", "field": "''"}  # else 0


def _histograms(cursor: Any, zone: str) -> None:
    """Every ResponseHistogram row: the facts' durations in their buckets, then one INSERT per grain
    (a tag or field grain counts a duration once per tag or option of its ticket, an organization
    grain only those of tickets whose customer has one)."""
    parts = []
    for measure, column in enumerate(rollup.HISTOGRAM_MEASURES):
        when = "created_at" if measure < 2 else "solved_at"  # as rollup.contributions
        parts.append(
            f"SELECT (f.{when} AT TIME ZONE %(zone)s)::date AS day, f.group_id, f.assignee_id, f.channel, "
            f"f.priority, f.category_id, f.organization_id, f.tags, f.field_values, {measure} AS measure, "
            f"width_bucket(greatest(f.{column}, 0), %(edges)s::bigint[]) - 1 AS bucket "
            f"FROM reports_ticketfact f WHERE NOT f.merged AND f.{column} IS NOT NULL"
        )
    cursor.execute(
        f"CREATE TEMPORARY TABLE rollup_durations ON COMMIT DROP AS {' UNION ALL '.join(parts)}",
        {"zone": zone, "edges": rollup.EDGES},
    )
    table = connection.ops.quote_name(ResponseHistogram._meta.db_table)
    for dims in rollup.HISTOGRAM_GRAINS:
        joins: list[str] = []
        conditions: list[str] = []
        chosen: dict[str, str] = {}
        for dim in dims:
            if dim in LISTED:
                column, kind = LISTED[dim]
                joins.append(
                    f"CROSS JOIN LATERAL jsonb_array_elements_text(COALESCE(d.{column}, '[]'::jsonb)) AS {dim}_(v)"
                )
                chosen[dim] = f"{dim}_.v::{kind}"
            elif dim == "organization":
                chosen[dim] = "d.organization_id"
                conditions.append("d.organization_id IS NOT NULL")
            else:
                chosen[dim] = f"d.{HISTOGRAM_COLUMNS[dim]}"
        values = []
        for dim in HISTOGRAM_COLUMNS:
            none = HISTOGRAM_NONE.get(dim, "0")
            values.append(f"COALESCE({chosen[dim]}, {none})" if dim in chosen else none)
        group_by = ", ".join(["d.day", "d.measure", "d.bucket", *chosen.values()])
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        cursor.execute(
            f"""
            INSERT INTO {table} (day, grain, {", ".join(HISTOGRAM_COLUMNS.values())}, measure, bucket, tickets)
            SELECT d.day, %s, {", ".join(values)}, d.measure, d.bucket, count(*)
            FROM rollup_durations d {" ".join(joins)} {where} GROUP BY {group_by}
            """,
            [rollup.grain_name(dims)],
        )


def rebuild() -> int:
    """Every roll-up row, histogram and ticket count from the facts, as `rollup.rebuild` computes them,
    in one transaction under its lock; returns the roll-up rows written."""
    zone = timezone.get_default_timezone_name()
    written = 0
    with transaction.atomic(), connection.cursor() as cursor:
        rollup.lock()
        ResponseHistogram.objects.all().delete()
        ReportDaily.objects.all().delete()
        _units(cursor, zone)
        _acts(cursor, zone)
        for grain in sorted(rollup.GRAINS):
            written += _grain_rows(cursor, grain)
        _histograms(cursor, zone)
        # ON COMMIT DROP alone would keep them to the end of an outer transaction (a second call fails).
        cursor.execute("DROP TABLE rollup_units, rollup_acts, rollup_durations")
        rollup.recount()
        RollupState.objects.all().delete()
        RollupState.objects.create(time_zone=timezone.get_default_timezone_name())
    return written


def rebuild_here() -> int:
    """The roll-up rebuilt the fastest way this database has: set-based SQL on PostgreSQL (minutes at a
    million tickets against twenty for the Python loop), `rollup.rebuild` on SQLite."""
    return rebuild() if available() else rollup.rebuild()
