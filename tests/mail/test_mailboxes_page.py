"""The admins' mailbox health page: health per mailbox, the quarantine with retry and download."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.utils import timezone

from sportello.mail.models import Mailbox, RawMessage, RawState
from sportello.mail.services import mailbox_for_token, receive_raw
from sportello.tickets.models import Ticket
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

URL = "/mail/mailboxes/"


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox.objects.create(
        address="help@example.test",
        name="Help desk",
        imap_host="imap.example.test",
        last_fetch_at=timezone.now(),
        last_error="LOGIN failed",
        last_error_at=timezone.now(),
        messages_waiting=3,
    )


@pytest.fixture
def quarantined(mailbox, mail) -> RawMessage:
    row = receive_raw(b"Subject: who sent this?\r\n\r\nbody\r\n", mailbox=mailbox, source="imap")
    assert row.state == RawState.QUARANTINED
    return row


def test_admins_see_each_mailboxs_health_and_the_quarantine(admin, mailbox, quarantined):
    response = client_for(admin).get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert "help@example.test" in page and "LOGIN failed" in page and "push only" not in page
    assert '<td class="waiting">3</td>' in page and '<td class="quarantined">1</td>' in page
    assert "who sent this?" in page and "no usable sender" in page
    assert f"/mail/raw/{quarantined.pk}/download" in page and f"/mail/raw/{quarantined.pk}/retry" in page


def test_the_settings_area_links_the_page_for_admins_only(admin, agent):
    assert URL in client_for(admin).get("/settings/").content.decode()
    assert client_for(agent).get("/settings/").status_code == 403


@pytest.mark.parametrize("who", ["agent", "light_agent", "customer_user", "stranger"])
def test_everyone_but_admins_is_refused(who, request, quarantined):
    client = client_for(request.getfixturevalue(who))
    assert client.get(URL).status_code == 403
    assert client.post(f"/mail/raw/{quarantined.pk}/retry").status_code == 403
    assert client.post(f"/mail/mailboxes/{quarantined.mailbox_id}/token").status_code == 403
    assert client.get(f"/mail/raw/{quarantined.pk}/download").status_code == 302  # to sign in as someone else
    assert RawMessage.objects.get(pk=quarantined.pk).attempts == 1
    assert Mailbox.objects.get(pk=quarantined.mailbox_id).inbound_token_hash == ""


def test_anonymous_visitors_are_sent_to_sign_in(quarantined):
    client = client_for(None)
    for response in (client.get(URL), client.post(f"/mail/raw/{quarantined.pk}/retry")):
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_retry_turns_a_quarantined_message_into_a_ticket(admin, mailbox, mail):
    with override_settings(MAIL_RATE_LIMIT=0):  # every live message is over the limit now
        row = receive_raw(mail(subject="Rate limited"), mailbox=mailbox, source="smtp")
    assert row.state == RawState.QUARANTINED
    response = client_for(admin).post(f"/mail/raw/{row.pk}/retry", follow=True)
    ticket = Ticket.objects.get(subject="Rate limited")
    assert f"now on ticket #{ticket.number}" in response.content.decode()
    assert RawMessage.objects.get(pk=row.pk).state == RawState.PROCESSED
    assert "Rate limited" not in response.content.decode().split('id="quarantine"')[1]


def test_a_retry_that_fails_again_says_why(admin, quarantined):
    response = client_for(admin).post(f"/mail/raw/{quarantined.pk}/retry", follow=True)
    assert "still quarantined" in response.content.decode()


def test_download_gives_the_raw_bytes(admin, quarantined):
    response = client_for(admin).get(f"/mail/raw/{quarantined.pk}/download")
    assert response.status_code == 200 and b"".join(response.streaming_content).startswith(b"Subject: who sent")
    assert "attachment" in response["Content-Disposition"]


def test_an_admin_creates_and_rotates_the_inbound_token_shown_once(admin, mailbox):
    client = client_for(admin)
    first = client.post(f"/mail/mailboxes/{mailbox.pk}/token")
    key = first.context["new_token"][1]
    assert first.status_code == 200 and key in first.content.decode()
    assert mailbox_for_token(key) == mailbox
    assert key not in client.get(URL).content.decode()  # only once
    second = client.post(f"/mail/mailboxes/{mailbox.pk}/token")
    assert mailbox_for_token(key) is None and mailbox_for_token(second.context["new_token"][1]) == mailbox


def test_the_page_does_a_fixed_number_of_queries(admin, mailbox, mail, django_assert_max_num_queries):
    for n in range(5):
        receive_raw(f"Subject: broken {n}\r\n\r\nx\r\n".encode(), mailbox=mailbox, source="imap")
        Mailbox.objects.create(address=f"box{n}@example.test")
    client = client_for(admin)
    client.get(URL)  # warms the per-process caches (branding, statuses) that every page shares
    with django_assert_max_num_queries(8):
        assert client.get(URL).status_code == 200
