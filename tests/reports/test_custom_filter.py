"""Reports narrowed by a ticket custom field: on the page (`cf_<key>`), in the API (`custom=key:value`),
in every metric report (from the values the facts keep), refused when unknown."""

from __future__ import annotations

import pytest
from django.utils import timezone

from sportello.reports import facts
from sportello.reports.frame import REPORTS
from sportello.tickets.models import Ticket
from tests.api.conftest import api_as
from tests.conftest import client_for
from tests.fields.conftest import make_field
from tests.reports.scenario import ROME, build, query

pytestmark = pytest.mark.django_db

WEEK = {"since": "2026-10-23", "until": "2026-10-30"}


@pytest.fixture
def week(django_capture_on_commit_callbacks, agent, agent2, first_level, second_level):  # type: ignore[no-untyped-def]
    found = build(django_capture_on_commit_callbacks, agent, agent2, first_level, second_level)
    make_field("product", "choice", choices=["Widget", "Gadget"])
    make_field("order_number", "text")
    Ticket.objects.filter(pk=found.tickets["T5"].pk).update(custom_fields={"product": "Gadget"})
    Ticket.objects.filter(pk=found.tickets["T3"].pk).update(custom_fields={"product": "Widget", "order_number": "A-77"})
    facts.refresh([found.tickets["T5"].pk, found.tickets["T3"].pk])  # the facts keep the values
    return found


def created(slug: str, reader, **custom: str) -> object:  # type: ignore[no-untyped-def]
    with timezone.override(ROME):
        result = REPORTS[slug][1](query(custom=tuple(sorted(custom.items()))), reader)
    return {f.key: f.value for f in result.figures}


def test_every_metric_report_takes_a_custom_field(week, admin):
    assert created("volume", admin, product="Gadget")["created"] == 1  # T5
    assert created("volume", admin, product="Widget")["created"] == 1  # T3
    assert created("volume", admin, order_number="a-7")["created"] == 1  # part of a text, any case
    assert created("response-times", admin, product="Gadget")["first_response_seconds_median"] == 1800.0
    assert created("agents", admin, product="Gadget")["solved"] == 1
    assert created("top-customers", admin, product="Gadget")["requests"] == 1
    assert created("sla", admin, product="Widget")["breached"] == 0
    with timezone.override(ROME):
        backlog = REPORTS["backlog"][1](query(custom=(("product", "Gadget"),)), admin)
    assert "ignored_filters" not in backlog.extra  # the backlog applies it too (tests/reports/test_backlog_filters.py)


def test_the_api_takes_key_value_pairs_and_refuses_unknown_ones(week, admin):
    api = api_as(admin)
    answer = api.get("/reports/volume", {**WEEK, "custom": "product:Gadget"})
    assert answer.status_code == 200, answer.content
    assert {f["key"]: f["value"] for f in answer.json()["figures"]}["created"] == 1
    assert api.get("/reports/volume", {**WEEK, "custom": "colour:red"}).status_code == 422
    assert api.get("/reports/volume", {**WEEK, "custom": "product:Nothing"}).status_code == 422
    assert api.get("/reports/volume", {**WEEK, "custom": "no-colon"}).status_code == 422


def test_the_page_takes_cf_parameters_and_keeps_them_in_its_links(week, agent):
    client = client_for(agent)
    page = client.get("/reports/volume", {**WEEK, "cf_product": "Gadget"})
    assert page.status_code == 200
    assert "cf_product=Gadget" in page.content.decode()  # the CSV link and the subscribe form keep it
    refused = client.get("/reports/volume", {**WEEK, "cf_colour": "red"})
    assert refused.status_code == 400
    assert "colour" in refused.content.decode()
