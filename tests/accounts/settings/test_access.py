"""Every page of the users and groups settings: admins only. A stranger goes to sign in; a
customer, an agent and a light agent are refused (403), for reading and for writing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from sportello.accounts.models import Group, User
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def _urls(target: User, group: Group) -> list[str]:
    return [
        reverse("settings-users"),
        reverse("settings-user", args=[target.pk]),
        reverse("settings-user-active", args=[target.pk]),
        reverse("settings-user-resend", args=[target.pk]),
        reverse("settings-groups"),
        reverse("settings-group", args=[group.pk]),
        reverse("settings-group-delete", args=[group.pk]),
    ]


def test_anonymous_visitors_are_sent_to_sign_in(client, agent2, first_level):
    for url in _urls(agent2, first_level):
        for method in (client.get, client.post):
            response = method(url)
            if response.status_code == 405:  # POST-only actions refuse GET before anything else
                continue
            assert response.status_code == 302, url
            assert response["Location"].startswith("/accounts/login/"), url


@pytest.mark.parametrize("persona", ["customer_user", "agent", "light_agent"])
def test_customers_agents_and_light_agents_are_refused(request, persona, agent2, first_level):
    client = client_for(request.getfixturevalue(persona))
    role_before = agent2.role
    for url in _urls(agent2, first_level):
        assert client.get(url).status_code in (403, 405), url
        assert client.post(url, {"active": "false", "role": "admin", "name": "X", "tier": "1"}).status_code == 403, url
    agent2.refresh_from_db()
    assert agent2.is_active and agent2.role == role_before
    assert Group.objects.filter(pk=first_level.pk, name="First level").exists()


def test_admins_open_every_page(admin, agent2, first_level):
    client = client_for(admin)
    for url in (reverse("settings-users"), reverse("settings-user", args=[agent2.pk]), reverse("settings-groups")):
        assert client.get(url).status_code == 200, url
    assert client.get(reverse("settings-group", args=[first_level.pk])).status_code == 200
    assert client.get(reverse("settings-group-delete", args=[first_level.pk])).status_code == 200


def test_both_pages_are_in_the_settings_menu(admin):
    html = client_for(admin).get("/settings/").content.decode()
    assert 'href="/settings/users/"' in html and 'href="/settings/groups/"' in html
