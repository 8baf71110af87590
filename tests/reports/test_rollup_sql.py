"""The roll-up rebuilt by PostgreSQL (reports/rollup_sql.py) holds exactly the rows `rollup.rebuild`
adds up in Python: on facts drawn at random across every dimension, list of tags and options,
merged tickets, reopens, durations around the histograms' edges and days around the change of
summer time, in the site's time zone."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from sportello.customers.services import Sender
from sportello.reports import rollup, rollup_sql
from sportello.reports.models import (
    Activity,
    ActivityKind,
    ReportDaily,
    ResponseHistogram,
    RollupState,
    SlaOutcome,
    TicketCount,
    TicketFact,
)
from sportello.tickets.intake import Inbound, ingest

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL rebuilds the roll-up in SQL"),
]

# Around the end of summer time in Rome (Sun 25 Oct 2026, 01:00 UTC) and midnights either side.
START = datetime(2026, 10, 23, 20, 0, tzinfo=UTC)
DURATIONS = [None, None, -5, 0, 1, 63, 64, 65, 3599, 86_400, 400_000_000]
OUTCOMES = [value for value, _label in SlaOutcome.choices]
KINDS = [value for value, _label in ActivityKind.choices]


def moment(rng: random.Random) -> datetime:
    return START + timedelta(minutes=rng.randrange(0, 5 * 24 * 60, 7))


def draw(rng: random.Random, agents: list[int], groups: list[int]) -> None:
    """Facts for 40 tickets (their own values, not the tickets'), and activity on them."""
    for n in range(40):
        ticket = ingest(
            Inbound(channel="web", sender=Sender(name=f"C{n}", email=f"c{n}@example.com"), subject=f"#{n}",
                    body_text="Hello", acknowledge=False)
        ).ticket  # fmt: skip
        created = moment(rng)
        solved = created + timedelta(minutes=rng.randrange(1, 3000)) if rng.random() < 0.6 else None
        values = dict(
            number=ticket.number,
            created_at=created,
            channel=rng.choice(["email", "web", "chat", "phone"]),
            state=rng.choice(["new", "open", "solved", "closed"]),
            priority=rng.randint(1, 4),
            group_id=rng.choice([None, *groups]),
            assignee_id=rng.choice([None, *agents]),
            category_id=rng.choice([None, 1, 2]),
            organization_id=rng.choice([None, None, 5, 6]),
            sla_policy_id=rng.choice([None, 1, 2]),
            solved_at=solved,
            replies=rng.randint(0, 4),
            one_touch=rng.random() < 0.3,
            sla_first_response=rng.choice(OUTCOMES),
            sla_next_response=rng.choice(OUTCOMES),
            sla_resolution=rng.choice(OUTCOMES),
            merged=rng.random() < 0.1,
            first_response_seconds=rng.choice(DURATIONS),
            first_response_business_seconds=rng.choice(DURATIONS),
            resolution_seconds=rng.choice(DURATIONS) if solved else None,
            resolution_business_seconds=rng.choice(DURATIONS) if solved else None,
            tags=sorted(rng.sample([1, 2, 3, 4], rng.randint(0, 3))),
            field_values=sorted(rng.sample(["product=Gadget", "product=Widget", "urgent=yes"], rng.randint(0, 2))),
        )
        TicketFact.objects.update_or_create(ticket=ticket, defaults=values)
        Activity.objects.filter(fact_id=ticket.pk).delete()
        Activity.objects.bulk_create(
            Activity(fact_id=ticket.pk, kind=rng.choice(KINDS), agent_id=rng.choice([None, *agents]),
                     at=moment(rng), time_spent=rng.choice([0, 0, 5, 30]))
            for _ in range(rng.randint(0, 5))
        )  # fmt: skip


def kept() -> dict[str, list[tuple[object, ...]]]:
    daily = ("day", "grain", *rollup.DIMENSIONS.values(), *rollup.MEASURES)
    histogram = rollup.HISTOGRAM_COLUMNS
    return {
        "daily": sorted(ReportDaily.objects.values_list(*daily), key=repr),
        "histograms": sorted(ResponseHistogram.objects.values_list(*histogram), key=repr),
        "counts": sorted(TicketCount.objects.values_list(*rollup.COUNT_KEY, "tickets"), key=repr),
        "state": list(RollupState.objects.values_list("time_zone", flat=True)),
    }


@pytest.mark.parametrize("seed", [1, 2])
@override_settings(TIME_ZONE="Europe/Rome")
def test_the_sql_rebuild_writes_the_rows_the_python_one_adds_up(seed, agent, agent2, first_level, second_level):
    draw(random.Random(seed), [agent.pk, agent2.pk], [first_level.pk, second_level.pk])
    rollup.rebuild()
    by_python = kept()
    assert by_python["daily"] and by_python["histograms"]
    grains = {row[1] for row in by_python["daily"]}
    assert {"tag", "field", "organization", "actor", "group+actor", "tag+field"} <= grains, "the draw reaches them"
    histogram_grains = {row[1] for row in by_python["histograms"]}
    assert {"tag", "assignee+tag", "group+organization", "field", "assignee+field"} <= histogram_grains
    ReportDaily.objects.all().delete()
    RollupState.objects.all().delete()
    written = rollup_sql.rebuild()
    by_sql = kept()
    assert written == len(by_sql["daily"])
    for part in by_python:
        assert by_sql[part] == by_python[part], part


@override_settings(TIME_ZONE="Europe/Rome")
def test_the_rebuild_command_adds_the_roll_up_up_in_sql_and_runs_twice_in_one_transaction(agent, first_level):
    """`sportello reports rebuild --rollup-only` takes the SQL path; its temporary tables are dropped, so
    a second run inside the same transaction (as here, a test's) writes the same rows instead of failing."""
    draw(random.Random(3), [agent.pk], [first_level.pk])
    rollup.rebuild()
    by_python = kept()
    for _run in range(2):
        out = StringIO()
        call_command("reports", "rebuild", "--rollup-only", stdout=out)
        assert "(roll-up in SQL)" in out.getvalue()
        assert f"{len(by_python['daily'])} rows" in out.getvalue()
        assert kept() == by_python
