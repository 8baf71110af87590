"""The backlog under every filter: agent, tag, organization and custom field from the status history,
against figures computed by hand, and the same as the daily backlog where both can answer.

The week of tests/reports/scenario.py (site and reader in Europe/Rome), and three tickets of Gina
(gina@beta.test, organization Beta, tag "dst", web, no group, nobody assigned) around the end of
summer time (Sun 25 Oct, 03:00 CEST -> 02:00 CET):
  D1  Sat 24 10:00; solved Sun 25 23:30 CET (22:30 UTC): closed by the end of the 25th.
  D2  Sat 24 11:00; solved Sun 25 10:00; Gina writes again Mon 26 00:30 CET (Sun 23:30 UTC):
      reopened on the 26th (on the 25th by UTC's calendar), and stays open.
  D3  Sat 24 12:00; merged into D2 at 13:00: counted nowhere.
Custom field `product`: "Gadget" on T2 and D2.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from sportello.customers.models import Customer, Organization
from sportello.customers.services import Sender
from sportello.reports import facts
from sportello.reports.frame import REPORTS, Filters, ReportQuery, ReportResult
from sportello.reports.metrics import _backlog, _backlog_from_history
from sportello.reports.services import Period
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import Ticket
from sportello.tickets.services import merge_tickets
from tests.api.conftest import api_as
from tests.conftest import client_for
from tests.fields.conftest import make_field
from tests.reports.scenario import NOW, PERIOD, ROME, Steps, build, fresh, open_ticket, query, solve
from tests.reports.test_pages import cells, csv_rows, table_text

pytestmark = pytest.mark.django_db

WEEK = {"since": "2026-10-23", "until": "2026-10-30"}
DAYS = [f"2026-10-{day}" for day in range(23, 31)]


@pytest.fixture
def week(settings, django_capture_on_commit_callbacks, agent, agent2, first_level, second_level):  # type: ignore[no-untyped-def]
    settings.TIME_ZONE = "Europe/Rome"  # the site's days
    found = build(django_capture_on_commit_callbacks, agent, agent2, first_level, second_level)
    beta = Organization.objects.create(name="Beta", domain="beta.test")
    steps = Steps(django_capture_on_commit_callbacks)
    gina: dict[str, Ticket] = {}
    with steps.at(10, 24, 10):
        gina["D1"] = open_ticket("gina@beta.test", "Gina", "web", "Screen", tags=["dst"])
    Customer.objects.filter(pk=gina["D1"].customer_id).update(organization=beta)
    with steps.at(10, 24, 11):
        gina["D2"] = open_ticket("gina@beta.test", "Gina", "web", "Keyboard", tags=["dst"])
    with steps.at(10, 24, 12):
        gina["D3"] = open_ticket("gina@beta.test", "Gina", "web", "Keyboard again", tags=["dst"])
    with steps.at(10, 24, 13):
        merge_tickets(fresh(gina["D3"]), fresh(gina["D2"]), agent2)
    with steps.at(10, 25, 10):
        solve(gina["D2"], agent2)
    with steps.at(10, 25, 23, 30):
        solve(gina["D1"], agent2)
    with steps.at(10, 26, 0, 30):
        ingest(Inbound(channel="web", sender=Sender(name="Gina", email="gina@beta.test"),
                       body_text="Still broken", ticket=fresh(gina["D2"]), acknowledge=False))  # fmt: skip
    make_field("product", "choice", choices=["Widget", "Gadget"])
    Ticket.objects.filter(pk__in=[found.tickets["T2"].pk, gina["D2"].pk]).update(custom_fields={"product": "Gadget"})
    found.tickets.update({name: fresh(ticket) for name, ticket in gina.items()})
    facts.refresh([ticket.pk for ticket in found.tickets.values()])  # Gina's organization in every fact
    with time_machine.travel(NOW, tick=False):
        facts.rebuild_backlog()
    return found


def run(reader, **filters: Any) -> ReportResult:  # type: ignore[no-untyped-def]
    with timezone.override(ROME):
        return REPORTS["backlog"][1](query(**filters), reader)


def days(result: ReportResult) -> dict[str, tuple[int, int, int, int]]:
    """Day -> (new, open, pending, on hold), the days with any."""
    return {
        row["day"]: (row["new"], row["open"], row["pending"], row["on_hold"])
        for row in result.table.rows
        if row["total"]
    }


def totals(result: ReportResult) -> list[int]:
    return [row["total"] for row in result.table.rows]


def figures(result: ReportResult) -> dict[str, tuple[object, object]]:
    return {figure.key: (figure.value, figure.previous) for figure in result.figures}


def test_gina_s_tickets_are_as_described(week):
    tickets = week.tickets
    assert (tickets["D1"].state, tickets["D2"].state) == ("solved", "open")
    assert tickets["D3"].merged_into_id == tickets["D2"].pk
    assert {tickets[name].customer.organization.name for name in ("D1", "D2", "D3")} == {"Beta"}


def test_by_agent_the_assignee_s_tickets_open_at_the_end_of_each_day(week, admin):
    """Alice holds T1 (new from Fri 23 17:00, solved Mon 26), T2 (new from Tue 27, replied and solved
    Thu 29 10:00, reopened 15:00: open at the end of the 29th, solved Fri 30) and, before, T0 (open
    at the end of Tue 20 only)."""
    result = run(admin, agent=week.alice.pk)
    assert days(result) == {
        "2026-10-23": (1, 0, 0, 0), "2026-10-24": (1, 0, 0, 0), "2026-10-25": (1, 0, 0, 0),
        "2026-10-27": (1, 0, 0, 0), "2026-10-28": (1, 0, 0, 0), "2026-10-29": (0, 1, 0, 0),
    }  # fmt: skip
    assert figures(result) == {"open_at_end": (0, 0), "average": (0.8, 0.1)}  # 6/8; 1/8
    assert "ignored_filters" not in result.extra
    # Bob holds T3 (open from Mon 26) and T5 (opened and solved on Wed 28: open at no day's end).
    assert totals(run(admin, agent=week.bob.pk)) == [0, 0, 0, 1, 1, 1, 1, 1]


def test_a_period_that_ends_before_a_ticket_s_first_status_change(week, admin):
    """Sun 18 to Sun 25: T1's first change of status is its solve on Mon 26, after the period; it was
    new (its status before that change) at the end of the 23rd, 24th and 25th, not solved as now."""
    with timezone.override(ROME):
        result = REPORTS["backlog"][1](ReportQuery(Period(date(2026, 10, 18), date(2026, 10, 25)),
                                                   Filters(agent=week.alice.pk)), admin)  # fmt: skip
    assert totals(result) == [0, 0, 1, 0, 0, 1, 1, 1]  # T0 on Tue 20, T1 from Fri 23
    assert figures(result)["open_at_end"] == (1, 0)


def test_by_tag_and_organization_across_the_change_of_summer_time(week, admin):
    """D1 and D2 new at the end of Sat 24; both solved on Sun 25 (D1 at 23:30 CET: not open at the end
    of the 25th, though 23:30 would be past midnight in summer time); D2 reopened Mon 26 00:30 CET,
    open since (UTC would put that on the 25th). D3, merged, counts nowhere."""
    expected = {"2026-10-24": (2, 0, 0, 0), **{day: (0, 1, 0, 0) for day in DAYS[3:]}}
    for filters in ({"tag": "dst"}, {"organization": Organization.objects.get(name="Beta").pk}):
        result = run(admin, **filters)
        assert days(result) == expected, filters
        assert figures(result) == {"open_at_end": (1, 0), "average": (0.9, 0.0)}  # 7/8
        assert result.extra["by_group"].rows == [{"group": "", "name": "No group", "open": 1}]
        assert "ignored_filters" not in result.extra
    # Acme's only ticket (T5) opened and was solved on Wed 28.
    assert totals(run(admin, organization=Organization.objects.get(name="Acme").pk)) == [0] * 8
    # Tag and group together: T3 and T5 carry "printer" and are the second level's.
    assert totals(run(admin, tag="printer", group=week.tickets["T3"].group_id)) == [0, 0, 0, 1, 1, 1, 1, 1]
    assert totals(run(admin, tag="printer", group=week.tickets["T1"].group_id)) == [0] * 8


def test_by_custom_field(week, admin):
    """Gadget: D2 (new on the 24th, reopened on the 26th) and T2 (new 27, 28; reopened on the 29th)."""
    result = run(admin, custom=(("product", "Gadget"),))
    assert days(result) == {
        "2026-10-24": (1, 0, 0, 0), "2026-10-26": (0, 1, 0, 0), "2026-10-27": (1, 1, 0, 0),
        "2026-10-28": (1, 1, 0, 0), "2026-10-29": (0, 2, 0, 0), "2026-10-30": (0, 1, 0, 0),
    }  # fmt: skip
    assert "ignored_filters" not in result.extra
    assert totals(run(admin, custom=(("product", "Widget"),))) == [0] * 8


def test_a_restricted_agent_counts_only_their_groups_tickets(week, restricted_agent):
    """Rita sees the second level: T3 of the "printer" tickets; none of Gina's (no group)."""
    assert totals(run(restricted_agent, tag="printer")) == [0, 0, 0, 1, 1, 1, 1, 1]
    assert totals(run(restricted_agent, tag="dst")) == [0] * 8


@pytest.mark.parametrize("period", [PERIOD, Period(date(2026, 10, 18), date(2026, 10, 25))])
@pytest.mark.parametrize(
    "chosen",
    [
        {},
        {"group": "first"},
        {"group": "second"},
        {"group": "first", "channel": "email"},
        {"channel": "web"},
        {"priority": 4},
        {"priority": 2, "channel": "web"},
    ],
)
def test_the_history_gives_the_daily_backlog_where_both_answer(week, admin, chosen, period):
    """Filters the daily backlog keeps, counted both ways: the same days, states and groups (this
    week and the one before, which ends before some tickets' first change of status)."""
    groups = {"first": week.tickets["T1"].group_id, "second": week.tickets["T3"].group_id}
    filters = Filters(**{key: groups.get(value, value) if key == "group" else value for key, value in chosen.items()})
    report_query = ReportQuery(period, filters)
    with timezone.override(ROME):
        days_now, by_group, previous = _backlog_from_history(report_query, admin)
        assert (days_now, by_group) == _backlog(report_query, admin, period)
        assert previous == _backlog(report_query, admin, report_query.previous)[0]


def test_the_page_the_csv_and_the_api_give_the_same_backlog(week, admin):
    admin.time_zone = "Europe/Rome"
    admin.save()
    params = {**WEEK, "tag": "dst", "agent": "", "cf_product": "Gadget"}
    result = run(admin, tag="dst", custom=(("product", "Gadget"),))
    assert totals(result) == [0, 1, 0, 1, 1, 1, 1, 1]  # D2 alone
    client = client_for(admin)
    page = client.get("/reports/backlog", params)
    assert page.status_code == 200
    html = page.content.decode()
    found = cells(html)
    assert found.tables["report-table"] == table_text(result.table)
    assert "These filters do not apply" not in html
    rows = csv_rows(client.get("/reports/backlog", {**params, "format": "csv"}))
    assert rows == [[key for key, _label in result.table.columns], *table_text(result.table)]
    body = api_as(admin).get("/reports/backlog", {**WEEK, "tag": "dst", "custom": "product:Gadget"}).json()
    assert body["table"]["rows"] == result.table.rows
    assert [(f["key"], f["value"], f["previous"]) for f in body["figures"]] == [
        (f.key, f.value, f.previous) for f in result.figures
    ]
    assert "ignored_filters" not in body["extra"]
