"""The settings area's API tokens page: every user's tokens for admins, revoked with a
confirmation, audited, and refused by the API from the next request; admins only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from sportello.accounts.models import ApiToken
from sportello.audit.models import Action, AuditEvent
from tests.conftest import client_for
from tests.web.conftest import page_text

pytestmark = pytest.mark.django_db

TOKENS = "/settings/tokens/"


@pytest.fixture(autouse=True)
def _own_token_stamp(settings, tmp_path):  # type: ignore[no-untyped-def]
    """This test's own token stamp, so that other test processes' saves of users do not change it."""
    settings.DATA_DIR = tmp_path


def test_the_admin_sees_every_users_tokens(admin, agent, agent2):
    ApiToken.issue(agent, "alice sync", scopes=["read"], expires_at=timezone.now() + timedelta(days=30))
    revoked, _key = ApiToken.issue(agent2, "bob old script")
    ApiToken.objects.filter(pk=revoked.pk).update(revoked_at=timezone.now())
    ApiToken.issue(admin, "ada reports")
    html = page_text(client_for(admin).get(TOKENS))
    assert "alice sync" in html and "bob old script" in html and "ada reports" in html
    assert "alice_agent" in html or agent.display_name in html
    alice_row = html.split(f'data-token="{ApiToken.objects.get(name="alice sync").pk}"')[1].split("</tr>")[0]
    assert ">read<" in alice_row and "Active" in alice_row and "never" in alice_row  # never used
    bob_row = html.split(f'data-token="{revoked.pk}"')[1].split("</tr>")[0]
    assert "Revoked" in bob_row and reverse("settings-token-revoke", args=[revoked.pk]) not in bob_row


def test_the_settings_menu_links_here_and_agents_keep_their_own_page(admin, agent):
    assert f'href="{TOKENS}"' in client_for(admin).get("/settings/").content.decode()
    ApiToken.issue(admin, "ada reports")
    own = page_text(client_for(agent).get("/accounts/tokens/"))
    assert "ada reports" not in own


def test_an_admin_revokes_an_agents_token_and_the_api_refuses_it_at_once(admin, agent):
    token, key = ApiToken.issue(agent, "alice sync")
    api = Client(headers={"Authorization": f"Bearer {key}"})
    assert api.get("/api/v1/me").status_code == 200
    assert api.get("/api/v1/me").status_code == 200  # now remembered by this process
    boss = client_for(admin)
    url = reverse("settings-token-revoke", args=[token.pk])
    confirm = page_text(boss.get(url))
    assert "alice sync" in confirm and 'name="confirmed"' in confirm
    assert boss.post(url).status_code == 200  # no confirmation: nothing revoked, asked again
    assert api.get("/api/v1/me").status_code == 200
    response = boss.post(url, {"confirmed": "yes"})
    assert response.status_code == 302 and response["Location"] == TOKENS
    assert "was revoked" in page_text(boss.get(TOKENS))
    assert api.get("/api/v1/me").status_code == 401
    token.refresh_from_db()
    assert token.revoked_at is not None
    [event] = AuditEvent.objects.filter(action=Action.TOKEN_REVOKED, target_id=str(token.pk))
    assert event.actor == admin and event.after["user"] == "alice_agent" and event.after["name"] == "alice sync"
    # Again: it says so, and nothing more is recorded.
    again = boss.post(url, {"confirmed": "yes"})
    assert again.status_code == 302 and "already revoked" in page_text(boss.get(TOKENS))
    assert AuditEvent.objects.filter(action=Action.TOKEN_REVOKED).count() == 1


def test_an_unknown_token_is_not_found(admin):
    assert (
        client_for(admin).post(reverse("settings-token-revoke", args=[999999]), {"confirmed": "yes"}).status_code == 404
    )


def test_anonymous_visitors_are_sent_to_sign_in(client, agent):
    token, _key = ApiToken.issue(agent, "alice sync")
    for url in (TOKENS, reverse("settings-token-revoke", args=[token.pk])):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url
    response = client.post(reverse("settings-token-revoke", args=[token.pk]), {"confirmed": "yes"})
    assert response["Location"].startswith("/accounts/login/")
    token.refresh_from_db()
    assert token.revoked_at is None


@pytest.mark.parametrize("persona", ["customer_user", "agent2", "light_agent"])
def test_customers_and_agents_are_refused(request, persona, agent):
    token, key = ApiToken.issue(agent, "alice sync")
    client = client_for(request.getfixturevalue(persona))
    assert client.get(TOKENS).status_code == 403
    url = reverse("settings-token-revoke", args=[token.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"confirmed": "yes"}).status_code == 403
    token.refresh_from_db()
    assert token.revoked_at is None
    assert Client(headers={"Authorization": f"Bearer {key}"}).get("/api/v1/me").status_code == 200
