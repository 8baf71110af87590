"""The users and agents settings page: list and filters, editing role, groups, skills and
capacity, deactivation (sign-in and API refused at once), and the last-admin guard."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from sportello.accounts.models import ApiToken, Role, User
from sportello.audit.models import Action, AuditEvent
from sportello.automation.models import AgentProfile, AgentSkill, Skill
from tests.conftest import PASSWORD, client_for, make_user
from tests.web.conftest import page_text

pytestmark = pytest.mark.django_db

USERS = "/settings/users/"


def _edit_data(user: User, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "role": user.role,
        "language": user.language,
        "is_active": "on" if user.is_active else "",
        "groups": [g.pk for g in user.support_groups.all()],
        "spoken_languages": "",
        "capacity": "",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value != ""}


def test_the_list_shows_staff_and_keeps_customers_apart(admin, agent, light_agent, customer_user):
    html = page_text(client_for(admin).get(USERS))
    assert 'data-user="alice_agent"' in html and 'data-user="lucy_light"' in html and 'data-user="ada_admin"' in html
    assert "carla_customer" not in html
    html = page_text(client_for(admin).get(USERS, {"role": "customer"}))
    assert 'data-user="carla_customer"' in html and "alice_agent" not in html


def test_filters_by_role_activity_and_text(admin, agent, agent2, light_agent):
    agent2.is_active = False
    agent2.save()
    client = client_for(admin)
    html = page_text(client.get(USERS, {"role": "light_agent"}))
    assert "lucy_light" in html and "alice_agent" not in html
    html = page_text(client.get(USERS, {"active": "no"}))
    assert 'data-user="bob_agent"' in html and "alice_agent" not in html
    html = page_text(client.get(USERS, {"q": "alice"}))
    assert 'data-user="alice_agent"' in html and "bob_agent" not in html


def test_the_list_is_paginated(admin):
    User.objects.bulk_create(User(username=f"agent{n:03}", email=f"a{n}@x.test", role=Role.AGENT) for n in range(60))
    client = client_for(admin)
    first = page_text(client.get(USERS, {"role": "agent"}))
    assert first.count('data-user="agent') == 50 and "Page 1 of 2" in first
    second = page_text(client.get(USERS, {"role": "agent", "page": "2"}))
    assert second.count('data-user="agent') == 10


def test_an_admin_edits_role_groups_skills_capacity_and_language(admin, agent, second_level):
    billing = Skill.objects.create(name="Billing")
    Skill.objects.create(name="Networks")
    client = client_for(admin)
    url = reverse("settings-user", args=[agent.pk])
    assert "Billing" in page_text(client.get(url))
    data = _edit_data(
        agent,
        first_name="Alice",
        last_name="Rossi",
        role="admin",
        language="it",
        groups=[second_level.pk],
        spoken_languages="it, DE",
        capacity="6",
        **{f"skill_{billing.pk}": "4"},
    )
    response = client.post(url, data)
    assert response.status_code == 302
    agent.refresh_from_db()
    assert (agent.get_full_name(), agent.role, agent.language) == ("Alice Rossi", "admin", "it")
    assert [g.name for g in agent.support_groups.all()] == ["Second level"]
    profile = AgentProfile.objects.get(agent=agent)
    assert (profile.max_open_tickets, profile.languages) == (6, ["it", "de"])
    assert [(s.skill.name, s.level) for s in AgentSkill.objects.filter(agent=agent)] == [("Billing", 4)]
    # The edit page shows what was saved; the audit trail has the role change by this admin.
    html = page_text(client.get(url))
    assert 'value="6"' in html and 'value="it, de"' in html
    [event] = [e for e in _permission_events(agent) if "role" in e.after]
    assert (event.before, event.after, event.actor_label) == ({"role": "agent"}, {"role": "admin"}, "ada_admin")


def test_invalid_edits_say_what_is_wrong_with_422(admin, agent, agent2):
    client = client_for(admin)
    url = reverse("settings-user", args=[agent.pk])
    for changes, message in [
        ({"email": "not-an-address"}, "Enter a valid email address."),
        ({"capacity": "-1"}, "greater than or equal to 0"),
        ({"role": "customer"}, "Select a valid choice."),
        ({"spoken_languages": "it, <b>"}, "is not a language code"),
        ({"email": agent2.email}, "Someone here already has this address."),
    ]:
        response = client.post(url, _edit_data(agent, **changes))
        assert response.status_code == 422, changes
        assert message in page_text(response), changes
    agent.refresh_from_db()
    assert agent.email == "alice_agent@sportello.test" and agent.role == "agent"


def test_a_deactivated_agent_cannot_sign_in_and_their_token_stops_at_once(admin, agent):
    _token, key = ApiToken.issue(agent, "script")
    api = Client(headers={"Authorization": f"Bearer {key}"})
    assert api.get("/api/v1/me").status_code == 200
    assert api.get("/api/v1/me").status_code == 200  # now remembered by this process
    session = client_for(agent)
    assert session.get("/").status_code == 200
    boss = client_for(admin)
    response = boss.post(reverse("settings-user-active", args=[agent.pk]), {"active": "false"})
    assert response.status_code == 302
    assert "is deactivated" in page_text(boss.get(response["Location"]))
    assert api.get("/api/v1/me").status_code == 401
    assert session.get("/")["Location"].startswith("/accounts/login/")
    sign_in = Client().post("/accounts/login/", {"username": "alice_agent", "password": PASSWORD})
    assert sign_in.status_code == 200 and "did not match" in page_text(sign_in)
    [event] = [e for e in _permission_events(agent) if "is_active" in e.after]
    assert (event.before, event.after) == ({"is_active": True}, {"is_active": False})
    # Reactivated, they sign in again, in the groups they had.
    client_for(admin).post(reverse("settings-user-active", args=[agent.pk]), {"active": "true"})
    assert Client().post("/accounts/login/", {"username": "alice_agent", "password": PASSWORD}).status_code == 302
    assert [g.name for g in User.objects.get(pk=agent.pk).support_groups.all()] == ["First level"]


def _permission_events(user: User) -> list[AuditEvent]:
    """The changes made to `user`'s permissions (their account's creation, by the fixture, left out)."""
    events = AuditEvent.objects.filter(action=Action.PERMISSION_CHANGED, target_id=str(user.pk)).order_by("id")
    return [event for event in events if not event.after.get("created")]


def test_the_last_active_admin_cannot_demote_or_deactivate_themselves(admin):
    admin.is_superuser = False  # a superuser stays an admin whatever the role says
    admin.save()
    client = client_for(admin)
    url = reverse("settings-user", args=[admin.pk])
    response = client.post(url, _edit_data(admin, role="agent"))
    assert response.status_code == 422
    assert "is the last active admin" in page_text(response)
    response = client.post(reverse("settings-user-active", args=[admin.pk]), {"active": "false"}, follow=True)
    assert "is the last active admin" in page_text(response)
    admin.refresh_from_db()
    assert admin.is_active and admin.role == "admin"


def test_with_another_admin_an_admin_may_step_down(admin):
    admin.is_superuser = False  # a superuser stays an admin whatever the role says
    admin.save()
    make_user("otto_admin", Role.ADMIN)
    response = client_for(admin).post(reverse("settings-user", args=[admin.pk]), _edit_data(admin, role="agent"))
    assert response.status_code == 302
    admin.refresh_from_db()
    assert admin.role == "agent"


def test_customers_and_the_system_account_are_not_edited_here(admin, customer_user):
    client = client_for(admin)
    assert client.get(reverse("settings-user", args=[customer_user.pk])).status_code == 404
    system = User.objects.create(username="automation", role=Role.SYSTEM)
    assert client.post(reverse("settings-user-active", args=[system.pk]), {"active": "false"}).status_code == 404


def test_a_customer_portal_account_is_deactivated_from_the_customers_list(admin, customer_user):
    response = client_for(admin).post(reverse("settings-user-active", args=[customer_user.pk]), {"active": "false"})
    assert response["Location"] == "/settings/users/?role=customer"
    customer_user.refresh_from_db()
    assert not customer_user.is_active
