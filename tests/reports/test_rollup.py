"""The daily roll-up: kept by the listeners as the scenario happens, equal to a rebuild, and every
report gives the same figures from it as from the facts (tests/reports/scenario.py, by hand).

The site's time zone is Rome here (the roll-up's days are the site's; the reader's must match for
a report to read it), so the week's tickets fall on the days the scenario says.

Response times read their medians and 90th percentiles from histograms: within 2% of the facts'
exact ones (plus the 0.1 s they are rounded to), everything else the same.
"""

from __future__ import annotations

import random
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from sportello.reports import rollup
from sportello.reports.frame import REPORTS, Filters, Granularity, ReportResult
from sportello.reports.metrics import percentile
from sportello.reports.models import ReportDaily, ResponseHistogram, RollupState
from sportello.reports.services import Period
from sportello.tickets.models import Priority
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


def histograms() -> list[tuple[object, ...]]:
    fields = ("day", "grain", *rollup.HISTOGRAM_COLUMNS[2:-1])
    return sorted(ResponseHistogram.objects.values_list(*fields, "tickets"), key=repr)


def near(value: Any, exact: Any) -> bool:
    """A percentile from the histograms against the exact one: within 2%, plus the 0.1 s rounding."""
    if value is None or exact is None:
        return value is exact
    return abs(value - exact) <= 0.02 * abs(exact) + 0.1


PERCENTILE = ("_median", "_p90")


def assert_same_response_times(rolled: ReportResult, exact: ReportResult) -> None:
    assert [f.key for f in rolled.figures] == [f.key for f in exact.figures]
    for mine, theirs in zip(rolled.figures, exact.figures, strict=True):
        if mine.key.endswith(PERCENTILE):
            assert near(mine.value, theirs.value) and near(mine.previous, theirs.previous), (mine, theirs)
        else:
            assert mine == theirs
    assert rolled.axis == exact.axis
    for mine_series, their_series in zip(rolled.series, exact.series, strict=True):
        assert all(near(a, b) for a, b in zip(mine_series.values, their_series.values, strict=True)), (
            mine_series,
            their_series,
        )
    assert rolled.table.columns == exact.table.columns
    assert len(rolled.table.rows) == len(exact.table.rows)
    for mine_row, their_row in zip(rolled.table.rows, exact.table.rows, strict=True):
        for key, value in mine_row.items():
            if key.endswith(PERCENTILE):
                assert near(value, their_row[key]), (key, mine_row, their_row)
            else:
                assert value == their_row[key], (key, mine_row, their_row)
    assert "histograms" in rolled.extra["precision"].rows[0]["precision"]
    assert "Exact" in exact.extra["precision"].rows[0]["precision"]


def run(slug: str, reader, **options) -> ReportResult:  # type: ignore[no-untyped-def]
    with timezone.override(ROME):
        return REPORTS[slug][1](query(**options), reader)


def both_ways(slug: str, reader, **options) -> ReportResult:  # type: ignore[no-untyped-def]
    rolled = run(slug, reader, **options)
    with rollup.facts_only():
        from_facts = run(slug, reader, **options)
    if slug == "response-times" and rolled != from_facts:
        assert_same_response_times(rolled, from_facts)
    else:
        assert rolled == from_facts, (slug, options)
    return rolled


def test_the_listeners_keep_what_a_rebuild_computes(week):
    kept, kept_histograms = rows(), histograms()
    assert kept, "the listeners wrote roll-up rows"
    assert kept_histograms, "and histograms"
    rollup.rebuild()
    assert rows() == kept
    assert histograms() == kept_histograms
    assert not ResponseHistogram.objects.filter(tickets__lte=0).exists()


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
        {"tag": "printer"},
        {"tag": "login"},
        {"tag": "no-such-tag"},
        {"tag": "printer", "group": week.tickets["T3"].group_id},
        {"tag": "printer", "channel": "web"},
        {"tag": "printer", "agent": week.bob.pk, "channel": "web"},  # the facts answer
    ]
    for filters in filter_sets:
        both_ways(slug, admin, granularity=granularity, **filters)


@pytest.mark.parametrize("slug", ROLLED_UP)
def test_a_restricted_agent_gets_the_same_figures_both_ways(week, restricted_agent, slug):
    both_ways(slug, restricted_agent)
    both_ways(slug, restricted_agent, channel="web")
    both_ways(slug, restricted_agent, tag="printer")


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
    # Open now (the kept ticket counts): T3 is bob's; T6 is nobody's; alice's are all solved.
    assert (agents[week.bob.display_name]["open_now"], agents[week.alice.display_name]["open_now"]) == (1, 0)
    for filters in ({"group": week.tickets["T3"].group_id}, {"agent": week.bob.pk}, {"group": 999}):
        both_ways("agents", admin, **filters)
    # Under a channel or a priority, from the kept counts too: T3 came by the web, normal priority.
    for filters, open_now in (
        ({"channel": "web"}, 1),
        ({"channel": "email"}, 0),
        ({"priority": Priority.NORMAL}, 1),
        ({"priority": Priority.URGENT}, 0),
        ({"channel": "web", "group": week.tickets["T3"].group_id, "agent": week.bob.pk}, 1),
    ):
        rows = {row["name"]: row for row in both_ways("agents", admin, **filters).table.rows}
        assert rows.get(week.bob.display_name, {"open_now": 0})["open_now"] == open_now, filters


def test_when_the_facts_answer(week, admin):
    period = Period(date(2026, 10, 23), date(2026, 10, 30))
    with timezone.override(ROME):
        assert rollup.ticket_rows(Filters(), None, period) is not None
        assert rollup.ticket_rows(Filters(group=1), None, period, "assignee") is not None
        assert rollup.ticket_rows(Filters(tag="printer"), None, period) is not None
        assert rollup.ticket_rows(Filters(tag="printer", group=1), None, period) is not None
        assert rollup.ticket_rows(Filters(tag="printer"), [1, 2], period, "assignee") is None  # no such grain
        assert rollup.ticket_rows(Filters(tag="printer"), None, period, "tag") is None  # the other tags
        assert rollup.ticket_rows(Filters(), None, period, "tag") is not None
        assert rollup.histogram_rows(Filters(tag="printer"), None, period) is not None
        assert rollup.histogram_rows(Filters(tag="printer"), None, period, "assignee") is not None
        assert rollup.histogram_rows(Filters(tag="printer", channel="web"), None, period) is None  # no such grain
        assert rollup.histogram_rows(Filters(tag="printer"), [1, 2], period, "assignee") is None
        assert rollup.actor_rows(Filters(tag="printer"), None, period) is not None
        assert rollup.ticket_rows(Filters(organization=1), None, period) is not None
        assert rollup.ticket_rows(Filters(organization=1), None, period, "assignee") is not None
        assert rollup.ticket_rows(Filters(organization=1, tag="printer"), None, period) is not None
        assert rollup.histogram_rows(Filters(organization=1), None, period, "group") is not None
        assert rollup.histogram_rows(Filters(organization=1, tag="printer"), None, period) is None
        assert rollup.ticket_rows(Filters(custom=(("plan", "gold"),)), None, period) is None  # no such field
        assert rollup.ticket_rows(Filters(agent=1, channel="web"), None, period) is not None
        assert rollup.ticket_rows(Filters(agent=1, channel="web", priority=4), None, period) is None
        assert rollup.ticket_rows(Filters(group=1, tag="printer", channel="web"), None, period) is None
        assert rollup.actor_rows(Filters(channel="web"), None, period) is not None
        assert rollup.actor_rows(Filters(channel="web", group=1), None, period) is None
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


def test_the_histograms_hold_the_hand_counted_week(week):
    """All tickets: first responses T1 (created the 23rd), T3 (26th), T2 (27th), T5 (28th); T6 has
    none and T4 was merged. Resolutions on the day of the last solve: T1 the 26th, T5 the 28th, T2
    the 30th (solved the 29th, reopened, solved again)."""
    everything = ResponseHistogram.objects.filter(grain="", day__gte=date(2026, 10, 23))
    first = sorted(row.day.day for row in everything.filter(measure=1) for _ in range(row.tickets))
    assert first == [23, 26, 27, 28]
    solved = sorted(row.day.day for row in everything.filter(measure=3) for _ in range(row.tickets))
    assert solved == [26, 28, 30]
    # T5 answered and solved on the holiday: 0 business seconds, in the exact bucket of 0 s.
    assert everything.get(measure=2, day=date(2026, 10, 28)).bucket == 0
    # T1 across the change of summer time: 66 h of calendar time (237,600 s), read within 2%.
    t1 = everything.get(measure=1, day=date(2026, 10, 23))
    assert near(rollup.bucket_value(t1.bucket), 237600)


def test_response_times_from_the_histograms_are_the_hand_computed_ones(week, admin):
    """tests/reports/test_metrics.py::test_response_times's figures (exact), within 2%."""
    found = {f.key: (f.value, f.previous) for f in both_ways("response-times", admin).figures}
    hand = {
        "first_response_business_seconds_median": (5400, 32400),  # business [0, 3600, 7200, 34200]
        "first_response_business_seconds_p90": (26100, 32400),
        "first_response_seconds_median": (89100, 86400),  # calendar [1800, 3600, 174600, 237600] (DST)
        "first_response_seconds_p90": (218700, 86400),
        "resolution_business_seconds_median": (14400, 32400),  # T2 to its last solve; T5 on the holiday
        "resolution_business_seconds_p90": (60480, 32400),
        "resolution_seconds_median": (244800, 86400),
        "resolution_seconds_p90": (262080, 86400),
    }
    for key, (now, before) in hand.items():
        assert near(found[key][0], now) and near(found[key][1], before), (key, found[key])
    assert found["replies_per_ticket"] == (1.3, 1.0)
    assert found["one_touch_percent"] == (66.7, 100.0)
    result = run("response-times", admin, granularity=Granularity.WEEK)
    assert result.extra["precision"].rows[0]["precision"].startswith("Read from daily histograms")
    medians = dict(zip(result.axis, result.series[0].values, strict=True))
    assert near(medians["2026-10-23"], 7200) and near(medians["2026-10-26"], 3600)


def test_a_percentile_from_the_buckets_is_within_two_percent():
    assert rollup.EDGES[:64] == list(range(64))  # one bucket per second below 64 s: exact
    widths = [b / a for a, b in zip(rollup.EDGES[64:], rollup.EDGES[65:], strict=False)]
    assert max(widths) <= 1.04 + 1 / 64
    assert rollup.histogram_percentile([], 0.5) is None
    assert rollup.histogram_percentile([(rollup.bucket_of(5), 1), (rollup.bucket_of(9), 1)], 0.5) == 7
    generator = random.Random(13)
    for _ in range(200):
        values = [int(generator.lognormvariate(8, 2.5)) for _ in range(generator.randint(1, 60))]
        counts: dict[int, int] = {}
        for value in values:
            counts[rollup.bucket_of(value)] = counts.get(rollup.bucket_of(value), 0) + 1
        for fraction in (0.5, 0.9):
            exact = percentile([float(v) for v in values], fraction)
            found = rollup.histogram_percentile(list(counts.items()), fraction)
            assert found is not None and exact is not None
            assert abs(found - exact) <= 0.02 * exact, (values, fraction)


def tag_rows() -> dict[tuple[int, str], int]:
    """Tickets created per day and tag, from the roll-up's grain "tag"."""
    return {
        (row.day.day, row.tag.name): row.created
        for row in ReportDaily.objects.filter(grain="tag", created__gt=0).select_related("tag")
    }


def by_tag(result: ReportResult) -> dict[str, tuple[int, int]]:
    return {row["key"]: (row["created"], row["previous"]) for row in result.extra["by_tag"].rows}


def test_the_tag_grains_hold_the_hand_counted_week(week, admin):
    """T0 "login" on the 20th (the previous period); T3 and T5 "printer" on the 26th and 28th."""
    assert tag_rows() == {(20, "login"): 1, (26, "printer"): 1, (28, "printer"): 1}
    assert by_tag(both_ways("volume", admin)) == {"printer": (2, 0), "login": (0, 1)}
    printer = both_ways("volume", admin, tag="printer")
    assert {f.key: (f.value, f.previous) for f in printer.figures} == {
        "created": (2, 0),
        "solved": (1, 0),  # T5
        "reopened": (0, 0),
    }
    assert {row["key"]: row["created"] for row in printer.extra["by_channel"].rows} == {"web": 2}
    # T3's first response and T5's (on the holiday) and resolution met; T3's resolution still open.
    sla = {f.key: f.value for f in both_ways("sla", admin, tag="printer").figures}
    assert (sla["compliance_percent"], sla["breached"]) == (100.0, 0)
    trends = {row["key"]: (row["count"], row["previous"]) for row in both_ways("trends", admin).table.rows}
    assert trends["printer"] == (2, 0)
    assert "login" not in trends  # it fell


def test_the_roll_up_follows_tag_changes(week, admin, django_capture_on_commit_callbacks):
    """A tag added or removed on a ticket is a ticket update the facts listener handles: the roll-up
    moves with it. A tag renamed keeps its rows (they hold its id); a tag deleted leaves them, and
    reports name only the tags there are, as the tickets' tags do."""
    from sportello.tickets.models import Tag, Ticket
    from sportello.tickets.services import TicketChanges, update_ticket
    from tests.reports.scenario import NOW

    t1, t3 = week.tickets["T1"], week.tickets["T3"]
    with override_settings(TIME_ZONE="Europe/Rome"), time_machine.travel(NOW, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            update_ticket(Ticket.objects.get(pk=t1.pk), week.alice, TicketChanges(tags=["billing", "printer"]))
        with django_capture_on_commit_callbacks(execute=True):
            update_ticket(Ticket.objects.get(pk=t3.pk), week.bob, TicketChanges(tags=[]))
        assert tag_rows() == {(20, "login"): 1, (23, "billing"): 1, (23, "printer"): 1, (28, "printer"): 1}
        for slug in ROLLED_UP:
            for filters in ({}, {"tag": "printer"}, {"tag": "billing", "group": t1.group_id}):
                both_ways(slug, admin, **filters)
        assert by_tag(run("volume", admin)) == {"printer": (2, 0), "billing": (1, 0), "login": (0, 1)}
        Tag.objects.filter(name="printer").update(name="hardware")
        assert by_tag(both_ways("volume", admin)) == {"hardware": (2, 0), "billing": (1, 0), "login": (0, 1)}
        assert run("volume", admin, tag="hardware").figures[0].value == 2
        Tag.objects.filter(name="billing").delete()
        for slug in ROLLED_UP:
            for filters in ({}, {"tag": "hardware"}, {"tag": "billing"}):
                both_ways(slug, admin, **filters)
        assert by_tag(run("volume", admin)) == {"hardware": (2, 0), "login": (0, 1)}
        kept = rows()
        rollup.rebuild()
        assert rows() == kept
