"""GET /api/v1/audit: admins only, the page's filters, keyset pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from sportello.audit.models import AuditEvent
from tests.conftest import api_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def events(db) -> None:
    now = timezone.now()
    for i in range(5):
        AuditEvent.objects.create(
            action="settings.changed", actor_label="ada_admin", target_label=f"Policy {i}", at=now - timedelta(hours=i)
        )
    AuditEvent.objects.create(
        action="auth.sign_in_failed", actor_label="mallory", target_label="mallory", actor_ip="::1"
    )


def test_admins_page_through_the_filtered_trail(admin, events):
    client = api_client(admin)
    response = client.get("/api/v1/audit", {"action": "settings.changed", "size": 3})
    assert response.status_code == 200, response.content
    body = response.json()
    assert [item["target_label"] for item in body["items"]] == ["Policy 0", "Policy 1", "Policy 2"]
    assert body["items"][0]["actor"] == "ada_admin"
    rest = client.get("/api/v1/audit", {"action": "settings.changed", "size": 3, "cursor": body["next_cursor"]}).json()
    assert [item["target_label"] for item in rest["items"]] == ["Policy 3", "Policy 4"]
    assert rest["next_cursor"] is None
    failed = client.get("/api/v1/audit", {"actor": "mallory"}).json()["items"]
    assert [(e["action"], e["actor_ip"]) for e in failed] == [("auth.sign_in_failed", "::1")]
    assert [e["target_label"] for e in client.get("/api/v1/audit", {"q": "policy 4"}).json()["items"]] == ["Policy 4"]


@pytest.mark.parametrize("params", [{"cursor": "nonsense"}, {"action": "nope"}, {"since": "monday"}, {"size": 0}])
def test_bad_input_is_a_clear_422(admin, events, params):
    response = api_client(admin).get("/api/v1/audit", params)
    assert response.status_code == 422
    assert response.json()["detail"]


@pytest.mark.parametrize("persona", ["agent", "light_agent", "customer_user", "stranger"])
def test_everyone_but_admins_is_refused(request, persona, events):
    response = api_client(request.getfixturevalue(persona)).get("/api/v1/audit")
    assert response.status_code == 403
