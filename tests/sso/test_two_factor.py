"""Two-factor (allauth.mfa) through the password sign-in: TOTP with real codes, recovery codes,
the "require two-factor" switch, and the "agents must use single sign-on" switch with its break-glass."""

from __future__ import annotations

import base64
import hmac
import struct
import time
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialApp
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from sportello.audit.models import Action, AuditEvent
from sportello.sso.models import SignInPolicy
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def totp_code(secret: str, at: float | None = None) -> str:
    """RFC 6238 (SHA-1, 6 digits, 30 s), computed here, not by the code under test."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(at if at is not None else time.time()) // 30), "sha1").digest()
    offset = digest[-1] & 0x0F
    return f"{(int.from_bytes(digest[offset : offset + 4], 'big') & 0x7FFFFFFF) % 1_000_000:06d}"


def password_sign_in(client: Client, username: str, password: str = PASSWORD):
    return client.post("/accounts/login/", {"username": username, "password": password, "next": "/"})


def activate_totp(client: Client, user) -> str:
    """Sign in and set up an authenticator app as the user would: read the secret, type a code."""
    assert password_sign_in(client, user.username)["Location"] == "/"
    page = client.get("/auth/2fa/totp/activate/")
    assert page.status_code == 200
    secret = page.context["form"].secret
    assert 'src="data:image/svg+xml;base64,' in page.content.decode()  # the QR code, as SVG, no CDN
    with time_machine.travel(timezone.now(), tick=False):  # the code and its check in one 30 s step
        done = client.post("/auth/2fa/totp/activate/", {"code": totp_code(secret)})
    assert done.status_code == 302, done.context["form"].errors
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    client.post("/accounts/logout/")
    return secret


def later(minutes: int = 2):
    """Past the 30-second step, so that a code is not refused as already used; time stands still,
    so a code and its check never straddle two steps."""
    return time_machine.travel(timezone.now() + timedelta(minutes=minutes), tick=False)


def test_a_right_totp_code_signs_in_and_a_wrong_one_does_not(client, agent):
    secret = activate_totp(client, agent)
    with later():
        first = password_sign_in(client, agent.username)
        assert first["Location"] == "/auth/2fa/authenticate/"
        assert client.get("/")["Location"].startswith("/accounts/login/")  # not signed in yet
        wrong = client.post(
            "/auth/2fa/authenticate/", {"code": "000000" if totp_code(secret) != "000000" else "111111"}
        )
        assert wrong.status_code == 200 and "Incorrect code" in wrong.content.decode()
        assert client.get("/")["Location"].startswith("/accounts/login/")
        right = client.post("/auth/2fa/authenticate/", {"code": totp_code(secret)})
        assert right.status_code == 302 and right["Location"] == "/"
        assert client.get("/").status_code == 200
    assert AuditEvent.objects.filter(action=Action.SIGN_IN, actor=agent).count() == 2  # set-up, then this one


def test_a_recovery_code_works_once(client, agent):
    activate_totp(client, agent)
    codes = Authenticator.objects.get(user=agent, type=Authenticator.Type.RECOVERY_CODES).wrap().get_unused_codes()
    assert len(codes) == 10
    password_sign_in(client, agent.username)
    assert client.post("/auth/2fa/authenticate/", {"code": codes[0]})["Location"] == "/"
    page = client.get("/auth/two-factor/").content.decode()
    assert "9 unused codes left" in page
    client.post("/accounts/logout/")
    password_sign_in(client, agent.username)
    again = client.post("/auth/2fa/authenticate/", {"code": codes[0]})
    assert again.status_code == 200 and "Incorrect code" in again.content.decode()


def test_recovery_codes_can_be_seen_and_made_anew(client, agent):
    activate_totp(client, agent)
    password_sign_in(client, agent.username)
    secret_step = client.get("/auth/2fa/authenticate/")
    assert secret_step.status_code == 200
    old = Authenticator.objects.get(user=agent, type=Authenticator.Type.RECOVERY_CODES).wrap().get_unused_codes()
    client.post("/auth/2fa/authenticate/", {"code": old[1]})
    shown = client.get("/auth/2fa/recovery-codes/")
    assert shown.status_code == 200 and old[2] in shown.content.decode()
    assert client.post("/auth/2fa/recovery-codes/generate/")["Location"] == "/auth/2fa/recovery-codes/"
    new = Authenticator.objects.get(user=agent, type=Authenticator.Type.RECOVERY_CODES).wrap().get_unused_codes()
    assert len(new) == 10 and not set(new) & set(old)


def test_required_two_factor_sends_an_agent_without_it_to_set_up(client, agent):
    SignInPolicy.objects.create(pk=1, require_two_factor=True)
    assert password_sign_in(client, agent.username)["Location"] == "/"
    inbox = client.get("/")
    assert inbox.status_code == 302 and inbox["Location"] == "/auth/two-factor/?required=1"
    page = client.get(inbox["Location"]).content.decode()
    assert "Your administrator requires two-factor authentication" in page
    # Setting it up is allowed; then the inbox opens.
    secret = client.get("/auth/2fa/totp/activate/").context["form"].secret
    with time_machine.travel(timezone.now(), tick=False):
        client.post("/auth/2fa/totp/activate/", {"code": totp_code(secret)})
    assert client.get("/").status_code == 200


def test_required_two_factor_leaves_customers_alone(client, customer_user):
    SignInPolicy.objects.create(pk=1, require_two_factor=True)
    password_sign_in(client, customer_user.username)
    assert "two-factor" not in client.get("/portal/", follow=True).redirect_chain.__str__()


@pytest.fixture
def sso_only(db) -> SignInPolicy:
    SocialApp.objects.create(
        provider="openid_connect", provider_id="staff-idp", name="Staff", client_id="x", secret="y"
    )
    return SignInPolicy.objects.create(pk=1, agents_sso_only=True)


def test_sso_only_refuses_an_agents_right_password_with_a_clear_message(client, agent, sso_only):
    response = password_sign_in(client, agent.username)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Agents sign in through single sign-on" in page and "Staff" in page
    assert client.get("/")["Location"].startswith("/accounts/login/")
    assert AuditEvent.objects.filter(action=Action.SIGN_IN_FAILED, actor_label=agent.username).exists()


def test_sso_only_keeps_the_break_glass_superuser_and_customers(client, admin, customer_user, sso_only):
    assert password_sign_in(client, admin.username)["Location"] == "/"
    assert client.get("/").status_code == 200
    client.post("/accounts/logout/")
    assert password_sign_in(Client(), customer_user.username).status_code == 302


def test_the_break_glass_command_turns_the_switches_off(sso_only):
    out = StringIO()
    call_command("sso_policy", "--allow-passwords", stdout=out)
    assert "agents must use single sign-on: no" in out.getvalue()
    assert SignInPolicy.current().agents_sso_only is False


def test_the_two_factor_page_is_for_signed_in_agents(client, customer_user):
    assert client.get("/auth/two-factor/")["Location"].startswith("/accounts/login/")
    client.force_login(customer_user)
    assert client.get("/auth/two-factor/").status_code == 403


def test_allauths_own_sign_up_and_password_pages_are_not_there(client):
    for path in ("/auth/signup/", "/auth/password/reset/", "/auth/email/"):
        assert client.get(path).status_code == 404
    assert client.get("/auth/login/?next=/x")["Location"] == "/accounts/login/?next=/x"


def test_the_passkeys_page_behind_manage_opens(client, agent):
    """The two-factor page's "Manage" button leads to allauth's passkey list, which must render
    (it loads django.contrib.humanize). The passkey is stored as allauth stores one; signing in
    with it is the browser test's (tests/browser/test_two_factor.py)."""
    Authenticator.objects.create(
        user=agent, type=Authenticator.Type.WEBAUTHN, data={"name": "Work laptop", "credential": {}}
    )
    client.force_login(agent)
    overview = client.get("/auth/two-factor/").content.decode()
    assert 'href="/auth/2fa/webauthn/"' in overview
    page = client.get("/auth/2fa/webauthn/")
    assert page.status_code == 200 and "Work laptop" in page.content.decode()
