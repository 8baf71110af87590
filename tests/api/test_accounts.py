"""Agents and groups over the API: who am I, the agents, groups that only admins edit."""

from __future__ import annotations

import pytest

from sportello.accounts.models import Group
from tests.api.conftest import api_as

pytestmark = pytest.mark.django_db


def test_me_is_the_tokens_owner(as_agent, agent, first_level):
    response = as_agent.get("/me")
    assert response.status_code == 200
    assert response.json() == {
        "id": agent.pk,
        "username": "alice_agent",
        "name": "Alice Agent",
        "email": "alice_agent@sportello.test",
        "role": "agent",
        "availability": "online",
        "restricted_to_groups": False,
        "groups": [first_level.pk],
        "can_reply": True,
        "is_admin": False,
    }


def test_me_tells_a_light_agent_they_cannot_reply(as_light):
    assert as_light.get("/me").json()["can_reply"] is False


def test_agents_lists_staff_only(as_agent, agent, agent2, light_agent, admin, customer_user):
    response = as_agent.get("/agents")
    assert response.status_code == 200
    listed = {a["username"]: a for a in response.json()}
    assert set(listed) == {"alice_agent", "bob_agent", "lucy_light", "ada_admin"}
    assert listed["lucy_light"]["role"] == "light_agent"


def test_groups_list_with_members(as_agent, agent, agent2, first_level, second_level):
    response = as_agent.get("/groups")
    assert response.status_code == 200
    assert [(g["name"], g["tier"], g["members"]) for g in response.json()] == [
        ("First level", 1, [agent.pk]),
        ("Second level", 2, [agent2.pk]),
    ]


def test_admin_creates_and_updates_a_group(as_admin, agent, agent2):
    response = as_admin.post("/groups", {"name": "Billing", "tier": 2, "members": [agent.pk]})
    assert response.status_code == 201, response.content
    group_id = response.json()["id"]
    assert response.json()["members"] == [agent.pk]
    response = as_admin.patch(f"/groups/{group_id}", {"description": "Invoices", "members": [agent2.pk]})
    assert response.status_code == 200
    group = Group.objects.get(pk=group_id)
    assert group.name == "Billing" and group.description == "Invoices" and list(group.members.all()) == [agent2]


def test_agents_cannot_create_or_change_groups(as_agent, first_level):
    assert as_agent.post("/groups", {"name": "Mine"}).json() == {"detail": "Admins only"}
    response = as_agent.patch(f"/groups/{first_level.pk}", {"name": "Renamed"})
    assert response.status_code == 403
    assert not Group.objects.filter(name__in=["Mine", "Renamed"]).exists()


def test_a_duplicate_group_name_is_409(as_admin, first_level):
    response = as_admin.post("/groups", {"name": "First level"})
    assert response.status_code == 409 and "already exists" in response.json()["detail"]
    # The refused write left the transaction usable: the next request works.
    assert as_admin.post("/groups", {"name": "Third level", "tier": 3}).status_code == 201


def test_group_members_must_be_agents(as_admin, customer_user):
    response = as_admin.post("/groups", {"name": "Odd", "members": [customer_user.pk]})
    assert response.status_code == 422 and response.json()["detail"] == f"Not agents: {customer_user.pk}"
    assert not Group.objects.filter(name="Odd").exists()


def test_unknown_group_is_404(as_admin):
    assert as_admin.patch("/groups/999999", {"name": "x"}).status_code == 404


def test_restricted_agent_still_sees_who_is_who(restricted_agent, agent):
    assert api_as(restricted_agent).get("/agents").status_code == 200
