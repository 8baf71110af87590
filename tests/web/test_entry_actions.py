"""Per-mail actions on the ticket page: why a mail is threaded here, move, split, delivery state, resend."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail as outbox
from django.urls import reverse
from django.utils import timezone

from sportello.mail.addresses import reply_address
from sportello.mail.services import receive_raw
from sportello.tickets.models import DeliveryState, Entry, Ticket
from sportello.tickets.services import add_note, claim_delivery, record_delivery, reply_to_ticket
from tests.conftest import client_for
from tests.mail.conftest import make_mail
from tests.web.conftest import new_ticket, page_text

pytestmark = pytest.mark.django_db


def entry_block(html: str, entry: Entry) -> str:
    """The markup of one entry of the thread."""
    match = re.search(
        rf'<li class="entry [^"]*" id="entry-{entry.pk}".*?</li>\s*(?=<li class="entry|</ol>)', html, re.S
    )
    assert match is not None, f"entry {entry.pk} is not on the page"
    return match.group(0)


def page(user, ticket: Ticket) -> str:  # type: ignore[no-untyped-def]
    return page_text(client_for(user).get(reverse("ticket", args=[ticket.number])))


def action(name: str, ticket: Ticket, entry: Entry) -> str:
    return reverse(name, args=[ticket.number, entry.pk])


def fresh(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


def mail_ticket(**headers: str) -> tuple[Ticket, Entry]:
    row = receive_raw(make_mail(**headers))
    assert row.entry is not None, row.reason
    return row.ticket, row.entry


# --- Why threaded here -------------------------------------------------------------------------------


def test_each_mail_says_why_it_is_on_this_ticket(agent):
    ticket, first = mail_ticket()
    _, by_subject = mail_ticket(subject=f"Re: [#{ticket.number}] Printer on fire", body="Still burning")
    _, by_address = mail_ticket(sender="colleague@other.example", to=reply_address(ticket), subject="About it")
    _, by_reference = mail_ticket(
        subject="Re: Printer on fire", body="And now?", In_Reply_To=first.metadata["message_id"]
    )
    assert {e.ticket_id for e in (by_subject, by_address, by_reference)} == {ticket.pk}
    html = page(agent, ticket)
    assert "New ticket: no Message-ID, reply address or subject number named one" in entry_block(html, first)
    assert (
        f"Threaded by the number in the subject: [#{ticket.number}] from participant carla@example.com"
        in entry_block(html, by_subject)
    )
    assert f"Threaded by the signed reply address {reply_address(ticket)}" in entry_block(html, by_address)
    assert "Threaded by Message-ID: it answers " in entry_block(html, by_reference)
    assert 'data-threaded-by="references"' in entry_block(html, by_reference)


def test_a_stranger_with_a_guessed_number_gets_a_new_ticket_that_says_why(agent):
    ticket, _ = mail_ticket()
    other, entry = mail_ticket(sender="mallory@evil.example", subject=f"Re: [#{ticket.number}] let me in")
    assert other.pk != ticket.pk
    block = entry_block(page(agent, other), entry)
    assert f"New ticket: [#{ticket.number}] in the subject, but mallory@evil.example is not a participant" in block


def test_replies_and_notes_have_no_threading_line_and_no_move_menu(ticket, agent):
    ours = reply_to_ticket(ticket, agent, body_text="On our way.")
    note = add_note(ticket, agent, body_text="Called the fire brigade.")
    html = page(agent, ticket)
    for entry in (ours, note):
        block = entry_block(html, entry)
        assert "threading" not in block and "entry-menu" not in block


# --- Move ----------------------------------------------------------------------------------------------


def test_move_a_mail_to_another_ticket(agent):
    source, first = mail_ticket()
    _, wrong = mail_ticket(subject=f"Re: [#{source.number}] Printer on fire", body="Also, my invoice is wrong.")
    target = new_ticket("Invoice", email="carla@example.com")
    html = page(agent, source)
    assert f'action="{action("entry-move", source, wrong)}"' in entry_block(html, wrong)
    response = client_for(agent).post(
        action("entry-move", source, wrong), {"target": f"#{target.number}", "version": fresh(source).version}
    )
    assert response.status_code == 302 and response["Location"] == reverse("ticket", args=[source.number])
    assert list(fresh(source).entries.all()) == [first]
    assert Entry.objects.get(pk=wrong.pk).ticket_id == target.pk
    moved = entry_block(page(agent, target), wrong)
    assert f"Moved here from #{source.number} by Alice Agent" in moved
    assert fresh(source).changes.filter(field="entry_moved", new_value=f"#{target.number}", actor=agent).exists()
    assert fresh(target).changes.filter(field="entry_moved_in", old_value=f"#{source.number}", actor=agent).exists()


def test_a_stale_move_is_refused_with_what_changed(agent):
    source, _ = mail_ticket()
    _, second = mail_ticket(subject=f"Re: [#{source.number}] x", body="second")
    target = new_ticket("Other")
    seen = fresh(source).version
    mail_ticket(subject=f"Re: [#{source.number}] x", body="A third message arrived meanwhile.")
    response = client_for(agent).post(action("entry-move", source, second), {"target": target.number, "version": seen})
    assert response.status_code == 409
    assert "A third message arrived meanwhile." in page_text(response)
    assert Entry.objects.get(pk=second.pk).ticket_id == source.pk


def test_move_to_an_unknown_or_hidden_ticket_is_refused(restricted_agent, second_level):
    source, _ = mail_ticket()
    _, second = mail_ticket(subject=f"Re: [#{source.number}] x", body="second")
    Ticket.objects.filter(pk=source.pk).update(group=second_level)
    hidden = new_ticket("Not in Rita's group")
    client = client_for(restricted_agent)
    for number in (hidden.number, 999999):
        response = client.post(
            action("entry-move", source, second), {"target": number, "version": fresh(source).version}
        )
        assert response.status_code == 422 and f"No ticket #{number}" in page_text(response)
    assert Entry.objects.get(pk=second.pk).ticket_id == source.pk


def test_move_and_split_are_refused_to_those_without_rights(
    agent, light_agent, restricted_agent, customer_user, stranger
):
    source, _ = mail_ticket()
    _, second = mail_ticket(subject=f"Re: [#{source.number}] x", body="second")
    target = new_ticket("Other")
    data = {"target": target.number, "version": fresh(source).version}
    assert "entry-menu" not in page(light_agent, source)
    for user, status in ((light_agent, 403), (restricted_agent, 404), (customer_user, 403), (stranger, 403)):
        client = client_for(user)
        assert client.post(action("entry-move", source, second), data).status_code == status, user
        assert client.post(action("entry-split", source, second), data).status_code == status, user
    assert client_for(None).post(action("entry-move", source, second), data).status_code == 302  # to sign in
    assert Entry.objects.get(pk=second.pk).ticket_id == source.pk and Ticket.objects.count() == 2
    # An entry id from another ticket is not found through this one.
    assert client_for(agent).post(action("entry-move", target, second), data).status_code == 404


def test_a_reply_cannot_be_moved(ticket, agent):
    ours = reply_to_ticket(ticket, agent, body_text="On our way.")
    target = new_ticket("Other", email="carla@example.com")
    response = client_for(agent).post(
        action("entry-move", ticket, ours), {"target": target.number, "version": fresh(ticket).version}
    )
    assert response.status_code == 422 and "replies and notes stay on their ticket" in page_text(response)
    assert Entry.objects.get(pk=ours.pk).ticket_id == ticket.pk


# --- Split ---------------------------------------------------------------------------------------------


def test_split_a_mail_into_a_new_ticket(agent):
    source, _ = mail_ticket()
    _, other = mail_ticket(subject=f"Re: [#{source.number}] Printer", body="Unrelated: the scanner is broken.")
    response = client_for(agent).post(action("entry-split", source, other), {"version": fresh(source).version})
    new = Entry.objects.get(pk=other.pk).ticket
    assert new.pk != source.pk and response["Location"] == reverse("ticket", args=[new.number])
    assert new.customer_id == source.customer_id and fresh(source).entries.count() == 1
    assert f"Split out of #{source.number} by Alice Agent" in entry_block(page(agent, new), other)
    # A later reply to that mail follows it to its new ticket.
    row = receive_raw(make_mail(subject="Re: scanner", body="Any news?", In_Reply_To=other.metadata["message_id"]))
    assert row.ticket_id == new.pk and row.entry.metadata["threaded_by"] == "references"


def test_the_only_mail_of_a_ticket_has_no_menu_and_cannot_be_split(agent):
    source, only = mail_ticket()
    assert "entry-menu" not in entry_block(page(agent, source), only)
    response = client_for(agent).post(action("entry-split", source, only), {"version": fresh(source).version})
    assert response.status_code == 422 and "merge the ticket instead" in page_text(response)


# --- Delivery state and resend ------------------------------------------------------------------------


def test_delivery_states_are_shown_and_a_failed_reply_can_be_resent(ticket, agent, django_capture_on_commit_callbacks):
    queued = reply_to_ticket(ticket, agent, body_text="First")  # its task never ran (no commit here)
    assert "Queued for sending" in entry_block(page(agent, ticket), queued)
    retrying = claim_delivery(queued.pk)
    assert retrying is not None
    when = timezone.now() + timedelta(minutes=5)
    record_delivery(retrying, DeliveryState.RETRYING, error="The mail server answered 421 busy", next_attempt_at=when)
    block = entry_block(page(agent, ticket), queued)
    assert "Retrying: attempt 1 failed (The mail server answered 421 busy); next try at" in block
    assert claim_delivery(queued.pk) is None  # not due yet: nobody may take it
    Entry.objects.filter(pk=queued.pk).update(delivery=DeliveryState.FAILED, delivery_error="550 No such user")
    block = entry_block(page(agent, ticket), queued)
    assert "Delivery failed: 550 No such user" in block and "Resend" in block
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(agent).post(action("entry-resend", ticket, queued))
    assert response.status_code == 302
    assert Entry.objects.get(pk=queued.pk).delivery == DeliveryState.SENT and len(outbox.outbox) == 1
    block = entry_block(page(agent, ticket), queued)
    assert "Sent to carla@example.com" in block and "Resend" not in block


def test_resend_is_for_full_agents_and_failed_replies_only(ticket, agent, light_agent):
    ours = reply_to_ticket(ticket, agent, body_text="First")
    assert client_for(light_agent).post(action("entry-resend", ticket, ours)).status_code == 403
    response = client_for(agent).post(action("entry-resend", ticket, ours))
    assert response.status_code == 422 and "Only a failed delivery can be sent again" in page_text(response)
