"""Ticket use cases: replies, notes, field changes with history, optimistic concurrency, merge, split."""

from __future__ import annotations

import pytest
from django.core import mail

from sportello.core.errors import Conflict, Forbidden, InvalidInput
from sportello.customers.services import Sender
from sportello.tickets import statuses
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import DeliveryState, Priority, Status, StatusCategory, Ticket
from sportello.tickets.services import (
    TicketChanges,
    add_note,
    merge_tickets,
    reply_to_ticket,
    split_entry,
    update_ticket,
)

pytestmark = pytest.mark.django_db


def fresh(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


def test_reply_is_mailed_to_the_customer_and_opens_a_new_ticket(ticket, agent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        entry = reply_to_ticket(ticket, agent, body_text="We are on our way with an extinguisher.")
    entry.refresh_from_db()
    assert entry.delivery == DeliveryState.SENT and entry.metadata["message_id"].endswith("@sportello.localhost>")
    [message] = mail.outbox
    assert message.to == ["Carla Rossi <carla@example.com>"]
    assert message.subject == f"[#{ticket.number}] Printer on fire"
    assert "extinguisher" in message.body and "extinguisher" in message.alternatives[0][0]
    ticket = fresh(ticket)
    assert ticket.state == StatusCategory.OPEN and ticket.first_response_at is not None


def test_note_is_never_mailed(ticket, agent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        entry = add_note(ticket, agent, body_text="Customer sounds upset; be gentle.")
    assert entry.internal and entry.delivery == DeliveryState.NONE
    assert mail.outbox == []
    assert fresh(ticket).first_response_at is None


def test_reply_threads_on_the_customers_message_id(ticket, agent, django_capture_on_commit_callbacks):
    ingest(
        Inbound(
            channel="email",
            sender=Sender(email="carla@example.com"),
            body_text="Any news?",
            ticket=ticket,
            metadata={"message_id": "<abc@mail.example.com>"},
        )
    )
    with django_capture_on_commit_callbacks(execute=True):
        reply_to_ticket(ticket, agent, body_text="Soon.")
    headers = mail.outbox[0].extra_headers
    assert headers["In-Reply-To"] == "<abc@mail.example.com>"


def test_undelivered_reply_is_shown_on_the_entry(ticket, agent, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2  # nobody listens on port 1
    with django_capture_on_commit_callbacks(execute=True):
        entry = reply_to_ticket(ticket, agent, body_text="This will not arrive.")
    entry.refresh_from_db()
    # A closed port is transient: the entry waits for its next attempt (tests/mail/test_delivery.py).
    assert entry.delivery == DeliveryState.RETRYING and "refused the connection" in entry.delivery_error


def test_light_agent_may_note_but_not_reply_or_change(ticket, light_agent):
    add_note(ticket, light_agent, body_text="fine")
    with pytest.raises(Forbidden):
        reply_to_ticket(ticket, light_agent, body_text="no")
    with pytest.raises(Forbidden):
        update_ticket(ticket, light_agent, TicketChanges(priority=Priority.URGENT))


def test_customers_cannot_use_agent_services(ticket, customer_user):
    with pytest.raises(Forbidden):
        add_note(ticket, customer_user, body_text="let me in")


def test_every_change_is_history_with_who_old_and_new(ticket, agent, agent2, second_level):
    pending = statuses.builtin(StatusCategory.PENDING)
    update_ticket(
        ticket,
        agent,
        TicketChanges(
            status=pending, priority=Priority.HIGH, group=second_level, assignee=agent2, tags=["Fire", "hardware"]
        ),
    )
    rows = {c.field: c for c in fresh(ticket).changes.all()}
    assert (rows["status"].old_value, rows["status"].new_value) == ("New", "Pending")
    assert (rows["priority"].old_value, rows["priority"].new_value) == ("Normal", "High")
    assert rows["assignee"].new_value == agent2.display_name and rows["group"].new_value == "Second level"
    assert rows["tags"].new_value == "fire, hardware"
    assert {c.actor_id for c in rows.values()} == {agent.pk}
    assert fresh(ticket).version == 2, "one change set is one version, however many fields it changes"
    update_ticket(ticket, agent, TicketChanges(priority=Priority.HIGH, tags=["hardware", "fire"]))
    assert fresh(ticket).version == 2, "a change that changes nothing writes nothing"


def test_custom_status_maps_to_its_category(ticket, agent):
    answered = Status.objects.create(name="Answered", slug="answered", category=StatusCategory.PENDING)
    update_ticket(ticket, agent, TicketChanges(status=answered))
    ticket = fresh(ticket)
    assert ticket.status == answered and ticket.state == StatusCategory.PENDING


def test_stale_update_is_refused_with_what_changed(ticket, agent, agent2):
    seen = fresh(ticket).version
    update_ticket(ticket, agent2, TicketChanges(priority=Priority.URGENT), expected_version=seen)
    ingest(Inbound(channel="web", sender=Sender(email="carla@example.com"), body_text="Hurry!", ticket=ticket))
    with pytest.raises(Conflict) as refused:
        update_ticket(ticket, agent, TicketChanges(priority=Priority.LOW), expected_version=seen)
    changes = refused.value.details["changes"]
    assert [c["type"] for c in changes] == ["change", "entry"]
    assert changes[0]["field"] == "priority" and changes[0]["by"] == agent2.display_name
    assert changes[1]["excerpt"] == "Hurry!"
    assert fresh(ticket).priority == Priority.URGENT, "the stale write must not overwrite"
    with pytest.raises(Conflict):
        reply_to_ticket(ticket, agent, body_text="late", expected_version=seen)


def test_merge_moves_the_thread_and_closes_the_source(ticket, agent, customer):
    other = ingest(
        Inbound(channel="email", sender=Sender(email="carla@example.com"), subject="Fire again", body_text="Smoke!")
    ).ticket
    target = merge_tickets(other, ticket, agent)
    other = fresh(other)
    assert other.merged_into_id == ticket.pk and other.state == StatusCategory.CLOSED
    assert "Smoke!" in list(target.entries.values_list("body_text", flat=True))
    assert other.entries.count() == 0
    assert target.changes.filter(field="merge", new_value=f"#{other.number}").exists()
    # A message for the merged ticket lands on the surviving one.
    result = ingest(Inbound(channel="email", sender=Sender(email="carla@example.com"), body_text="x", ticket=other))
    assert result.ticket.pk == ticket.pk
    with pytest.raises(InvalidInput):
        merge_tickets(ticket, ticket, agent)
    with pytest.raises(InvalidInput):
        merge_tickets(ticket, other, agent)


def test_split_moves_one_message_into_a_new_ticket(ticket, agent):
    second = ingest(
        Inbound(channel="web", sender=Sender(email="carla@example.com"), body_text="Also: my invoice", ticket=ticket)
    ).entry
    new = split_entry(second, agent)
    assert new.number != ticket.number and list(new.entries.values_list("body_text", flat=True)) == ["Also: my invoice"]
    assert fresh(ticket).entries.count() == 1
    with pytest.raises(InvalidInput):
        split_entry(fresh(ticket).entries.get(), agent)


def test_unknown_priority_and_customer_assignee_are_refused(ticket, agent, customer_user):
    with pytest.raises(InvalidInput):
        update_ticket(ticket, agent, TicketChanges(priority=9))
    with pytest.raises(InvalidInput):
        update_ticket(ticket, agent, TicketChanges(assignee=customer_user))
    with pytest.raises(InvalidInput):
        update_ticket(ticket, agent, TicketChanges(subject="   "))
