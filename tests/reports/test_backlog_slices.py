"""The kept backlog slices (reports/backlog.py, `BacklogSlice`): the backlog under one agent,
organization, tag or custom field option, read from rows the rebuild and the snapshot keep instead of
the status history, give the history's figures; other combinations still read the history.

The week and Gina's tickets across the change of summer time are tests/reports/test_backlog_filters.py's
(whose hand-computed figures run through the slices too, since its rebuild fills them)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from sportello.customers.models import Organization
from sportello.reports import backlog, facts
from sportello.reports.frame import REPORTS, Filters, ReportQuery, ReportResult
from sportello.reports.models import BacklogSlice
from sportello.reports.services import Period
from tests.reports.scenario import NOW, PERIOD, ROME, Steps, fresh, solve
from tests.reports.test_backlog_filters import week  # noqa: F401 (the fixture)

pytestmark = pytest.mark.django_db


EARLIER = Period(date(2026, 10, 18), date(2026, 10, 25))


def run(reader, period: Period, filters: Filters) -> ReportResult:  # type: ignore[no-untyped-def]
    with timezone.override(ROME):
        return REPORTS["backlog"][1](ReportQuery(period, filters), reader)


def seen(result: ReportResult) -> tuple[Any, ...]:
    return (
        result.table.rows,
        [(figure.key, figure.value, figure.previous) for figure in result.figures],
        result.extra["by_group"].rows,
    )


def both_ways(reader, period: Period, filters: Filters) -> tuple[tuple[Any, ...], tuple[Any, ...]]:  # type: ignore[no-untyped-def]
    """The report from the slices, then from the history (the rebuild's mark taken away)."""
    assert backlog.slice_for(filters) is not None, "the slices answer these filters"
    kept = seen(run(reader, period, filters))
    BacklogSlice.objects.filter(kind=backlog.REBUILT).delete()
    assert backlog.slice_for(filters) is None
    history = seen(run(reader, period, filters))
    return kept, history


def chosen(found, name: str) -> Filters:  # type: ignore[no-untyped-def]
    return {
        "alice": Filters(agent=found.alice.pk),
        "bob": Filters(agent=found.bob.pk),
        "dst": Filters(tag="dst"),
        "printer": Filters(tag="printer"),
        "printer, second level": Filters(tag="printer", group=found.tickets["T3"].group_id),
        "no such tag": Filters(tag="nowhere"),
        "Beta": Filters(organization=Organization.objects.get(name="Beta").pk),
        "Acme": Filters(organization=Organization.objects.get(name="Acme").pk),
        "Gadget": Filters(custom=(("product", "Gadget"),)),
        "Widget": Filters(custom=(("product", "Widget"),)),
    }[name]


@pytest.mark.parametrize("period", [PERIOD, EARLIER])
@pytest.mark.parametrize(
    "name",
    ["alice", "bob", "dst", "printer", "printer, second level", "no such tag", "Beta", "Acme", "Gadget", "Widget"],
)
def test_the_slices_give_the_history_s_backlog(week, admin, name, period):  # noqa: F811
    kept, history = both_ways(admin, period, chosen(week, name))
    assert kept == history


@pytest.mark.parametrize("name", ["printer", "dst", "bob"])
def test_a_restricted_agent_s_slices_hold_only_their_groups(week, restricted_agent, name):  # noqa: F811
    kept, history = both_ways(restricted_agent, PERIOD, chosen(week, name))
    assert kept == history


def test_combinations_the_slices_do_not_keep_read_the_history(week):  # noqa: F811
    tag = "printer"
    assert backlog.slice_for(Filters(tag=tag)) == ("tag", str(week.tickets["T3"].tags.get(name=tag).pk))
    for filters in (
        Filters(tag=tag, agent=week.bob.pk),
        Filters(tag=tag, channel="web"),
        Filters(agent=week.bob.pk, priority=2),
        Filters(organization=1, category=1),
    ):
        assert backlog.slice_for(filters) is None, filters


def test_today_s_slices_follow_the_snapshot(week, admin, django_capture_on_commit_callbacks):  # noqa: F811
    """Gina's D2 is solved on Fri 30 after the rebuild: the report of the week under her tag shows it
    open today until the scheduled snapshot runs, then as the history does."""
    filters = Filters(tag="dst")
    before = run(admin, PERIOD, filters).table.rows[-1]["total"]
    assert before == 1
    with Steps(django_capture_on_commit_callbacks).at(10, 30, 12, 30):
        solve(fresh(week.tickets["D2"]), week.bob)
    assert run(admin, PERIOD, filters).table.rows[-1]["total"] == 1, "today is the last snapshot's"
    with time_machine.travel(datetime(2026, 10, 30, 13, 0, tzinfo=ROME), tick=False):
        facts.snapshot_backlog()
        kept, history = both_ways(admin, PERIOD, filters)
    assert kept == history
    assert kept[0][-1]["total"] == 0


def test_the_rebuild_writes_the_slices_and_its_mark(week):  # noqa: F811
    assert BacklogSlice.objects.filter(kind=backlog.REBUILT).count() == 1
    kinds = set(BacklogSlice.objects.exclude(kind=backlog.REBUILT).values_list("kind", flat=True))
    assert kinds == {"agent", "organization", "tag", "field"}
    with time_machine.travel(NOW, tick=False):
        assert facts.rebuild_backlog() > 0
    assert BacklogSlice.objects.filter(kind=backlog.REBUILT).count() == 1


def test_an_empty_desk_s_rebuild_marks_the_slices_kept(db):
    assert facts.rebuild_backlog() == 0
    assert backlog.slice_for(Filters(tag="anything")) == ("tag", "")
