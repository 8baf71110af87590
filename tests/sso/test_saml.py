"""Single sign-on through a real SAML 2.0 identity provider (pysaml2 on loopback): the service
provider's redirect, the IdP's signed response posted back to the ACS, the account made by rules."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlsplit

import httpx
import pytest
from django.test import Client

from sportello.accounts.models import Group, Role, User
from sportello.sso import services
from sportello.sso.models import ClaimRule
from tests.sso.conftest import Idp

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_saml(saml_idp: Idp) -> Idp:
    services.save_saml_provider(
        None, name="Staff SAML", slug="staff-saml", entity_id=f"{saml_idp.url}/metadata",
        metadata_url=f"{saml_idp.url}/metadata", metadata_xml="",
    )  # fmt: skip
    client = Client(HTTP_HOST="127.0.0.1")
    ours = client.get("/auth/saml/staff-saml/metadata/")
    assert ours.status_code == 200
    httpx.post(f"{saml_idp.url}/service-providers", content=ours.content).raise_for_status()
    return saml_idp


def sign_in_with_saml(client: Client, email: str, next_url: str = "/") -> object:
    client.defaults["HTTP_HOST"] = "127.0.0.1"  # as browsers send it; python3-saml wants a dotted host or IP
    start = client.post("/auth/saml/staff-saml/login/", {"next": next_url})
    assert start.status_code == 302, start.content[:500]
    with httpx.Client(timeout=30) as browser:
        form_page = browser.get(start["Location"])
        fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form_page.text))
        fields = {k: unescape(v) for k, v in fields.items()}
        answer = browser.post(httpx.URL(start["Location"]).join("/sso/login"), data={**fields, "email": email})
    assert answer.status_code == 200, answer.text[-1500:]
    # The auto-posting form a browser would send to the ACS.
    action = unescape(re.search(r'action="([^"]+)"', answer.text).group(1))
    posted = {k: unescape(v) for k, v in re.findall(r'name="([^"]+)" value="([^"]*)"', answer.text)}
    acs = client.post(urlsplit(action).path, posted)
    while acs.status_code == 302 and acs["Location"].startswith("/auth/"):
        acs = client.get(acs["Location"])
    return acs


def test_a_saml_sign_in_makes_an_agent_from_the_attributes(client, staff_saml):
    support = Group.objects.create(name="Support desk")
    ClaimRule.objects.create(claim="email_domain", value="staff.example", role=Role.AGENT, group=support)
    response = sign_in_with_saml(client, "ana@staff.example")
    assert response.status_code == 302 and response["Location"] == "/"
    ana = User.objects.get(email="ana@staff.example")
    assert ana.role == Role.AGENT and list(ana.support_groups.all()) == [support]
    assert client.get("/").status_code == 200


def test_a_saml_user_no_rule_lets_in_is_refused(client, staff_saml):
    ClaimRule.objects.create(claim="email_domain", value="staff.example", role=Role.AGENT)
    response = sign_in_with_saml(client, "zed@elsewhere.example")
    assert response.status_code == 403
    assert "You cannot sign in to this help desk" in response.content.decode()
    assert not User.objects.filter(email="zed@elsewhere.example").exists()


def test_pasted_metadata_is_read_into_the_sign_on_url_and_certificate(saml_idp):
    xml = httpx.get(f"{saml_idp.url}/metadata").text
    app = services.save_saml_provider(
        None, name="Pasted", slug="pasted", entity_id=f"{saml_idp.url}/metadata", metadata_url="", metadata_xml=xml
    )
    idp = app.settings["idp"]
    assert idp["sso_url"] == f"{saml_idp.url}/sso/redirect" and len(idp["x509cert"]) > 500
