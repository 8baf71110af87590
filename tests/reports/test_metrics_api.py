"""The metric reports through the API: the same figures as the functions, agents only, 422 on bad input."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sportello.reports import facts
from sportello.reports.frame import REPORTS
from sportello.reports.metrics import SLUGS
from tests.api.conftest import api_as
from tests.reports.scenario import ROME, build, query

pytestmark = pytest.mark.django_db

WEEK = {"since": "2026-10-23", "until": "2026-10-30"}


@pytest.fixture
def week(django_capture_on_commit_callbacks, agent, agent2, first_level, second_level):
    return build(django_capture_on_commit_callbacks, agent, agent2, first_level, second_level)


@pytest.fixture
def roman(admin):
    admin.time_zone = "Europe/Rome"
    admin.save()
    return admin


@pytest.mark.parametrize("slug", SLUGS)
def test_the_api_gives_the_functions_figures(week, roman, slug):
    answer = api_as(roman).get(f"/reports/{slug}", {**WEEK, "granularity": "week"})
    assert answer.status_code == 200, answer.content
    body = answer.json()
    with timezone.override(ROME):
        result = REPORTS[slug][1](query(granularity="week"), roman)  # type: ignore[arg-type]
    assert body["period"] == {"since": "2026-10-23", "until": "2026-10-30", "time_zone": "Europe/Rome"}
    assert body["previous"] == {"since": "2026-10-15", "until": "2026-10-22", "time_zone": "Europe/Rome"}
    assert body["granularity"] == "week"
    assert [(f["key"], f["value"], f["previous"]) for f in body["figures"]] == [
        (f.key, f.value, f.previous) for f in result.figures
    ]
    assert body["axis"] == result.axis
    assert [(s["key"], s["values"]) for s in body["series"]] == [(s.key, s.values) for s in result.series]
    assert [c["key"] for c in body["table"]["columns"]] == [key for key, _label in result.table.columns]
    assert body["table"]["rows"] == result.table.rows
    assert set(body["extra"]) == set(result.extra)


def test_filters_and_visibility_through_the_api(week, roman, restricted_agent):
    created = {
        f["key"]: f["value"] for f in api_as(roman).get("/reports/volume", {**WEEK, "channel": "web"}).json()["figures"]
    }
    assert created["created"] == 3
    restricted = api_as(restricted_agent).get("/reports/volume", WEEK).json()
    assert {f["key"]: f["value"] for f in restricted["figures"]}["created"] == 2
    breaches = api_as(roman).get("/reports/sla", WEEK).json()["extra"]["breaches"]["rows"]
    assert [row["ticket"] for row in breaches] == [week.tickets["T2"].number]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"granularity": "year"}, "granularity"),
        ({"priority": "9"}, "priority"),
        ({"channel": "fax"}, "channel"),
        ({"group": "first"}, "group"),
        ({"tag": "x" * 51}, "tag"),
        ({"since": "2026-13-01"}, "since"),
        ({"agent": str(2**64)}, "agent"),  # no key is that large (SQLite could not even compare it)
        ({"organization": str(2**63)}, "organization"),
    ],
)
def test_bad_parameters_are_422(admin, params, field):
    answer = api_as(admin).get("/reports/volume", params)
    assert answer.status_code == 422
    assert [error["loc"][-1] for error in answer.json()["errors"]] == [field]


@pytest.mark.parametrize(
    "params", [{"since": "2026-10-30", "until": "2026-10-01"}, {"since": "2020-01-01", "until": "2026-01-01"}]
)
def test_a_bad_period_is_422_with_a_message(admin, params):
    answer = api_as(admin).get("/reports/agents", params)
    assert answer.status_code == 422
    assert answer.json()["detail"]


def test_customers_are_refused(customer_user):
    assert api_as(customer_user).get("/reports/trends").status_code == 403


def test_the_listener_reads_a_batch_in_a_constant_number_of_queries(week):
    """refresh() of one ticket and of all seven costs the same statements (no query per ticket)."""
    ids = [ticket.pk for ticket in week.tickets.values()]
    with CaptureQueriesContext(connection) as one:
        facts.refresh(ids[:1])
    with CaptureQueriesContext(connection) as all_of_them:
        facts.refresh(ids)
    assert len(all_of_them) == len(one)
