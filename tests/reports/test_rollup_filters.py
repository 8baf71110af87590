"""The roll-up under an organization, a custom field, and the agents report's channel, priority and
category filters: kept by the listeners (equal to a rebuild), the same figures as the facts, the
hand-counted ones, and rows that move with the tickets (a customer moving, a value changed, an
option renamed).

The week of tests/reports/scenario.py, with these values set on Friday the 30th at noon:
  product (choice):      T1 Widget, T3 Widget, T5 Gadget
  colours (multichoice): T1 Red and Blue, T2 Red
  gift (checkbox):       T2 ticked
  order_number (text):   T3 "A-77"
and T5's customer (Erin) in the organization Acme.
"""

from __future__ import annotations

from typing import Any

import pytest
import time_machine
from django.test import override_settings

from sportello.core.errors import InvalidInput
from sportello.customers.models import Organization
from sportello.fields.models import CustomField
from sportello.reports import rollup
from sportello.reports.frame import Granularity
from sportello.reports.models import ReportDaily, ResponseHistogram, TicketFact
from sportello.tickets.models import Ticket
from sportello.tickets.services import TicketChanges, update_ticket
from tests.api.conftest import api_as
from tests.conftest import client_for
from tests.fields.conftest import make_field
from tests.reports.scenario import NOW, build
from tests.reports.test_pages import as_text, cells, csv_rows, table_text
from tests.reports.test_rollup import ROLLED_UP, both_ways, histograms, near, rows, run

pytestmark = pytest.mark.django_db


@pytest.fixture
def week(django_capture_on_commit_callbacks, agent, agent2, first_level, second_level):  # type: ignore[no-untyped-def]
    make_field("product", "choice", choices=["Widget", "Gadget"])
    make_field("colours", "multichoice", choices=["Red", "Green", "Blue"])
    make_field("gift", "checkbox")
    make_field("order_number", "text")
    with override_settings(TIME_ZONE="Europe/Rome"):
        rollup.rebuild()  # built (empty) first: from here on the listeners keep it
        found = build(django_capture_on_commit_callbacks, agent, agent2, first_level, second_level)
        values = {
            "T1": {"product": "Widget", "colours": ["Red", "Blue"]},
            "T2": {"colours": ["Red"], "gift": True},
            "T3": {"product": "Widget", "order_number": "A-77"},
            "T5": {"product": "Gadget"},
        }
        with time_machine.travel(NOW, tick=False):
            for name, custom in values.items():
                change(django_capture_on_commit_callbacks, found.tickets[name], found.alice, custom_fields=custom)
        yield found


def change(capture, ticket: Ticket, actor, **changes: Any) -> None:  # type: ignore[no-untyped-def]
    with capture(execute=True):
        update_ticket(Ticket.objects.get(pk=ticket.pk), actor, TicketChanges(**changes))


def figures(slug: str, reader, **options: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {f.key: (f.value, f.previous) for f in both_ways(slug, reader, **options).figures}


def custom(**values: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(values.items()))


def acme() -> int:
    return Organization.objects.get(name="Acme").pk


def test_the_facts_keep_the_values_and_options(week):
    kept = dict(TicketFact.objects.values_list("ticket__number", "field_values"))
    t = {name: ticket.number for name, ticket in week.tickets.items()}
    assert kept[t["T1"]] == ["colours=Blue", "colours=Red", "product=Widget"]
    assert kept[t["T2"]] == ["colours=Red", "gift=yes"]
    assert kept[t["T3"]] == ["product=Widget"]  # the text field is not an option
    assert kept[t["T6"]] == []
    assert TicketFact.objects.get(pk=week.tickets["T3"].pk).custom_fields == {
        "product": "Widget",
        "order_number": "A-77",
    }


def test_the_listeners_keep_what_a_rebuild_computes(week):
    kept, kept_histograms = rows(), histograms()
    assert ReportDaily.objects.filter(grain="organization").exists()
    assert ReportDaily.objects.filter(grain="group+field").exists()
    assert ReportDaily.objects.filter(grain="actor+channel").exists()
    for grain in ("tag", "group+tag", "organization", "assignee+organization", "field", "group+field"):
        assert ResponseHistogram.objects.filter(grain=grain).exists(), grain
    rollup.rebuild()
    assert rows() == kept
    assert histograms() == kept_histograms


def test_an_organization_filter_holds_the_hand_counted_figures(week, admin):
    """Acme: T5 only (created, answered and solved on the 28th by bob; both targets met)."""
    assert figures("volume", admin, organization=acme()) == {"created": (1, 0), "solved": (1, 0), "reopened": (0, 0)}
    sla = figures("sla", admin, organization=acme())
    assert (sla["compliance_percent"], sla["breached"]) == ((100.0, None), (0, 0))
    agents = {row["name"]: row for row in both_ways("agents", admin, organization=acme()).table.rows}
    assert (agents[week.bob.display_name]["solved"], agents[week.bob.display_name]["replies"]) == (1, 1)
    assert agents.get(week.alice.display_name, {"solved": 0, "replies": 0})["solved"] == 0
    assert figures("volume", admin, organization=999999)["created"] == (0, 0)


def test_a_custom_field_filter_holds_the_hand_counted_figures(week, admin):
    # product Widget: T1 (created the 23rd, solved the 26th) and T3 (the 26th, open).
    assert figures("volume", admin, custom=custom(product="Widget")) == {
        "created": (2, 0),
        "solved": (1, 0),
        "reopened": (0, 0),
    }
    # colours Red: T1 and T2 (solved the 29th, reopened, solved again the 30th).
    assert figures("volume", admin, custom=custom(colours="Red")) == {
        "created": (2, 0),
        "solved": (2, 0),
        "reopened": (1, 0),
    }
    assert figures("volume", admin, custom=custom(gift="yes"))["reopened"] == (1, 0)  # T2
    # Not ticked (the facts answer: a ticket never ticked has no value): T1, T6, T3, T5; T0 before.
    assert figures("volume", admin, custom=custom(gift="no"))["created"] == (4, 1)
    assert figures("volume", admin, custom=custom(order_number="a-7"))["created"] == (1, 0)  # T3, part of the text
    agents = {row["name"]: row for row in both_ways("agents", admin, custom=custom(product="Widget")).table.rows}
    assert (agents[week.alice.display_name]["solved"], agents[week.alice.display_name]["replies"]) == (1, 1)
    assert (agents[week.bob.display_name]["solved"], agents[week.bob.display_name]["replies"]) == (0, 1)


def test_which_filters_the_roll_up_answers(week):
    from sportello.reports.frame import Filters
    from sportello.reports.services import Period
    from tests.reports.scenario import PERIOD

    period: Period = PERIOD
    with override_settings(TIME_ZONE="Europe/Rome"):
        from django.utils import timezone

        from tests.reports.scenario import ROME

        with timezone.override(ROME):
            for filters in (
                Filters(organization=acme()),
                Filters(organization=acme(), channel="web"),
                Filters(organization=acme(), tag="printer"),
                Filters(custom=custom(product="Widget")),
                Filters(custom=custom(colours="Red"), group=1),
                Filters(custom=custom(gift="yes"), tag="printer"),
            ):
                assert rollup.ticket_rows(filters, None, period) is not None, filters
            assert rollup.actor_rows(Filters(organization=acme()), None, period) is not None
            assert rollup.actor_rows(Filters(custom=custom(product="Widget")), None, period) is not None
            assert rollup.actor_rows(Filters(custom=custom(product="Widget"), group=1), None, period) is None
            for filters in (
                Filters(custom=custom(gift="no")),  # every ticket never ticked
                Filters(custom=custom(order_number="A-77")),  # a text
                Filters(custom=custom(product="Widget", colours="Red")),  # two fields
                Filters(custom=custom(product="Widget"), organization=acme()),
            ):
                assert rollup.ticket_rows(filters, None, period) is None, filters


@pytest.mark.parametrize("slug", ROLLED_UP)
@pytest.mark.parametrize("granularity", [Granularity.DAY, Granularity.WEEK])
def test_every_report_is_the_same_from_the_roll_up_and_the_facts(week, admin, slug, granularity):
    second = week.tickets["T3"].group_id
    filter_sets: list[dict[str, Any]] = [
        {"organization": acme()},
        {"organization": acme(), "group": second},
        {"organization": acme(), "agent": week.bob.pk},
        {"organization": acme(), "channel": "email"},
        {"organization": acme(), "tag": "printer"},
        {"organization": acme(), "priority": 4, "agent": week.bob.pk},  # the facts answer
        {"custom": custom(product="Widget")},
        {"custom": custom(product="Gadget"), "agent": week.bob.pk},
        {"custom": custom(colours="Red"), "group": week.tickets["T1"].group_id},
        {"custom": custom(colours="Blue"), "tag": "printer"},
        {"custom": custom(gift="yes"), "channel": "email"},
        {"custom": custom(gift="no")},
        {"custom": custom(order_number="A-77")},
        {"custom": custom(product="Widget", colours="Red")},
        {"agent": week.alice.pk, "channel": "email"},
        {"agent": week.bob.pk, "priority": 4},
        {"agent": week.bob.pk, "category": 999},
        {"channel": "web"},
        {"tag": "printer"},
    ]
    for filters in filter_sets:
        both_ways(slug, admin, granularity=granularity, **filters)


@pytest.mark.parametrize("slug", ROLLED_UP)
def test_a_restricted_agent_gets_the_same_figures_both_ways(week, restricted_agent, slug):
    both_ways(slug, restricted_agent, organization=acme())
    both_ways(slug, restricted_agent, custom=custom(product="Widget"))
    both_ways(slug, restricted_agent, channel="web")


def test_the_rows_move_with_the_tickets(week, admin, django_capture_on_commit_callbacks):
    """A customer moving to another organization, a value changed, an option renamed: the facts
    listener (and, for the customer, the save of the file) moves the ticket's rows."""
    from sportello.core import lookups

    with override_settings(TIME_ZONE="Europe/Rome"), time_machine.travel(NOW, tick=False):
        erin = week.tickets["T5"].customer
        erin.refresh_from_db()
        with django_capture_on_commit_callbacks(execute=True):
            erin.organization = Organization.objects.create(name="Beta", domain="beta.test")
            erin.save()
        beta = erin.organization.pk
        assert run("volume", admin, organization=acme()).figures[0].value == 0
        assert figures("volume", admin, organization=beta)["created"] == (1, 0)
        for slug in ROLLED_UP:
            both_ways(slug, admin, organization=beta)
            both_ways(slug, admin, organization=acme())
        # T3 Widget -> Gadget.
        change(django_capture_on_commit_callbacks, week.tickets["T3"], week.bob, custom_fields={"product": "Gadget"})
        assert figures("volume", admin, custom=custom(product="Widget"))["created"] == (1, 0)  # T1
        assert figures("volume", admin, custom=custom(product="Gadget"))["created"] == (2, 0)  # T3, T5
        # The option Gadget renamed Gizmo: the tickets still hold "Gadget", which is no longer a
        # filter; Gizmo counts the tickets set to it from then on.
        field = CustomField.objects.get(key="product")
        field.choices = ["Widget", "Gizmo"]
        field.save()
        lookups.forget()
        assert figures("volume", admin, custom=custom(product="Gizmo"))["created"] == (0, 0)
        with pytest.raises(InvalidInput):
            run("volume", admin, custom=custom(product="Gadget"))
        change(django_capture_on_commit_callbacks, week.tickets["T5"], week.bob, custom_fields={"product": "Gizmo"})
        assert figures("volume", admin, custom=custom(product="Gizmo"))["created"] == (1, 0)
        # A multiple choice loses an option, a checkbox is unticked.
        change(django_capture_on_commit_callbacks, week.tickets["T1"], week.alice, custom_fields={"colours": ["Blue"]})
        change(django_capture_on_commit_callbacks, week.tickets["T2"], week.alice, custom_fields={"gift": False})
        assert figures("volume", admin, custom=custom(colours="Red"))["created"] == (1, 0)  # T2
        assert figures("volume", admin, custom=custom(gift="yes"))["created"] == (0, 0)
        for slug in ROLLED_UP:
            for filters in ({"custom": custom(product="Gizmo")}, {"custom": custom(colours="Blue")}):
                both_ways(slug, admin, **filters)
        kept, kept_histograms = rows(), histograms()
        rollup.rebuild()
        assert rows() == kept
        assert histograms() == kept_histograms


# First response and resolution (calendar, business seconds) of the tickets under each filter, by
# hand: T3 answered after 1 h (in business hours), open; T5 answered after 30 min and solved after
# 1 h, all on the holiday; T1 answered after 66 h (2 h of business time) and solved after 68 h
# (4 h); T2 answered after 48.5 h (9.5 h) and last solved after 74 h (20 h).
HAND = {
    "tag printer (T3, T5)": (
        {"tag": "printer"},
        {"first_response_seconds": (2700, 3420), "first_response_business_seconds": (1800, 3240),
         "resolution_seconds": (3600, 3600), "resolution_business_seconds": (0, 0)},
    ),
    "Acme (T5)": (
        {"organization": "acme"},
        {"first_response_seconds": (1800, 1800), "first_response_business_seconds": (0, 0),
         "resolution_seconds": (3600, 3600), "resolution_business_seconds": (0, 0)},
    ),
    "colours Red (T1, T2)": (
        {"custom": custom(colours="Red")},
        {"first_response_seconds": (206100, 231300), "first_response_business_seconds": (20700, 31500),
         "resolution_seconds": (255600, 264240), "resolution_business_seconds": (43200, 66240)},
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", HAND)
def test_response_times_under_a_tag_an_organization_or_an_option_read_the_histograms(week, admin, name):
    """Medians and 90th percentiles from the histograms' tag, organization and field grains: the
    hand-computed ones within 2%, per group and per agent too, said so under Precision."""
    options, hand = HAND[name]
    options = {key: acme() if value == "acme" else value for key, value in options.items()}
    result = both_ways("response-times", admin, **options)
    assert result.extra["precision"].rows[0]["precision"].startswith("Read from daily histograms")
    found = {f.key: f.value for f in result.figures}
    for field, (median, p90) in hand.items():
        assert near(found[f"{field}_median"], median), (field, found[f"{field}_median"], median)
        assert near(found[f"{field}_p90"], p90), (field, found[f"{field}_p90"], p90)
        assert found[f"{field}_median"] != median or median < 64, "read from the buckets, not the facts"
    for kind in ("group", "agent"):
        mine = [row for row in result.table.rows if row["kind"] == kind]
        assert len(mine) == 1, (kind, result.table.rows)  # one group and one agent hold them all
        for field, (median, _p90) in hand.items():
            assert near(mine[0][f"{field}_median"], median), (kind, field)


def test_response_times_fall_back_to_the_facts_where_no_histogram_grain_fits(week, admin, restricted_agent):
    exact = "Exact (computed from every ticket)."
    for options in (
        {"custom": custom(gift="no")},
        {"tag": "printer", "channel": "web"},
        {"organization": acme(), "tag": "printer"},
        {"custom": custom(colours="Red"), "group": week.tickets["T1"].group_id},  # per agent: no grain
    ):
        assert run("response-times", admin, **options).extra["precision"].rows[0]["precision"] == exact, options
    # A reader restricted to groups: group and tag, but not group, agent and tag.
    assert run("response-times", restricted_agent, tag="printer").extra["precision"].rows[0]["precision"] == exact
    # One filter, or a group and an agent: every breakdown has a grain.
    for options in (
        {"channel": "web"},
        {"priority": 4},
        {"agent": week.bob.pk},
        {"group": week.tickets["T3"].group_id, "agent": week.bob.pk},
    ):
        precision = both_ways("response-times", admin, **options).extra["precision"].rows[0]["precision"]
        assert precision.startswith("Read from daily histograms"), options


def test_the_page_the_csv_and_the_api_give_the_same_response_times_under_an_option(week, admin):
    admin.time_zone = "Europe/Rome"
    admin.save()
    params = {"since": "2026-10-23", "until": "2026-10-30"}
    result = run("response-times", admin, custom=custom(colours="Red"))
    assert result.extra["precision"].rows[0]["precision"].startswith("Read from daily histograms")
    client = client_for(admin)
    page = client.get("/reports/response-times", {**params, "cf_colours": "Red"})
    assert page.status_code == 200
    found = cells(page.content.decode())
    assert found.tables["report-table"] == table_text(result.table)
    assert {key: f["data-value"] for key, f in found.figures.items()} == {
        f.key: as_text(f.value) for f in result.figures
    }
    rows = csv_rows(client.get("/reports/response-times", {**params, "cf_colours": "Red", "format": "csv"}))
    assert rows == [[key for key, _label in result.table.columns], *table_text(result.table)]
    body = api_as(admin).get("/reports/response-times", {**params, "custom": "colours:Red"}).json()
    assert body["table"]["rows"] == result.table.rows
    assert [(f["key"], f["value"]) for f in body["figures"]] == [(f.key, f.value) for f in result.figures]
    assert body["extra"]["precision"]["rows"] == result.extra["precision"].rows
