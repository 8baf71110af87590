"""Automatic assignment in the API: agents read the load and the settings; only admins change them."""

from __future__ import annotations

import pytest

from sportello.automation.assignment import configure_group_assignment, set_agent_profile
from sportello.automation.models import AgentProfile, AgentSkill, GroupAssignment, Skill
from sportello.tickets.models import Category, Tag
from tests.api.conftest import Api, api_as

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_agent(agent) -> Api:
    return api_as(agent)


@pytest.fixture
def as_light(light_agent) -> Api:
    return api_as(light_agent)


@pytest.fixture
def as_admin(admin) -> Api:
    return api_as(admin)


WRITES = [
    ("patch", "/assignment/groups/{group_id}", {"method": "round_robin"}),
    ("post", "/assignment/skills", {"name": "x"}),
    ("patch", "/assignment/skills/{skill_id}", {"name": "y"}),
    ("delete", "/assignment/skills/{skill_id}", None),
    ("patch", "/assignment/agents/{agent_id}", {"max_open_tickets": 1}),
]
READS = [
    "/assignment/load",
    "/assignment/groups",
    "/assignment/groups/{group_id}",
    "/assignment/skills",
    "/assignment/skills/{skill_id}",
    "/assignment/agents",
    "/assignment/agents/{agent_id}",
]


@pytest.fixture
def ids(first_level, agent) -> dict[str, int]:
    return {"group_id": first_level.pk, "skill_id": Skill.objects.create(name="Billing").pk, "agent_id": agent.pk}


def _call(client, method: str, path: str, body: object):  # type: ignore[no-untyped-def]
    if method == "delete":
        return client.delete(path)
    return getattr(client, method)(path, body)


@pytest.mark.parametrize("persona", ["agent", "light_agent"])
@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=[f"{m} {p}" for m, p, _ in WRITES])
def test_agents_cannot_change_assignment_settings(request, ids, persona, method, path, body):
    client = api_as(request.getfixturevalue(persona))
    response = _call(client, method, path.format(**ids), body)
    assert response.status_code == 403 and response.json() == {"detail": "Admins only"}
    assert not GroupAssignment.objects.exists() and not AgentProfile.objects.exists()
    assert list(Skill.objects.values_list("name", flat=True)) == ["Billing"]


@pytest.mark.parametrize("path", READS)
def test_agents_read_the_settings_and_the_load(as_agent, as_light, ids, path):
    for client in (as_agent, as_light):
        assert client.get(path.format(**ids)).status_code == 200


@pytest.mark.parametrize("persona", ["customer_user", "stranger"])
@pytest.mark.parametrize(("method", "path", "body"), [("get", p, None) for p in READS] + WRITES)
def test_customers_and_strangers_are_refused(request, ids, persona, method, path, body):
    response = _call(api_as(request.getfixturevalue(persona)), method, path.format(**ids), body)
    assert response.status_code == 403
    assert response.json()["detail"] in ("Agents only", "Admins only")


def test_admins_set_a_groups_method_and_capacity(as_admin, as_agent, first_level):
    response = as_admin.patch(f"/assignment/groups/{first_level.pk}", {"method": "least_load", "default_capacity": 10})
    assert response.status_code == 200
    assert response.json() == {
        "group": first_level.pk,
        "name": "First level",
        "method": "least_load",
        "default_capacity": 10,
        "last_agent": None,
    }
    # Only the fields given change; null capacity means no limit.
    assert as_admin.patch(f"/assignment/groups/{first_level.pk}", {"method": "skills"}).json()["default_capacity"] == 10
    body = as_admin.patch(f"/assignment/groups/{first_level.pk}", {"default_capacity": None}).json()
    assert (body["method"], body["default_capacity"]) == ("skills", None)
    listed = {g["name"]: g["method"] for g in as_agent.get("/assignment/groups").json()}
    assert listed == {"First level": "skills"}


@pytest.mark.parametrize(
    ("body", "field"),
    [({"method": "random"}, "method"), ({"default_capacity": -1}, "default_capacity"), ({"owner": 1}, "owner")],
)
def test_bad_group_settings_are_422(as_admin, first_level, body, field):
    response = as_admin.patch(f"/assignment/groups/{first_level.pk}", body)
    assert response.status_code == 422 and field in response.json()["detail"]


def test_unknown_ids_are_404(as_admin):
    assert as_admin.patch("/assignment/groups/999999", {"method": "none"}).status_code == 404
    assert as_admin.get("/assignment/skills/999999").status_code == 404
    assert as_admin.patch("/assignment/agents/999999", {"languages": []}).status_code == 404


def test_a_customer_is_no_agent_to_profile(as_admin, customer_user):
    assert as_admin.get(f"/assignment/agents/{customer_user.pk}").status_code == 404


def test_admins_map_categories_and_tags_to_skills(as_admin, as_agent):
    invoices = Category.objects.create(name="Invoices")
    response = as_admin.post("/assignment/skills", {"name": "Billing", "categories": [invoices.pk], "tags": ["VAT"]})
    assert response.status_code == 201
    skill = response.json()
    assert (skill["name"], skill["categories"], skill["tags"]) == ("Billing", [invoices.pk], ["vat"])
    assert Tag.objects.filter(name="vat").exists()
    changed = as_admin.patch(f"/assignment/skills/{skill['id']}", {"tags": []}).json()
    assert (changed["categories"], changed["tags"]) == ([invoices.pk], [])
    assert [s["name"] for s in as_agent.get("/assignment/skills").json()] == ["Billing"]
    assert as_admin.delete(f"/assignment/skills/{skill['id']}").status_code == 204
    assert not Skill.objects.exists()


def test_bad_skills_are_422(as_admin):
    Skill.objects.create(name="Billing")
    duplicate = as_admin.post("/assignment/skills", {"name": "billing"})
    assert duplicate.status_code == 422 and "already a skill" in duplicate.json()["detail"]
    unknown = as_admin.post("/assignment/skills", {"name": "SAP", "categories": [424242]})
    assert unknown.status_code == 422 and unknown.json()["detail"] == "No category with id 424242"
    assert as_admin.post("/assignment/skills", {"name": ""}).status_code == 422


def test_admins_give_agents_skills_languages_and_capacity(as_admin, as_agent, agent):
    billing = Skill.objects.create(name="Billing")
    sap = Skill.objects.create(name="SAP")
    response = as_admin.patch(
        f"/assignment/agents/{agent.pk}",
        {
            "skills": [{"skill": billing.pk, "level": 4}, {"skill": sap.pk}],
            "languages": ["it", "DE_at"],
            "max_open_tickets": 3,
        },
    )
    assert response.status_code == 200
    assert response.json() == {
        "agent": agent.pk,
        "name": "Alice Agent",
        "skills": [{"skill": billing.pk, "level": 4}, {"skill": sap.pk, "level": None}],
        "languages": ["it", "de-at"],
        "max_open_tickets": 3,
    }
    kept = as_admin.patch(f"/assignment/agents/{agent.pk}", {"max_open_tickets": None}).json()
    assert (kept["languages"], kept["max_open_tickets"], len(kept["skills"])) == (["it", "de-at"], None, 2)
    mine = next(a for a in as_agent.get("/assignment/agents").json() if a["agent"] == agent.pk)
    assert mine == kept


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"skills": [{"skill": 424242}]}, "No skill with id 424242"),
        ({"skills": [{"skill": "{billing}", "level": 9}]}, "Invalid input"),
        ({"skills": [{"skill": "{billing}"}, {"skill": "{billing}"}]}, "A skill is listed twice"),
        ({"languages": ["not a language"]}, "Invalid input"),
        ({"max_open_tickets": -2}, "Invalid input"),
    ],
)
def test_bad_agent_profiles_are_422(as_admin, agent, body, message):
    billing = Skill.objects.create(name="Billing")
    for skill in body.get("skills", []):
        if skill["skill"] == "{billing}":
            skill["skill"] = billing.pk
    response = as_admin.patch(f"/assignment/agents/{agent.pk}", body)
    assert response.status_code == 422 and response.json()["detail"].startswith(message)
    assert not AgentSkill.objects.exists()


def test_the_load_endpoint_shows_each_groups_agents(as_agent, agent, first_level, second_level):
    configure_group_assignment(first_level, method="round_robin", default_capacity=10)
    set_agent_profile(agent, max_open_tickets=4)
    body = as_agent.get("/assignment/load").json()
    assert [g["name"] for g in body] == ["First level", "Second level"]
    first = body[0]
    assert (first["method"], first["default_capacity"], first["waiting"]) == ("round_robin", 10, 0)
    assert first["agents"] == [
        {
            "id": agent.pk,
            "name": "Alice Agent",
            "availability": "online",
            "open_tickets": 0,
            "open_in_group": 0,
            "capacity": 4,
            "full": False,
        }
    ]
