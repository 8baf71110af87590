"""An agent's API tokens: created with the key shown once, listed by hint, revoked."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from sportello.accounts.models import ApiToken
from tests.conftest import client_for
from tests.web.conftest import page_text

pytestmark = pytest.mark.django_db


def test_create_shows_the_key_once_and_it_works(agent):
    client = client_for(agent)
    response = client.post(reverse("tokens"), {"name": "reporting script"})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    key = re.search(r'id="new-token-key">(spt_[^<]+)<', page_text(response)).group(1)  # type: ignore[union-attr]
    token = ApiToken.find(key)
    assert token is not None and token.user == agent and token.name == "reporting script"
    again = page_text(client.get(reverse("tokens")))
    assert key not in again and "reporting script" in again and token.hint in again


def test_a_token_needs_a_name(agent):
    response = client_for(agent).post(reverse("tokens"), {"name": ""})
    assert "This field is required." in page_text(response)
    assert not ApiToken.objects.exists()


def test_revoke_sets_revoked_at_and_the_key_stops_working(agent):
    token, key = ApiToken.issue(agent, "old")
    client = client_for(agent)
    response = client.post(reverse("token-revoke", args=[token.pk]), follow=True)
    assert "The token was revoked" in page_text(response)
    token.refresh_from_db()
    assert token.revoked_at is not None and ApiToken.find(key) is None
    assert 'action="' + reverse("token-revoke", args=[token.pk]) + '"' not in page_text(client.get(reverse("tokens")))


def test_an_agent_cannot_see_or_revoke_someone_elses_token(agent, agent2):
    token, _key = ApiToken.issue(agent2, "bob's sync")
    client = client_for(agent)
    assert "bob&#x27;s sync" not in page_text(client.get(reverse("tokens")))
    response = client.post(reverse("token-revoke", args=[token.pk]), follow=True)
    assert "No such active token." in page_text(response)
    token.refresh_from_db()
    assert token.revoked_at is None


def test_revoke_is_post_only(agent):
    token, _key = ApiToken.issue(agent, "x")
    assert client_for(agent).get(reverse("token-revoke", args=[token.pk])).status_code == 405
