"""The skills page of the settings area: the skills that assignment "By skills" matches, what needs
each (ticket types and tags) and which agents have it at what level; admins only."""

from __future__ import annotations

import pytest
from django.db.models import QuerySet

from sportello.accounts.models import Role
from sportello.automation.assignment import configure_group_assignment
from sportello.automation.models import AgentSkill, AssignmentMethod, Skill
from sportello.customers.services import Sender
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import Category, Ticket
from tests.conftest import client_for, make_user
from tests.web.conftest import page_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(first_level):
    members = [make_user(name, Role.AGENT) for name in ("ann", "ben")]
    first_level.members.add(*members)
    return members


def holders(skill: Skill) -> QuerySet:
    return AgentSkill.objects.filter(skill=skill).order_by("agent__username").values_list("agent__username", "level")


def test_admin_adds_a_skill_gives_it_to_agents_and_assignment_uses_it(
    admin, team, first_level, django_capture_on_commit_callbacks
):
    ann, ben = team
    invoices = Category.objects.create(name="Invoices")
    client = client_for(admin)
    response = client.post(
        "/settings/skills/", {"name": "SAP", "categories": [str(invoices.pk)], "tags": "SAP, erp , sap"}
    )
    skill = Skill.objects.get(name="SAP")
    assert response.status_code == 302 and response["Location"] == f"/settings/skills/{skill.pk}/"
    assert [c.name for c in skill.categories.all()] == ["Invoices"]
    assert sorted(t.name for t in skill.tags.all()) == ["erp", "sap"]

    page = page_text(client.get(f"/settings/skills/{skill.pk}/"))
    assert "Ann" in page and "Ben" in page and "erp, sap" in page
    response = client.post(
        f"/settings/skills/{skill.pk}/",
        {"name": "SAP ERP", "categories": [str(invoices.pk)], "tags": "sap", f"agent_{ben.pk}": "4"},
    )
    assert response.status_code == 302
    skill.refresh_from_db()
    assert skill.name == "SAP ERP" and [t.name for t in skill.tags.all()] == ["sap"]
    assert list(holders(skill)) == [("ben", 4)]
    # The list says what needs it and who has it; the agent's own page shows the level.
    listed = page_text(client.get("/settings/skills/"))
    assert "SAP ERP" in listed and "Types: Invoices" in listed and "Tags: sap" in listed and "Ben (4)" in listed
    assert "No group assigns by skills yet" in listed
    assert 'value="4" selected' in client.get(f"/settings/users/{ben.pk}/").content.decode()

    # The group assigns by skills: a ticket tagged "sap" goes to Ben, who has the skill.
    configure_group_assignment(first_level, method=AssignmentMethod.SKILLS)
    listed = page_text(client.get("/settings/skills/"))
    assert "Groups assigning by skills:" in listed
    assert f'<a href="/settings/groups/{first_level.pk}/">First level</a>' in listed
    with django_capture_on_commit_callbacks(execute=True):
        ticket = ingest(
            Inbound(
                channel="web",
                sender=Sender(name="Carla", email="carla@example.com"),
                subject="SAP export fails",
                body_text="It fails.",
                group=first_level,
                tags=["sap"],
                acknowledge=False,
            )
        ).ticket
    assert Ticket.objects.get(pk=ticket.pk).assignee == ben

    # Given to Ann at level 1, taken from Ben.
    response = client.post(f"/settings/skills/{skill.pk}/", {"name": "SAP ERP", "tags": "sap", f"agent_{ann.pk}": "1"})
    assert response.status_code == 302
    assert list(holders(skill)) == [("ann", 1)]
    assert not skill.categories.exists()


def test_a_deactivated_holder_keeps_the_skill_when_the_page_is_saved(admin, team):
    ann, _ben = team
    gone = make_user("gus", Role.AGENT, is_active=False)
    skill = Skill.objects.create(name="Billing")
    AgentSkill.objects.create(agent=gone, skill=skill, level=5)
    client = client_for(admin)
    page = page_text(client.get(f"/settings/skills/{skill.pk}/"))
    assert "deactivated or no longer agents" in page and "(5)" in page
    client.post(f"/settings/skills/{skill.pk}/", {"name": "Billing", f"agent_{ann.pk}": "2"})
    assert list(holders(skill)) == [("ann", 2), ("gus", 5)]


@pytest.mark.parametrize(
    ("page", "data", "message"),
    [
        ("new", {"name": "billing"}, "There is already a skill named"),
        ("new", {"name": "  "}, "This field is required."),
        ("new", {"name": "Long tag", "tags": "x" * 51}, "is longer than 50 characters"),
        ("new", {"name": "Bad type", "categories": ["999999"]}, "Select a valid choice."),
        ("edit", {"name": "Billing", "agent_{ann}": "9"}, "Select a valid choice."),
        ("edit", {"name": "Billing", "agent_{ann}": "x"}, "Select a valid choice."),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(admin, team, page, data, message):
    ann, _ben = team
    skill = Skill.objects.create(name="Billing")
    data = {key.replace("{ann}", str(ann.pk)): value for key, value in data.items()}
    url = "/settings/skills/" if page == "new" else f"/settings/skills/{skill.pk}/"
    response = client_for(admin).post(url, data)
    assert response.status_code == 422
    assert message in page_text(response)
    assert list(Skill.objects.values_list("name", flat=True)) == ["Billing"]
    assert not AgentSkill.objects.exists()


def test_deleting_asks_first_and_the_agents_lose_the_skill(admin, team):
    ann, ben = team
    skill = Skill.objects.create(name="Billing")
    AgentSkill.objects.create(agent=ann, skill=skill, level=3)
    AgentSkill.objects.create(agent=ben, skill=skill, level=None)
    client = client_for(admin)
    url = f"/settings/skills/{skill.pk}/delete/"
    assert "2 agents have this skill and lose it." in page_text(client.get(url))
    # A POST without the question's button deletes nothing.
    assert client.post(url).status_code == 200
    assert Skill.objects.filter(pk=skill.pk).exists()
    response = client.post(url, {"confirmed": "yes"})
    assert response.status_code == 302 and response["Location"] == "/settings/skills/"
    assert not Skill.objects.exists() and not AgentSkill.objects.exists()
    assert client.get(url).status_code == 404


# --- Who may ---------------------------------------------------------------------------------------------


def _pages(skill: Skill) -> list[tuple[str, str]]:
    return [
        ("get", "/settings/skills/"),
        ("post", "/settings/skills/"),
        ("get", f"/settings/skills/{skill.pk}/"),
        ("post", f"/settings/skills/{skill.pk}/"),
        ("get", f"/settings/skills/{skill.pk}/delete/"),
        ("post", f"/settings/skills/{skill.pk}/delete/"),
    ]


def test_strangers_are_sent_to_sign_in(client, db):
    skill = Skill.objects.create(name="Billing")
    for method, url in _pages(skill):
        data = {"name": "Hacked", "confirmed": "yes"} if method == "post" else {}
        response = getattr(client, method)(url, data)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url
    assert list(Skill.objects.values_list("name", flat=True)) == ["Billing"]


def test_customers_agents_and_light_agents_are_refused(customer_user, agent, light_agent):
    skill = Skill.objects.create(name="Billing")
    for user in (customer_user, agent, light_agent):
        client = client_for(user)
        for method, url in _pages(skill):
            data = {"name": "Hacked", "confirmed": "yes", f"agent_{user.pk}": "5"} if method == "post" else {}
            assert getattr(client, method)(url, data).status_code == 403, (user.username, method, url)
    assert list(Skill.objects.values_list("name", flat=True)) == ["Billing"]
    assert not AgentSkill.objects.exists()


def test_the_menu_lists_the_page_for_admins(admin):
    assert 'href="/settings/skills/"' in client_for(admin).get("/settings/").content.decode()
