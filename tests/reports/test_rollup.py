"""The daily roll-up: kept by the listeners as the scenario happens, equal to a rebuild, and every
report gives the same figures from it as from the facts (tests/reports/scenario.py, by hand).

The site's time zone is Rome here (the roll-up's days are the site's; the reader's must match for
a report to read it), so the week's tickets fall on the days the scenario says.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings
from django.utils import timezone

from sportello.reports import rollup
from sportello.reports.frame import REPORTS, Filters, Granularity, ReportResult
from sportello.reports.models import ReportDaily, RollupState
from sportello.reports.services import Period
from tests.reports.scenario import ROME, build, query

pytestmark = pytest.mark.django_db

ROLLED_UP = ("volume", "sla", "agents", "response-times", "trends")


@pytest.fixture
def week(django_capture_on_commit_callbacks, agent, agent2, first_level, second_level):  # type: ignore[no-untyped-def]
    with override_settings(TIME_ZONE="Europe/Rome"):
        rollup.rebuild()  # built (empty) first: from here on the listeners keep it
        yield build(django_capture_on_commit_callbacks, agent, agent2, first_level, second_level)


def rows() -> list[tuple[object, ...]]:
    fields = ("day", "grain", *rollup.DIMENSIONS.values(), *rollup.MEASURES)
    return sorted(ReportDaily.objects.values_list(*fields), key=repr)


def run(slug: str, reader, **options) -> ReportResult:  # type: ignore[no-untyped-def]
    with timezone.override(ROME):
        return REPORTS[slug][1](query(**options), reader)


def both_ways(slug: str, reader, **options) -> ReportResult:  # type: ignore[no-untyped-def]
    rolled = run(slug, reader, **options)
    with rollup.facts_only():
        from_facts = run(slug, reader, **options)
    assert rolled == from_facts, (slug, options)
    return rolled


def test_the_listeners_keep_what_a_rebuild_computes(week):
    kept = rows()
    assert kept, "the listeners wrote roll-up rows"
    rollup.rebuild()
    assert rows() == kept


def test_the_rows_hold_the_hand_counted_week(week):
    """All tickets (grain ""), per day in Rome: T1 on the 23rd, T6 on Sunday the 25th (00:30),
    T3 on the 26th, T2 and T4 (merged: not counted) on the 27th, T5 on the 28th."""
    everything = ReportDaily.objects.filter(grain="", day__gte=date(2026, 10, 23))
    created = {row.day.day: row.created for row in everything if row.created}
    assert created == {23: 1, 25: 1, 26: 1, 27: 1, 28: 1}
    solved = {row.day.day: row.solved for row in everything if row.solved}
    assert solved == {26: 1, 28: 1, 30: 1}  # T2 solved on the 29th, reopened, last solved on the 30th
    assert {row.day.day: row.reopened for row in everything if row.reopened} == {29: 1}
    alice = ReportDaily.objects.filter(grain="actor", actor=week.alice, day__gte=date(2026, 10, 23))
    assert sum(row.replies for row in alice) == 3  # T1 on the 26th, T2 twice on the 29th
    assert sum(row.notes for row in alice) == 1
    assert sum(row.handle_minutes for row in alice) == 25


@pytest.mark.parametrize("slug", ROLLED_UP)
@pytest.mark.parametrize("granularity", [Granularity.DAY, Granularity.WEEK])
def test_every_report_is_the_same_from_the_roll_up_and_the_facts(week, admin, slug, granularity):
    filter_sets: list[dict[str, object]] = [
        {},
        {"group": week.tickets["T3"].group_id},
        {"agent": week.alice.pk},
        {"channel": "web"},
        {"priority": 4},
        {"category": 999},
        {"group": week.tickets["T1"].group_id, "channel": "email"},
        {"agent": week.bob.pk, "channel": "web"},  # no such grain: the facts answer
        {"tag": "printer"},  # likewise
    ]
    for filters in filter_sets:
        both_ways(slug, admin, granularity=granularity, **filters)


@pytest.mark.parametrize("slug", ROLLED_UP)
def test_a_restricted_agent_gets_the_same_figures_both_ways(week, restricted_agent, slug):
    both_ways(slug, restricted_agent)
    both_ways(slug, restricted_agent, channel="web")


def test_the_roll_up_figures_are_the_hand_counted_ones(week, admin):
    result = both_ways("volume", admin)
    assert {f.key: (f.value, f.previous) for f in result.figures} == {
        "created": (5, 1),
        "solved": (3, 1),
        "reopened": (1, 0),
    }
    by_channel = {row["key"]: (row["created"], row["previous"]) for row in result.extra["by_channel"].rows}
    assert by_channel == {"email": (2, 1), "web": (3, 0)}
    sla = {f.key: (f.value, f.previous) for f in both_ways("sla", admin).figures}
    # First response: met T1, T3, T5, breached T2; resolution: met T1, T2, T5 (T3, T6 still open).
    assert (sla["compliance_percent"], sla["breached"]) == ((85.7, 50.0), (1, 1))
    agents = {row["name"]: row for row in both_ways("agents", admin).table.rows}
    assert (agents[week.alice.display_name]["solved"], agents[week.alice.display_name]["replies"]) == (2, 3)


def test_when_the_facts_answer(week, admin):
    period = Period(date(2026, 10, 23), date(2026, 10, 30))
    with timezone.override(ROME):
        assert rollup.ticket_rows(Filters(), None, period) is not None
        assert rollup.ticket_rows(Filters(group=1), None, period, "assignee") is not None
        assert rollup.ticket_rows(Filters(tag="printer"), None, period) is None
        assert rollup.ticket_rows(Filters(organization=1), None, period) is None
        assert rollup.ticket_rows(Filters(custom=(("plan", "gold"),)), None, period) is None
        assert rollup.ticket_rows(Filters(agent=1, channel="web"), None, period) is None
        assert rollup.actor_rows(Filters(channel="web"), None, period) is None
        with rollup.facts_only():
            assert rollup.ticket_rows(Filters(), None, period) is None
    # A reader in another time zone than the site's: the roll-up's days are not theirs.
    with timezone.override(ZoneInfo("America/New_York")):
        assert rollup.ticket_rows(Filters(), None, period) is None
    # The site moved to another time zone: the roll-up must be rebuilt before it is read again.
    with override_settings(TIME_ZONE="UTC"), timezone.override(ZoneInfo("UTC")):
        assert rollup.ticket_rows(Filters(), None, period) is None
    RollupState.objects.all().delete()
    with timezone.override(ROME):
        assert rollup.ticket_rows(Filters(), None, period) is None
