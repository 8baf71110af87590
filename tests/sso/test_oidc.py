"""Single sign-on through a real OpenID Connect provider (oidc-provider on loopback): the whole
redirect dance, accounts made at the first sign-in, role and groups from the claims, refusals."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx
import pytest
from django.test import Client

from sportello.accounts.models import Group, Role, User
from sportello.audit.models import Action, AuditEvent
from sportello.sso import services
from sportello.sso.models import ClaimRule
from tests.sso.conftest import CLIENT_ID, CLIENT_SECRET, Idp

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_idp(oidc_idp: Idp) -> Idp:
    services.save_oidc_provider(
        None,
        name="Staff login",
        provider_id="staff-idp",
        server_url=oidc_idp.url,
        client_id=CLIENT_ID,
        secret=CLIENT_SECRET,
    )
    return oidc_idp


@pytest.fixture
def rules(db) -> dict[str, Group]:
    support = Group.objects.create(name="Support desk")
    billing = Group.objects.create(name="Billing")
    ClaimRule.objects.create(claim="groups", value="sportello-admins", role=Role.ADMIN, position=1)
    ClaimRule.objects.create(claim="groups", value="support", role=Role.AGENT, group=support, position=2)
    ClaimRule.objects.create(claim="groups", value="billing", role=Role.LIGHT_AGENT, group=billing, position=3)
    return {"support": support, "billing": billing}


def sign_in_with_provider(client: Client, email: str, next_url: str = "/") -> object:
    """Press "Staff login" on the sign-in page, sign in at the provider as `email`, and come back:
    the provider's pages are driven over HTTP as a browser would (its own sign-in and consent forms)."""
    start = client.post("/auth/oidc/staff-idp/login/", {"next": next_url})
    assert start.status_code == 302, start.content[:500]
    browser = httpx.Client(follow_redirects=False, timeout=20)
    location = start["Location"]
    for _step in range(20):
        if location.startswith("http://testserver"):
            break
        page = browser.get(location)
        if page.status_code in (302, 303):
            location = httpx.URL(location).join(page.headers["location"]).__str__()
            continue
        # The provider's development sign-in form, then its consent form: fill in and send.
        action = page.text.split('action="', 1)[1].split('"', 1)[0]
        data = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
        if 'name="login"' in page.text:
            data.update(login=email, password="anything")
        reply = browser.post(httpx.URL(location).join(action), data=data)
        assert reply.status_code in (302, 303), reply.text[:500]
        location = httpx.URL(location).join(reply.headers["location"]).__str__()
    else:
        raise AssertionError("the provider never sent the browser back")
    browser.close()
    back = urlsplit(location)
    return client.get(f"{back.path}?{back.query}")


def test_first_sign_in_makes_an_agent_with_the_role_and_groups_of_the_claims(client, staff_idp, rules):
    response = sign_in_with_provider(client, "ana@staff.example", next_url="/")
    assert response.status_code == 302 and response["Location"] == "/"
    ana = User.objects.get(email="ana@staff.example")
    # "support" is the first matching rule: agent; "billing" matches too and adds its group.
    assert ana.role == Role.AGENT
    assert set(ana.support_groups.values_list("name", flat=True)) == {"Support desk", "Billing"}
    assert ana.first_name == "Ana" and ana.last_name == "Bianchi"
    assert not ana.has_usable_password()
    inbox = client.get("/")
    assert inbox.status_code == 200 and "Ana Bianchi" in inbox.content.decode()
    assert AuditEvent.objects.filter(action=Action.SIGN_IN, actor=ana).exists()


def test_the_next_sign_in_follows_the_provider(client, staff_idp, rules):
    sign_in_with_provider(client, "leo@staff.example")
    leo = User.objects.get(email="leo@staff.example")
    assert leo.role == Role.ADMIN
    leo.role = Role.AGENT
    leo.save()
    client.post("/accounts/logout/")
    sign_in_with_provider(client, "leo@staff.example")
    leo.refresh_from_db()
    assert leo.role == Role.ADMIN
    assert User.objects.filter(email="leo@staff.example").count() == 1


def test_an_existing_agent_is_signed_in_to_their_own_account(client, staff_idp, rules, agent):
    agent.email = "ana@staff.example"
    agent.save()
    sign_in_with_provider(client, "ana@staff.example")
    assert client.get("/").context["user"] == agent
    assert User.objects.filter(email="ana@staff.example").count() == 1


def test_a_user_no_rule_lets_in_is_refused_with_a_clear_page(client, staff_idp, rules):
    response = sign_in_with_provider(client, "zed@elsewhere.example")
    assert response.status_code == 403
    page = response.content.decode()
    assert "You cannot sign in to this help desk" in page and "zed@elsewhere.example" in page
    assert not User.objects.filter(email="zed@elsewhere.example").exists()
    assert client.get("/")["Location"].startswith("/accounts/login/")


def test_an_email_domain_rule_lets_a_whole_domain_in(client, staff_idp):
    ClaimRule.objects.create(claim="email_domain", value="Elsewhere.example", role=Role.LIGHT_AGENT)
    sign_in_with_provider(client, "zed@elsewhere.example")
    assert User.objects.get(email="zed@elsewhere.example").role == Role.LIGHT_AGENT


def test_a_rule_for_another_provider_does_not_apply(client, staff_idp):
    ClaimRule.objects.create(provider="other-idp", claim="email_domain", value="staff.example")
    assert sign_in_with_provider(client, "ana@staff.example").status_code == 403


def test_the_sign_in_page_offers_the_provider(client, staff_idp):
    page = client.get("/accounts/login/").content.decode()
    assert 'action="/auth/oidc/staff-idp/login/' in page and "Staff login" in page
