"""Inviting by mail: the user is created without a password, the mail's link lets them choose
one and signs them in; a used, replaced or expired link says so."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone

from sportello.accounts.models import User
from sportello.accounts.team import INVITE_DAYS
from sportello.audit.models import Action, AuditEvent
from tests.conftest import client_for
from tests.web.conftest import page_text

pytestmark = pytest.mark.django_db

USERS = "/settings/users/"
GOOD = "a long enough pass phrase"


@pytest.fixture(autouse=True)
def _mail_after_commit(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """The invitation leaves through the outbox once the request's transaction commits."""
    global _committing
    _committing = django_capture_on_commit_callbacks
    yield
    _committing = None


_committing = None


def _post(client: Client, url: str, data: dict[str, object] | None = None, **kwargs: object) -> object:
    with _committing(execute=True):  # type: ignore[misc]
        return client.post(url, data or {}, **kwargs)


def _invite(client: Client, **extra: object) -> object:
    data = {"email": "Nora@Example.org", "first_name": "Nora", "last_name": "Neri", "role": "agent", **extra}
    return _post(client, USERS, data)


def _link(message: mail.EmailMessage) -> str:
    found = re.search(r"https?://[^/\s]+(/accounts/invitation/\S+/)", message.body)
    assert found, message.body
    return found.group(1)


def test_an_invited_agent_sets_a_password_and_lands_in_the_inbox(admin, first_level):
    client = client_for(admin)
    response = _invite(client, groups=[first_level.pk], language="it")
    assert response.status_code == 302
    nora = User.objects.get(email="nora@example.org")
    assert (nora.username, nora.role, nora.is_active, nora.has_usable_password()) == (
        "nora@example.org",
        "agent",
        True,
        False,
    )
    assert [g.name for g in nora.support_groups.all()] == ["First level"]
    html = page_text(client.get(USERS))
    assert "Invitation sent to nora@example.org." in html and "Resend invitation" in html
    [message] = mail.outbox
    assert message.to == ["nora@example.org"]
    assert message.subject  # in Italian, the invitee's language
    link = _link(message)

    invitee = Client()
    page = invitee.get(link)
    assert page.status_code == 200 and "nora@example.org" in page_text(page)
    mismatch = invitee.post(link, {"password1": GOOD, "password2": GOOD + "!"})
    assert mismatch.status_code == 422 and "The two passwords differ." in page_text(mismatch)
    weak = invitee.post(link, {"password1": "short", "password2": "short"})
    assert weak.status_code == 422 and "too short" in page_text(weak)
    done = invitee.post(link, {"password1": GOOD, "password2": GOOD})
    assert done.status_code == 302 and done["Location"] == "/"
    assert invitee.get("/").status_code == 200  # signed in, in the inbox
    assert Client().login(username="nora@example.org", password=GOOD)

    # The link is spent.
    again = Client().get(link)
    assert again.status_code == 410 and "already used" in page_text(again)
    # The trail has the invitation (the creation) with who made it, and the sign-in.
    events = AuditEvent.objects.filter(action=Action.PERMISSION_CHANGED, target_id=str(nora.pk))
    [created] = [event for event in events if "invited" in event.after]
    assert created.actor_label == "ada_admin" and created.after["role"] == "agent"
    assert AuditEvent.objects.filter(action=Action.SIGN_IN, target_id=str(nora.pk)).exists()


def test_an_expired_link_says_so(admin):
    _invite(client_for(admin))
    link = _link(mail.outbox[0])
    with time_machine.travel(timezone.now() + timedelta(days=INVITE_DAYS, minutes=1)):
        response = Client().get(link)
        assert response.status_code == 410
        assert "This invitation expired" in page_text(response)
        posted = Client().post(link, {"password1": GOOD, "password2": GOOD})
        assert posted.status_code == 410
    assert not User.objects.get(email="nora@example.org").has_usable_password()


def test_a_forged_link_is_refused(admin):
    _invite(client_for(admin))
    link = _link(mail.outbox[0])
    response = Client().get(link.replace("/invitation/", "/invitation/x"))
    assert response.status_code == 410 and "not valid" in page_text(response)


def test_resending_mails_a_new_link_and_the_old_one_stops(admin):
    client = client_for(admin)
    _invite(client)
    nora = User.objects.get(email="nora@example.org")
    old = _link(mail.outbox[0])
    response = _post(client, f"/settings/users/{nora.pk}/resend", follow=True)
    assert "A new invitation was sent to nora@example.org" in page_text(response)
    assert len(mail.outbox) == 2
    new = _link(mail.outbox[1])
    assert new != old
    assert "newer invitation" in page_text(Client().get(old))
    assert Client().get(new).status_code == 200


def test_no_resend_once_accepted(admin, agent):
    response = _post(client_for(admin), f"/settings/users/{agent.pk}/resend", follow=True)
    assert "already accepted the invitation" in page_text(response)
    assert mail.outbox == []


def test_a_deactivated_invitee_cannot_accept(admin):
    client = client_for(admin)
    _invite(client)
    nora = User.objects.get(email="nora@example.org")
    client.post(f"/settings/users/{nora.pk}/active", {"active": "false"})
    response = Client().get(_link(mail.outbox[0]))
    assert response.status_code == 410 and "no longer active" in page_text(response)


def test_invitations_are_validated(admin, agent):
    client = client_for(admin)
    for data, message in [
        ({"email": "ALICE_agent@sportello.test"}, "Someone here already has this address."),
        ({"email": "nope"}, "Enter a valid email address."),
        ({"role": "customer"}, "Select a valid choice."),
        ({"first_name": ""}, "This field is required."),
    ]:
        response = _invite(client, **data)
        assert response.status_code == 422, data
        assert message in page_text(response), data
    assert mail.outbox == [] and not User.objects.filter(first_name="Nora").exists()


def test_while_agents_must_use_single_sign_on_the_new_password_does_not_sign_in(admin):
    from sportello.sso.models import SignInPolicy

    SignInPolicy.objects.create(pk=1, agents_sso_only=True)
    _invite(client_for(admin))
    invitee = Client()
    done = invitee.post(_link(mail.outbox[0]), {"password1": GOOD, "password2": GOOD}, follow=True)
    assert done.redirect_chain[-1][0].startswith("/accounts/login/")
    assert "Your password is set. Sign in as your help desk asks you to." in page_text(done)
    assert invitee.get("/").status_code == 302  # not signed in
