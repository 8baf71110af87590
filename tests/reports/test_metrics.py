"""Every metric report against figures computed by hand from tests/reports/scenario.py.

The facts are kept by the outbox listeners as the scenario happens (each step delivers its events),
so these tests also prove the listeners; `test_a_rebuild_gives_the_same_facts` proves the rebuild.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from sportello.reports import facts
from sportello.reports.frame import REPORTS, Granularity, ReportResult
from sportello.reports.metrics import percentile
from sportello.reports.models import Activity, BacklogDay, TicketFact
from tests.reports.scenario import NOW, ROME, build, query

pytestmark = pytest.mark.django_db


@pytest.fixture
def week(django_capture_on_commit_callbacks, agent, agent2, first_level, second_level):
    return build(django_capture_on_commit_callbacks, agent, agent2, first_level, second_level)


def run(slug: str, reader, zone=ROME, **options) -> ReportResult:  # type: ignore[no-untyped-def]
    with timezone.override(zone):
        return REPORTS[slug][1](query(**options), reader)


def figures(result: ReportResult) -> dict[str, tuple[object, object]]:
    return {figure.key: (figure.value, figure.previous) for figure in result.figures}


def column(result: ReportResult, key: str) -> dict[str, object]:
    return dict(zip(result.axis, next(s.values for s in result.series if s.key == key), strict=True))


def test_percentile_is_percentile_cont():
    assert percentile([0, 3600, 7200, 34200], 0.5) == 5400
    assert percentile([0, 3600, 7200, 34200], 0.9) == pytest.approx(26100)
    assert percentile([5], 0.9) == 5
    assert percentile([], 0.5) is None


def test_facts_of_a_reopened_ticket_measure_to_its_last_solve(week):
    t2 = TicketFact.objects.get(pk=week.tickets["T2"].pk)
    # Tue 09:00 -> Fri 11:00 is 74 h; business: Tue 9 h + Wed holiday 0 + Thu 9 h + Fri 2 h = 20 h.
    assert (t2.resolution_seconds, t2.resolution_business_seconds) == (74 * 3600, 20 * 3600)
    assert t2.solved_at == week.tickets["T2"].solved_at
    assert timezone.localtime(t2.solved_at, ROME).day == 30
    # First response Thu 09:30: 48.5 h, business Tue 9 h + Thu 0.5 h (Wed is a holiday).
    assert (t2.first_response_seconds, t2.first_response_business_seconds) == (174600, 34200)
    assert (t2.reopens, t2.replies, t2.one_touch) == (1, 2, False)
    assert (t2.sla_first_response, t2.sla_resolution) == ("breached", "met")


def test_facts_across_the_change_of_summer_time(week):
    t1 = TicketFact.objects.get(pk=week.tickets["T1"].pk)
    # Fri 17:00 CEST -> Mon 10:00 CET: 65 h on the wall clock, 66 h elapsed.
    assert (t1.first_response_seconds, t1.first_response_business_seconds) == (66 * 3600, 2 * 3600)
    assert (t1.resolution_seconds, t1.resolution_business_seconds) == (68 * 3600, 4 * 3600)
    assert (t1.replies, t1.notes, t1.time_spent, t1.one_touch) == (1, 1, 15, True)


def test_merged_ticket_counted_once(week):
    assert TicketFact.objects.get(pk=week.tickets["T4"].pk).merged is True
    t3 = TicketFact.objects.get(pk=week.tickets["T3"].pk)
    assert (t3.merged, t3.replies, t3.state) == (False, 1, "open")


def test_volume(week, admin):
    result = run("volume", admin)
    assert figures(result) == {"created": (5, 1), "solved": (3, 1), "reopened": (1, 0)}
    assert column(result, "created") == {
        "2026-10-23": 1, "2026-10-24": 0, "2026-10-25": 1, "2026-10-26": 1,
        "2026-10-27": 1, "2026-10-28": 1, "2026-10-29": 0, "2026-10-30": 0,
    }  # fmt: skip
    # T2 was solved on the 29th and again on the 30th: counted once, at its last solve.
    assert column(result, "solved") == dict.fromkeys(result.axis, 0) | {"2026-10-26": 1, "2026-10-28": 1,
                                                                         "2026-10-30": 1}  # fmt: skip
    assert column(result, "reopened")["2026-10-29"] == 1
    by_channel = {row["key"]: (row["created"], row["previous"]) for row in result.extra["by_channel"].rows}
    assert by_channel == {"email": (2, 1), "web": (3, 0)}
    assert [(row["key"], row["created"]) for row in result.extra["by_tag"].rows] == [("printer", 2), ("login", 0)]
    weekly = run("volume", admin, granularity=Granularity.WEEK)
    assert weekly.axis == ["2026-10-23", "2026-10-26"]
    assert column(weekly, "created") == {"2026-10-23": 2, "2026-10-26": 3}
    assert weekly.table.rows[1] == {"period": "2026-10-26", "created": 3, "solved": 3, "reopened": 1}


def test_volume_days_are_the_readers_days(week, admin):
    """T6 came at 00:30 on Sunday in Rome, 22:30 on Saturday in UTC."""
    assert column(run("volume", admin), "created")["2026-10-25"] == 1
    in_utc = column(run("volume", admin, zone=ZoneInfo("UTC")), "created")
    assert (in_utc["2026-10-24"], in_utc["2026-10-25"]) == (1, 0)


def test_volume_filters(week, admin):
    assert figures(run("volume", admin, channel="web"))["created"] == (3, 0)
    assert figures(run("volume", admin, tag="printer"))["created"] == (2, 0)
    assert figures(run("volume", admin, agent=week.alice.pk))["created"] == (2, 1)
    assert figures(run("volume", admin, priority=4))["created"] == (1, 0)
    acme = week.tickets["T5"].customer.organization_id
    assert figures(run("volume", admin, organization=acme))["created"] == (1, 0)


def test_response_times(week, admin):
    found = figures(run("response-times", admin))
    # First response, tickets created in the period (T1, T2, T3, T5; T6 has none):
    # business [0, 3600, 7200, 34200], calendar [1800, 3600, 174600, 237600].
    assert found["first_response_business_seconds_median"] == (5400.0, 32400.0)
    assert found["first_response_business_seconds_p90"] == (26100.0, 32400.0)
    assert found["first_response_seconds_median"] == (89100.0, 86400.0)
    assert found["first_response_seconds_p90"] == (218700.0, 86400.0)
    # Resolution, tickets solved in the period (T1, T2 at its last solve, T5):
    # business [0, 14400, 72000], calendar [3600, 244800, 266400].
    assert found["resolution_business_seconds_median"] == (14400.0, 32400.0)
    assert found["resolution_business_seconds_p90"] == (60480.0, 32400.0)
    assert found["resolution_seconds_median"] == (244800.0, 86400.0)
    assert found["resolution_seconds_p90"] == (262080.0, 86400.0)
    assert found["replies_per_ticket"] == (1.3, 1.0)  # 4 replies on 3 solved tickets
    assert found["one_touch_percent"] == (66.7, 100.0)  # T1 and T5; T2 was reopened


def test_response_times_per_group_and_agent(week, admin):
    rows = {(row["kind"], row["name"]): row for row in run("response-times", admin).table.rows}
    second = rows[("group", "Second level")]
    # T3 (3600) and T5 (0); resolution: T5 only.
    assert (second["first_response_business_seconds_median"], second["first_response_business_seconds_p90"]) == (
        1800.0,
        3240.0,
    )
    assert (second["solved"], second["resolution_seconds_median"], second["one_touch_percent"]) == (1, 3600.0, 100.0)
    alice = rows[("agent", week.alice.display_name)]
    assert (alice["solved"], alice["first_response_seconds_median"]) == (2, (237600 + 174600) / 2)


def test_sla(week, admin):
    result = run("sla", admin)
    found = figures(result)
    # First response: met T1, T3, T5, breached T2; resolution: met T1, T2, T5 (T3, T6 still open).
    assert found["compliance_percent"] == (85.7, 50.0)
    assert found["breached"] == (1, 1)
    assert found["first_response_percent"] == (75.0, 0.0)
    assert found["resolution_percent"] == (100.0, 100.0)
    assert found["next_response_percent"] == (None, None)
    rows = {(row["kind"], row["name"], row["target"]): (row["met"], row["breached"]) for row in result.table.rows}
    assert rows[("policy", "Default", "first_response")] == (3, 1)
    assert rows[("group", "First level", "first_response")] == (1, 1)
    assert rows[("group", "Second level", "resolution")] == (1, 0)
    assert rows[("agent", week.alice.display_name, "resolution")] == (2, 0)
    number = week.tickets["T2"].number
    assert result.extra["breaches"].rows == [
        {"ticket": number, "url": f"/tickets/{number}/", "target": "first_response",
         "created_at": "2026-10-27T09:00:00+01:00", "group": "First level", "agent": week.alice.display_name}
    ]  # fmt: skip


def test_agents(week, admin):
    result = run("agents", admin)
    rows = {row["name"]: row for row in result.table.rows}
    alice, bob = rows[week.alice.display_name], rows[week.bob.display_name]
    assert (alice["rank"], alice["solved"], alice["replies"], alice["notes"], alice["handle_seconds"]) == (
        1, 2, 3, 1, 25 * 60)  # fmt: skip
    assert (alice["assigned"], alice["open_now"]) == (2, 0)
    assert (bob["rank"], bob["solved"], bob["replies"], bob["notes"], bob["assigned"], bob["open_now"]) == (
        2, 1, 2, 0, 2, 1)  # fmt: skip
    assert figures(result) == {
        "solved": (3, 1), "replies": (5, 1), "notes": (1, 0), "handle_seconds": (1500, 0), "chats": (0, 0)
    }  # fmt: skip
    assert column(result, f"assigned_{week.bob.pk}")["2026-10-28"] == 1


def test_top_customers(week, admin):
    result = run("top-customers", admin)
    assert figures(result) == {"requests": (5, 1), "customers": (4, 1)}
    customers = {row["name"]: (row["requests"], row["previous"]) for row in result.table.rows}
    assert customers["Carla"] == (2, 1) and result.table.rows[0]["name"] == "Carla"
    assert sorted(customers.values()) == [(1, 0), (1, 0), (1, 0), (2, 1)]
    assert [(row["name"], row["requests"]) for row in result.extra["organizations"].rows] == [("Acme", 1)]
    senders = {row["name"]: row["requests"] for row in result.extra["senders"].rows}
    assert senders == {"example.com": 3, "acme.test": 1, "other.test": 1}


def test_trends(week, admin):
    result = run("trends", admin)
    assert [(row["kind"], row["name"], row["count"], row["previous"]) for row in result.table.rows] == [
        ("tag", "printer", 2, 0)
    ]
    assert figures(result) == {"rising": (1, None), "falling": (1, None)}


@override_settings(TIME_ZONE="Europe/Rome")
def test_backlog_rebuilt_from_history(week, admin):
    with time_machine.travel(NOW, tick=False):
        facts.rebuild_backlog()
    result = run("backlog", admin)
    totals = {row["day"]: (row["new"], row["open"], row["total"]) for row in result.table.rows}
    assert totals == {
        "2026-10-23": (1, 0, 1), "2026-10-24": (1, 0, 1), "2026-10-25": (2, 0, 2), "2026-10-26": (1, 1, 2),
        "2026-10-27": (2, 1, 3), "2026-10-28": (2, 1, 3), "2026-10-29": (1, 2, 3), "2026-10-30": (1, 1, 2),
    }  # fmt: skip
    assert figures(result)["open_at_end"] == (2, 0)
    second = run("backlog", admin, group=week.tickets["T3"].group_id)
    assert [row["total"] for row in second.table.rows] == [0, 0, 0, 1, 1, 1, 1, 1]
    # The scheduled snapshot of today agrees with the history.
    rebuilt = sorted(BacklogDay.objects.filter(day=date(2026, 10, 30)).values_list("state", "group_id", "count"))
    with time_machine.travel(NOW, tick=False):
        facts.snapshot_backlog()
    assert (
        sorted(BacklogDay.objects.filter(day=date(2026, 10, 30)).values_list("state", "group_id", "count")) == rebuilt
    )


def test_a_restricted_agent_sees_only_the_figures_of_their_groups(week, restricted_agent):
    """Rita is restricted to the second level: T3 and T5 only."""
    assert figures(run("volume", restricted_agent))["created"] == (2, 0)
    found = figures(run("response-times", restricted_agent))
    assert found["first_response_business_seconds_median"] == (1800.0, None)
    assert figures(run("sla", restricted_agent))["breached"] == (0, 0)
    names = {row["name"] for row in run("agents", restricted_agent).table.rows}
    assert names == {week.bob.display_name}
    assert {row["name"] for row in run("top-customers", restricted_agent).table.rows} == {"Dan", "Erin"}


def test_a_rebuild_gives_the_same_facts(week):
    def snapshot():  # type: ignore[no-untyped-def]
        rows = list(TicketFact.objects.order_by("pk").values())
        for row in rows:
            row.pop("updated_at")
        return rows, sorted(Activity.objects.values_list("fact_id", "kind", "agent_id", "at", "time_spent"))

    kept = snapshot()
    TicketFact.objects.all().delete()
    progress = list(facts.rebuild(batch=3))
    assert progress[-1].tickets == 7 and progress[-1].last == max(t.pk for t in week.tickets.values())
    assert snapshot() == kept
    # Delivered twice (a redelivered batch): the same rows.
    facts.refresh([t.pk for t in week.tickets.values()])
    assert snapshot() == kept


def test_response_time_medians_per_week(week, admin):
    """Week of the 23rd (cut by the period): T1 7200 s; week of the 26th: T3 3600, T2 34200, T5 0."""
    result = run("response-times", admin, granularity=Granularity.WEEK)
    assert column(result, "first_response_business_median") == {"2026-10-23": 7200.0, "2026-10-26": 3600.0}
    assert column(result, "resolution_business_median") == {"2026-10-23": None, "2026-10-26": 14400.0}
