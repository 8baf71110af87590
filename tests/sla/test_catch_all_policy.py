"""A policy with no conditions takes every ticket no policy above it takes (issue #15: one "saved
with no conditions silently took over every open ticket"). The settings page asks first
(tests/sla/settings/test_policies.py); so do the API, with `confirm_all_tickets`, and Django's admin.
"""

from __future__ import annotations

import pytest

from sportello.audit.models import AuditEvent
from sportello.sla.models import Policy
from sportello.sla.services import save_policy
from tests.api.conftest import api_as
from tests.conftest import client_for
from tests.sla.conftest import open_ticket

pytestmark = pytest.mark.django_db

TARGETS = [{"priority": 2, "first_response_minutes": 60}]


@pytest.fixture
def two_open_tickets(db) -> None:
    open_ticket("Printer on fire", "a@example.com")
    open_ticket("Scanner on fire", "b@example.com")


def test_the_api_refuses_an_active_policy_with_no_conditions_without_the_confirmation(admin, two_open_tickets):
    api = api_as(admin)
    before = AuditEvent.objects.count()
    for confirm in ({}, {"confirm_all_tickets": False}):
        response = api.post("/sla/policies", {"name": "Catch-all", "targets": TARGETS, **confirm})
        assert response.status_code == 422, response.content
        detail = response.json()["detail"]
        assert "no conditions" in detail and "2 open ticket(s) today" in detail
        assert '"confirm_all_tickets": true' in detail
    assert not Policy.objects.exists()
    assert AuditEvent.objects.count() == before, "a refused policy leaves no trace of a change"
    # A number is not a confirmation.
    assert api.post("/sla/policies", {"name": "Catch-all", "confirm_all_tickets": 1}).status_code == 422
    assert not Policy.objects.exists()

    response = api.post("/sla/policies", {"name": "Catch-all", "targets": TARGETS, "confirm_all_tickets": True})
    assert response.status_code == 201, response.content
    assert Policy.objects.get(name="Catch-all").active


def test_an_inactive_one_needs_no_confirmation_until_it_is_activated(admin):
    api = api_as(admin)
    response = api.post("/sla/policies", {"name": "Later", "active": False})
    assert response.status_code == 201, response.content
    path = f"/sla/policies/{response.json()['id']}"
    response = api.patch(path, {"active": True})
    assert response.status_code == 422 and "confirm_all_tickets" in response.json()["detail"]
    assert not Policy.objects.get(name="Later").active
    response = api.patch(path, {"active": True, "confirm_all_tickets": True})
    assert response.status_code == 200 and response.json()["active"] is True
    # Once it takes every ticket, other changes to it need no new confirmation.
    response = api.patch(path, {"name": "Everything else", "warning_minutes": 30})
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "Everything else"


def test_emptying_the_conditions_of_an_active_policy_through_the_api_is_refused(admin):
    policy = save_policy(Policy(), {"name": "Chat", "channels": ["chat"]}, tags=["vip"])
    api = api_as(admin)
    response = api.patch(f"/sla/policies/{policy.pk}", {"channels": [], "tags": []})
    assert response.status_code == 422
    policy.refresh_from_db()
    assert policy.channels == ["chat"] and [tag.name for tag in policy.tags.all()] == ["vip"]
    # Removing one condition of two is an ordinary change.
    response = api.patch(f"/sla/policies/{policy.pk}", {"channels": []})
    assert response.status_code == 200 and response.json()["tags"] == ["vip"]


# --- Django's admin ----------------------------------------------------------------------------------------


def _admin_form(**fields: str) -> dict[str, str]:
    return {
        "name": "Catch-all",
        "position": "100",
        "active": "on",
        "calendar": "",
        "priorities": "[]",
        "channels": "[]",
        "tiers": "[]",
        "warning_minutes": "60",
        "targets-TOTAL_FORMS": "0",
        "targets-INITIAL_FORMS": "0",
        "targets-MIN_NUM_FORMS": "0",
        "targets-MAX_NUM_FORMS": "1000",
        **fields,
    }


def test_djangos_admin_asks_before_saving_an_active_policy_with_no_conditions(admin):
    client = client_for(admin)
    response = client.post("/admin/sla/policy/add/", _admin_form())
    assert response.status_code == 200
    assert "This policy has no conditions" in response.content.decode()
    assert not Policy.objects.exists()

    response = client.post("/admin/sla/policy/add/", _admin_form(confirm_all_tickets="on"))
    assert response.status_code == 302
    assert Policy.objects.get(name="Catch-all").active
    # With a condition, or inactive, no question.
    assert client.post("/admin/sla/policy/add/", _admin_form(name="Chat", channels='["chat"]')).status_code == 302
    assert client.post("/admin/sla/policy/add/", _admin_form(name="Later", active="")).status_code == 302


def test_djangos_admin_list_cannot_activate_a_policy(admin):
    later = Policy.objects.create(name="Later", active=False)
    page = client_for(admin).get("/admin/sla/policy/").content.decode()
    assert "Later" in page
    assert 'name="form-0-position"' in page, "the order is still editable in the list"
    assert 'name="form-0-active"' not in page
    later.refresh_from_db()
    assert not later.active
