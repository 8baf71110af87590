"""A blocked address or domain: its mail is kept as a quarantine row with the reason "blocked",
opens no ticket and gets no acknowledgement; an admin can release it."""

from __future__ import annotations

import pytest
from django.core import mail as outbox

from sportello.mail.blocking import block
from sportello.mail.models import RawMessage, RawState
from sportello.mail.services import receive_raw, retry_raw
from sportello.tickets.models import Ticket

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("entry", ["spammer@example.net", "example.net", "EXAMPLE.net"])
def test_mail_from_a_blocked_sender_or_domain_is_quarantined_as_blocked(
    mail, entry, django_capture_on_commit_callbacks
):
    block(entry)
    with django_capture_on_commit_callbacks(execute=True):
        row = receive_raw(mail(sender="Spammer <Spammer@Example.net>", subject="Cheap pills"))
    assert row.state == RawState.QUARANTINED and row.reason.startswith("blocked")
    assert "spammer@example.net" in row.reason and row.ticket_id is None
    assert not Ticket.objects.filter(subject="Cheap pills").exists()
    assert outbox.outbox == []  # no acknowledgement
    assert row.file.read().startswith(b"From: Spammer")  # nothing lost


def test_other_senders_of_the_domain_and_other_domains_still_open_tickets(mail, django_capture_on_commit_callbacks):
    block("spammer@example.net")
    block("spam.example")  # a domain does not block its look-alikes
    with django_capture_on_commit_callbacks(execute=True):
        first = receive_raw(mail(sender="Nina <nina@example.net>", subject="Real question"))
        second = receive_raw(mail(sender="Olga <olga@notspam.example>", subject="Another"))
    assert first.state == RawState.PROCESSED and second.state == RawState.PROCESSED
    assert first.ticket_id and second.ticket_id


def test_an_admin_releases_a_blocked_message_into_a_ticket(mail):
    block("example.net")
    row = receive_raw(mail(sender="spammer@example.net", subject="Not spam after all"))
    released = retry_raw(row)
    assert released.state == RawState.PROCESSED and released.ticket_id
    assert RawMessage.objects.get(pk=row.pk).ticket.subject == "Not spam after all"


def test_the_block_list_is_in_the_admin(admin, client):
    client.force_login(admin)
    block("example.net", admin)
    page = client.get("/admin/mail/blockedsender/")
    assert page.status_code == 200 and b"example.net" in page.content
