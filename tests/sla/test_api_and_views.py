"""SLA in the API (calendars, policies, ticket state) and on the agent's screens (badges, filters)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sportello.sla.models import Calendar, Policy
from sportello.sla.services import sync_ticket_sla
from tests.api.conftest import api_as
from tests.conftest import client_for
from tests.sla.conftest import open_ticket, rome
from tests.web.conftest import listed_numbers, page_text

pytestmark = pytest.mark.django_db

CALENDAR = {
    "name": "Sofia office",
    "time_zone": "Europe/Sofia",
    "holiday_countries": "BG",
    "intervals": [{"weekday": d, "start": "09:00", "end": "17:30"} for d in range(5)],
    "holidays": [{"date": "2026-12-24", "name": "Christmas Eve", "yearly": True}],
}


def test_admin_creates_reads_updates_and_deletes_a_calendar(admin, agent):
    api = api_as(admin)
    response = api.post("/sla/calendars", CALENDAR)
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["holiday_countries"] == "BG" and len(created["intervals"]) == 5
    assert created["holidays"][0]["yearly"] is True
    path = f"/sla/calendars/{created['id']}"
    assert api_as(agent).get(path).json()["name"] == "Sofia office"
    updated = api.patch(path, {"intervals": [{"weekday": 5, "start": "10:00", "end": "00:00"}]}).json()
    assert updated["intervals"] == [{"weekday": 5, "start": "10:00:00", "end": "00:00:00"}]
    assert updated["holidays"]  # not given: kept
    assert api.get("/sla/calendars").json()[0]["id"] == created["id"]
    assert api.delete(path).status_code == 204
    assert not Calendar.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**CALENDAR, "time_zone": "Mars/Olympus"}, "time zone"),
        ({**CALENDAR, "holiday_countries": "XX"}, "Unknown holiday country"),
        ({**CALENDAR, "intervals": [{"weekday": 0, "start": "18:00", "end": "09:00"}]}, "end after it starts"),
        ({**CALENDAR, "intervals": [{"weekday": 7, "start": "09:00", "end": "10:00"}]}, "weekday"),
    ],
)
def test_bad_calendars_are_refused_with_a_clear_message(admin, body, field):
    response = api_as(admin).post("/sla/calendars", body)
    assert response.status_code == 422
    assert field in response.json()["detail"]


def test_calendar_in_use_cannot_be_deleted(admin, office, policy):
    response = api_as(admin).delete(f"/sla/calendars/{office.pk}")
    assert response.status_code == 409


def test_admin_manages_policies(admin, office, second_level):
    api = api_as(admin)
    body = {
        "name": "Second level VIP",
        "position": 5,
        "calendar": office.pk,
        "tiers": [2],
        "groups": [second_level.pk],
        "channels": ["email", "chat"],
        "tags": ["VIP"],
        "targets": [{"priority": 4, "first_response_minutes": 30, "resolution_minutes": 240}],
    }
    response = api.post("/sla/policies", body)
    assert response.status_code == 201, response.content
    policy = response.json()
    assert policy["tags"] == ["vip"] and policy["calendar"] == office.pk
    assert policy["targets"][0]["first_response_minutes"] == 30
    path = f"/sla/policies/{policy['id']}"
    changed = api.patch(path, {"active": False, "calendar": None}).json()
    assert changed["active"] is False and changed["calendar"] is None and changed["tiers"] == [2]
    assert api.post("/sla/policies", body).status_code == 409  # same name
    assert api.post("/sla/policies", {**body, "name": "x", "calendar": 999}).status_code == 422
    assert api.post("/sla/policies", {**body, "name": "y", "channels": ["pigeon"]}).status_code == 422
    assert api.delete(path).status_code == 204
    assert not Policy.objects.exists()


@pytest.mark.parametrize("who", ["agent", "light_agent", "customer_user", "stranger"])
def test_only_admins_change_calendars_and_policies(request, office, policy, who):
    api = api_as(request.getfixturevalue(who))
    assert api.post("/sla/calendars", {**CALENDAR, "name": "New"}).status_code == 403
    assert api.patch(f"/sla/calendars/{office.pk}", {"name": "Renamed"}).status_code == 403
    assert api.delete(f"/sla/calendars/{office.pk}").status_code == 403
    assert api.post("/sla/policies", {"name": "New"}).status_code == 403
    assert api.patch(f"/sla/policies/{policy.pk}", {"name": "Renamed"}).status_code == 403
    assert api.delete(f"/sla/policies/{policy.pk}").status_code == 403
    office.refresh_from_db()
    policy.refresh_from_db()
    assert office.name == "Business hours" and policy.name == "Default"


@pytest.mark.parametrize("who", ["customer_user", "stranger"])
def test_customers_and_strangers_cannot_read_sla_settings(request, office, policy, ticket, who):
    api = api_as(request.getfixturevalue(who))
    for path in ("/sla/calendars", f"/sla/calendars/{office.pk}", "/sla/policies", f"/sla/policies/{policy.pk}"):
        assert api.get(path).status_code == 403, path
    assert api.get(f"/tickets/{ticket.number}/sla").status_code == 403


def test_ticket_schema_carries_the_sla_state(agent, policy, clock):
    ticket = open_ticket()
    sync_ticket_sla(ticket.pk)
    api = api_as(agent)
    state = api.get(f"/tickets/{ticket.number}").json()["sla"]
    assert state["policy"] == policy.pk
    assert state["first_response_due"] == "2026-11-23T15:00:00Z"
    assert state["clocks"][0] == {
        "target": "first_response",
        "due": "2026-11-23T15:00:00Z",
        "seconds_left": 6 * 3600,
        "level": "ok",
    }
    assert api.get(f"/tickets/{ticket.number}/sla").json()["breached"] == []
    listed = api.get("/tickets", {"view": "open"}).json()["items"][0]
    assert listed["sla"]["next_due"] == "2026-11-23T15:00:00Z"


@pytest.fixture
def sla_spread(policy, clock):
    """Three tickets: one due in 6 h, one within the hour, one overdue; one without clocks."""
    relaxed = open_ticket("Relaxed", email="r@example.org")
    clock.move_to(rome(2026, 11, 23, 15, 30))
    soon = open_ticket("Soon", email="s@example.org")
    sync_ticket_sla(relaxed.pk)
    sync_ticket_sla(soon.pk)
    clock.move_to(rome(2026, 11, 24, 12))  # relaxed was due at 16:00 yesterday; soon is due at 12:30
    no_clock = open_ticket("No clock", email="n@example.org")
    return {"relaxed": relaxed, "soon": soon, "none": no_clock}


def test_inbox_filters_breaching_and_breached(agent, sla_spread):
    client = client_for(agent)
    breaching = listed_numbers(client.get(reverse("inbox"), {"view": "open", "sla": "breaching"}))
    breached = listed_numbers(client.get(reverse("inbox"), {"view": "open", "sla": "breached"}))
    assert breaching == [sla_spread["soon"].number]
    assert breached == [sla_spread["relaxed"].number]
    api = api_as(agent)
    assert [t["number"] for t in api.get("/tickets", {"sla": "breached"}).json()["items"]] == breached
    assert api.get("/tickets", {"sla": "late"}).status_code == 422


def test_inbox_rows_show_coloured_time_left(agent, sla_spread):
    html = page_text(client_for(agent).get(reverse("inbox"), {"view": "open"}))

    def row(name: str) -> str:
        found = html[html.index(f'data-ticket="{sla_spread[name].number}"') :]
        return found[: found.index("</tr>")]

    assert 'data-sla="breached"' in row("relaxed")
    assert 'data-sla="warning"' in row("soon") and "30 min" in row("soon")
    assert "data-sla" not in row("none")


def test_ticket_page_shows_targets_and_breaches(agent, sla_spread):
    from sportello.sla.services import sweep_sla

    sweep_sla()
    html = page_text(client_for(agent).get(reverse("ticket", args=[sla_spread["relaxed"].number])))
    panel = html[html.index('id="sla-panel"') :]
    assert "Policy: Default" in panel
    assert 'data-target="first_response"' in panel and 'data-sla="breached"' in panel
    assert "first response" in panel[panel.index("sla-breached-list") :]


def test_inbox_query_count_does_not_grow_with_sla_rows(agent, policy, clock):
    client = client_for(agent)
    client.get(reverse("inbox"), {"view": "open"})

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("inbox"), {"view": "open"}).status_code == 200
        return len(captured)

    for i in range(2):
        sync_ticket_sla(open_ticket(f"T{i}", email=f"q{i}@example.org").pk)
    few = count()
    for i in range(2, 8):
        sync_ticket_sla(open_ticket(f"T{i}", email=f"q{i}@example.org").pk)
    assert count() == few
