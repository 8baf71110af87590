"""Passkeys as a second factor in Chromium with a virtual authenticator (Chrome DevTools Protocol's
WebAuthn domain): added on the two-factor page, then used to sign in. allauth's WebAuthn script is a
static file; the browser fixtures fail the test on any Content-Security-Policy violation."""

from __future__ import annotations

import pytest
from allauth.mfa.models import Authenticator
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def authenticator(page):  # type: ignore[no-untyped-def]
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    options = {
        "protocol": "ctap2",
        "transport": "internal",
        "hasResidentKey": True,
        "hasUserVerification": True,
        "isUserVerified": True,
        "automaticPresenceSimulation": True,
    }
    found = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})
    yield cdp, found["authenticatorId"]
    cdp.send("WebAuthn.disable")


def test_an_agent_adds_a_passkey_and_signs_in_with_it(page, live_server, agent, authenticator, settings):
    settings.MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = True  # the live server is http://localhost
    cdp, authenticator_id = authenticator
    sign_in(page, live_server, agent)
    page.goto(f"{live_server.url}/auth/two-factor/")
    expect(page.locator("#two-factor-passkeys")).to_contain_text("No passkey yet")
    page.get_by_role("link", name="Add a passkey").click()
    # allauth binds the Add button on DOMContentLoaded, after its scripts load: a click before
    # that does nothing (a button of type "button"). wait_for_url waits for the page's load.
    page.wait_for_url(lambda url: "/webauthn/add/" in url)
    page.get_by_label("Name").fill("Laptop")
    page.get_by_role("button", name="Add").click()
    page.wait_for_url(lambda url: "/webauthn/add/" not in url)
    assert Authenticator.objects.filter(user=agent, type=Authenticator.Type.WEBAUTHN).count() == 1
    assert len(cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]) == 1

    page.goto(f"{live_server.url}/auth/two-factor/")
    expect(page.locator("#two-factor-passkeys")).to_contain_text("Laptop")
    page.get_by_role("button", name="Sign out").click()

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", agent.username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/auth/2fa/authenticate/")
    page.get_by_role("button", name="Use a security key").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.locator(".profile-link")).to_have_text(agent.display_name)
