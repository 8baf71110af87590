"""The sign-in settings page: admins only; providers, rules and the policy; bad input is a 422."""

from __future__ import annotations

import pytest
from allauth.socialaccount.models import SocialApp

from sportello.accounts.models import Role
from sportello.sso.models import ClaimRule, SignInPolicy
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

PAGES = [
    ("get", "/settings/sign-in/"),
    ("post", "/settings/sign-in/policy"),
    ("post", "/settings/sign-in/rules/new"),
    ("post", "/settings/sign-in/rules/1/delete"),
    ("get", "/settings/sign-in/oidc/new"),
    ("get", "/settings/sign-in/saml/new"),
    ("post", "/settings/sign-in/providers/1/delete"),
]


@pytest.fixture
def staff_admin(db):
    return make_user("rita_admin", Role.ADMIN)  # an admin by role, not a superuser


@pytest.mark.parametrize(("method", "path"), PAGES)
def test_strangers_customers_and_agents_are_refused(client, customer_user, agent, method, path):
    anonymous = getattr(client, method)(path)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    for user in (customer_user, agent):
        client.force_login(user)
        assert getattr(client, method)(path).status_code == 403


def test_an_admin_adds_an_oidc_provider_whose_secret_is_never_shown(client, staff_admin):
    client.force_login(staff_admin)
    data = {"name": "Staff login", "provider_id": "staff-idp", "server_url": "https://login.example.com/realms/staff",
            "client_id": "sportello", "secret": "top-secret-value"}  # fmt: skip
    assert client.post("/settings/sign-in/oidc/new", data)["Location"] == "/settings/sign-in/"
    app = SocialApp.objects.get(provider_id="staff-idp")
    assert app.secret == "top-secret-value" and app.settings["server_url"] == data["server_url"]
    edit = client.get(f"/settings/sign-in/oidc/{app.pk}/").content.decode()
    assert "top-secret-value" not in edit and "/auth/oidc/staff-idp/login/callback/" in edit
    # Saved again without a secret: the old one stays.
    client.post(f"/settings/sign-in/oidc/{app.pk}/", {**data, "secret": "", "name": "Staff SSO"})
    app.refresh_from_db()
    assert app.name == "Staff SSO" and app.secret == "top-secret-value"
    assert "Staff SSO" in client.get("/settings/sign-in/").content.decode()


def test_bad_provider_input_is_a_422_with_the_reason(client, staff_admin):
    client.force_login(staff_admin)
    bad = client.post("/settings/sign-in/oidc/new", {"name": "X", "provider_id": "Bad Id!", "server_url": "nope",
                                                    "client_id": "c", "secret": ""})  # fmt: skip
    assert bad.status_code == 422
    errors = bad.context["form"].errors
    assert set(errors) == {"provider_id", "server_url", "secret"}
    saml = client.post("/settings/sign-in/saml/new", {"name": "S", "slug": "corp", "entity_id": "https://idp",
                                                     "metadata_xml": "<not-metadata"})  # fmt: skip
    assert saml.status_code == 422 and "not SAML metadata" in saml.content.decode()
    none = client.post("/settings/sign-in/saml/new", {"name": "S", "slug": "corp", "entity_id": "https://idp"})
    assert none.status_code == 422 and "metadata URL or paste" in none.content.decode()
    assert not SocialApp.objects.exists()


def test_rules_are_added_and_removed(client, staff_admin, first_level):
    client.force_login(staff_admin)
    data = {"provider": "", "claim": "groups", "value": "support", "role": Role.AGENT, "group": first_level.pk,
            "position": 5}  # fmt: skip
    assert client.post("/settings/sign-in/rules/new", data).status_code == 302
    rule = ClaimRule.objects.get()
    assert (rule.claim, rule.value, rule.group) == ("groups", "support", first_level)
    assert client.post("/settings/sign-in/rules/new", {**data, "role": "customer", "claim": ""}).status_code == 422
    client.post(f"/settings/sign-in/rules/{rule.pk}/delete")
    assert not ClaimRule.objects.exists()


def test_sso_only_needs_a_provider_first(client, staff_admin):
    client.force_login(staff_admin)
    refused = client.post("/settings/sign-in/policy", {"agents_sso_only": "on", "require_two_factor": "on"})
    assert refused.status_code == 422 and "Add an identity provider first" in refused.content.decode()
    assert SignInPolicy.current().agents_sso_only is False
    SocialApp.objects.create(provider="openid_connect", provider_id="p", name="P", client_id="c", secret="s")
    assert client.post("/settings/sign-in/policy", {"agents_sso_only": "on"}).status_code == 302
    assert SignInPolicy.current().agents_sso_only is True
    # The last provider cannot go while agents depend on it.
    client.post(f"/settings/sign-in/providers/{SocialApp.objects.get().pk}/delete")
    assert SocialApp.objects.exists()


def test_the_settings_menu_links_the_page(client, staff_admin):
    client.force_login(staff_admin)
    assert 'href="/settings/sign-in/"' in client.get("/settings/").content.decode()
