"""The admins' audit trail page /settings/audit/: filters, pages, CSV export; others refused."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sportello.audit.models import AuditEvent
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

URL = "/settings/audit/"


@pytest.fixture
def events(db) -> None:
    now = timezone.now()
    AuditEvent.objects.create(action="auth.sign_in_failed", actor_label="mallory", target_label="mallory")
    AuditEvent.objects.create(
        action="settings.changed",
        actor_label="ada_admin",
        target_label="Product (ticket)",
        before={"label": "Product"},
        after={"label": "=HYPERLINK(1)"},
        at=now - timedelta(days=3),
    )
    AuditEvent.objects.create(action="settings.changed", actor_label="bob", target_label="Urgent policy")


def shown_actions(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [event.action for event in response.context["page"]]


def test_newest_first_and_filtered_by_action_actor_text_and_dates(admin, events):
    client = client_for(admin)
    response = client.get(URL)
    assert response.status_code == 200
    # client_for signs the admin in, which is recorded too: newest of all
    labels = [event.target_label for event in response.context["page"] if event.action != "auth.sign_in"]
    assert labels[:2] == ["Urgent policy", "mallory"] and "Product (ticket)" in labels
    assert shown_actions(client.get(URL, {"action": "auth.sign_in_failed"})) == ["auth.sign_in_failed"]
    assert [e.target_label for e in client.get(URL, {"actor": "BOB"}).context["page"]] == ["Urgent policy"]
    assert [e.target_label for e in client.get(URL, {"q": "product"}).context["page"]] == ["Product (ticket)"]
    day = (timezone.localtime() - timedelta(days=3)).date().isoformat()
    assert [e.target_label for e in client.get(URL, {"since": day, "until": day}).context["page"]] == [
        "Product (ticket)"
    ]
    assert "Product (ticket)" in response.content.decode()


def test_bad_filters_are_a_clear_error(admin, events):
    client = client_for(admin)
    response = client.get(URL, {"since": "yesterday"})
    assert response.status_code == 400
    response = client.get(URL, {"since": "2026-02-02", "until": "2026-01-01", "action": "nope"})
    assert response.status_code == 400
    assert "must not be after" in response.content.decode()


def test_the_page_is_paginated_in_a_fixed_number_of_queries(admin):
    AuditEvent.objects.bulk_create([AuditEvent(action="export", target_label=f"row {i}") for i in range(120)])
    client = client_for(admin)
    client.get(URL, {"page": 2})  # warm up what the layout caches per process (not the page's concern)
    with CaptureQueriesContext(connection) as first:
        response = client.get(URL)
    assert len(response.context["page"]) == 50
    assert response.context["page"].paginator.num_pages == 3
    with CaptureQueriesContext(connection) as last:
        response = client.get(URL, {"page": 3})
    assert len(first.captured_queries) == len(last.captured_queries) <= 8
    assert len(response.context["page"]) == AuditEvent.objects.count() - 100


def test_csv_export_of_the_filtered_rows_is_itself_recorded(admin, events):
    client = client_for(admin)
    response = client.get(URL, {"action": "settings.changed", "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["target_label"] for row in rows] == ["Urgent policy", "Product (ticket)"]
    assert (rows[1]["before"], rows[1]["after"]) == ('{"label": "Product"}', '{"label": "=HYPERLINK(1)"}')
    assert rows[0]["actor"] == "bob"
    export = AuditEvent.objects.get(action="export")
    assert (export.actor, export.after) == (admin, {"action": "settings.changed"})


@pytest.mark.parametrize("persona", ["agent", "light_agent", "customer_user", "stranger"])
def test_agents_customers_and_strangers_are_refused(request, persona, events):
    client = client_for(request.getfixturevalue(persona))
    for params in ({}, {"format": "csv"}):
        assert client.get(URL, params).status_code == 403, persona
    assert not AuditEvent.objects.filter(action="export").exists()


def test_anonymous_visitors_go_to_sign_in(events):
    from django.test import Client

    response = Client().get(URL)
    assert response.status_code == 302 and "/login" in response["Location"]


def test_the_settings_area_links_admins_and_only_admins_to_the_trail(admin, agent):
    assert 'href="/settings/audit/"' in client_for(admin).get("/settings/").content.decode()
    assert client_for(agent).get("/settings/").status_code == 403
