"""Snooze and spam as services: a snoozed ticket comes back open when its time comes (one batch,
a constant number of statements), earlier when the customer writes; spam leaves the inbox views."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sportello.core.errors import Forbidden, InvalidInput
from sportello.core.models import OutboxMessage
from sportello.customers.services import Sender
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import Change, StatusCategory, Ticket
from sportello.tickets.queries import TicketFilter, list_tickets
from sportello.tickets.snooze import mark_not_spam, mark_spam, presets, snooze_ticket, unsnooze_ticket, wake_snoozed

pytestmark = pytest.mark.django_db


def open_ticket(email: str = "dario@example.com") -> Ticket:
    inbound = Inbound(channel="web", sender=Sender(email=email), subject="Fire", body_text="Help", acknowledge=False)
    return ingest(inbound).ticket


def reply(ticket: Ticket, text: str) -> None:
    """The customer writes again on the ticket (a channel threaded the message onto it)."""
    sender = Sender(email="carla@example.com")
    ingest(Inbound(channel="web", sender=sender, body_text=text, ticket=ticket, acknowledge=False))


def test_a_snoozed_ticket_is_pending_and_comes_back_open_when_its_time_comes(agent, ticket):
    until = timezone.now() + timedelta(hours=2)
    snoozed = snooze_ticket(ticket, agent, until)
    assert snoozed.state == StatusCategory.PENDING and snoozed.snoozed_until == until
    assert wake_snoozed(now=until - timedelta(minutes=1)) == 0  # not yet
    assert wake_snoozed(now=until) == 1
    ticket.refresh_from_db()
    assert ticket.state == StatusCategory.OPEN and ticket.snoozed_until is None
    assert ticket.version == snoozed.version + 1
    ended = Change.objects.filter(ticket=ticket, note="Snooze ended").get()
    assert (ended.field, ended.old_value, ended.new_value) == ("status", "Pending", "Open")
    assert wake_snoozed(now=until + timedelta(minutes=5)) == 0  # woken once only


def test_the_wake_up_publishes_one_event_batch_naming_status_and_snooze(agent, ticket):
    until = timezone.now() + timedelta(hours=1)
    snooze_ticket(ticket, agent, until)
    before = OutboxMessage.objects.count()
    wake_snoozed(now=until)
    row = OutboxMessage.objects.order_by("-pk").first()
    assert OutboxMessage.objects.count() == before + 1
    assert row is not None
    [event] = row.payload["events"]
    assert event["name"] == "ticket.updated" and event["ticket_id"] == ticket.pk
    assert event["data"] == {"fields": ["status", "snooze"]}


def test_the_wake_up_costs_the_same_statements_for_one_ticket_or_thirty(agent):
    def measure(count: int) -> int:
        until = timezone.now() + timedelta(hours=1)
        for index in range(count):
            snooze_ticket(open_ticket(f"c{count}-{index}@example.com"), agent, until)
        with CaptureQueriesContext(connection) as queries:
            assert wake_snoozed(now=until) == count
        return len(queries)

    assert measure(1) == measure(30)


def test_a_customer_message_wakes_a_snoozed_ticket_early(agent, ticket):
    snooze_ticket(ticket, agent, timezone.now() + timedelta(days=3))
    reply(ticket, "Any news?")
    ticket.refresh_from_db()
    assert ticket.state == StatusCategory.OPEN and ticket.snoozed_until is None


def test_a_ticket_set_open_by_hand_is_left_alone_by_the_wake_up(agent, ticket):
    from sportello.tickets import statuses
    from sportello.tickets.services import TicketChanges, update_ticket

    until = timezone.now() + timedelta(hours=1)
    snooze_ticket(ticket, agent, until)
    update_ticket(ticket, agent, TicketChanges(status=statuses.builtin(StatusCategory.ON_HOLD)))
    assert wake_snoozed(now=until) == 0
    ticket.refresh_from_db()
    assert ticket.state == StatusCategory.ON_HOLD and ticket.snoozed_until is None


def test_unsnooze_opens_the_ticket_now(agent, ticket):
    snooze_ticket(ticket, agent, timezone.now() + timedelta(days=1))
    woken = unsnooze_ticket(ticket, agent)
    assert woken.state == StatusCategory.OPEN and woken.snoozed_until is None
    with pytest.raises(InvalidInput):
        unsnooze_ticket(woken, agent)


@pytest.mark.parametrize("delta", [timedelta(minutes=-1), timedelta(days=400)])
def test_a_snooze_into_the_past_or_too_far_is_refused(agent, ticket, delta):
    with pytest.raises(InvalidInput):
        snooze_ticket(ticket, agent, timezone.now() + delta)


def test_light_agents_cannot_snooze_or_mark_spam(light_agent, ticket):
    with pytest.raises(Forbidden):
        snooze_ticket(ticket, light_agent, timezone.now() + timedelta(days=1))
    with pytest.raises(Forbidden):
        mark_spam(ticket, light_agent)


def test_presets_are_nine_in_the_morning_in_the_current_time_zone():
    with timezone.override("Europe/Rome"):
        now = timezone.make_aware(timezone.datetime(2026, 12, 2, 22, 30))  # a Wednesday evening
        chosen = presets(now)
    assert chosen["tomorrow"].isoformat() == "2026-12-03T09:00:00+01:00"
    assert chosen["monday"].isoformat() == "2026-12-07T09:00:00+01:00"


def test_spam_leaves_every_inbox_view_but_the_spam_filter_and_comes_back(agent, ticket):
    def listed(**filters: object) -> list[int]:
        return [t.pk for t in list_tickets(agent, TicketFilter(**filters)).tickets]  # type: ignore[arg-type]

    assert ticket.pk in listed(view="open")
    spam = mark_spam(ticket, agent)
    assert spam.state == StatusCategory.SPAM
    for view in ("mine", "unassigned", "open", "pending", "on_hold", "solved"):
        assert ticket.pk not in listed(view=view)
    assert listed(state=["spam"]) == [ticket.pk]
    with pytest.raises(InvalidInput):
        mark_spam(spam, agent)
    back = mark_not_spam(spam, agent)
    assert back.state == StatusCategory.OPEN and ticket.pk in listed(view="open")


def test_a_customer_message_leaves_a_spam_ticket_in_spam(agent, ticket):
    mark_spam(ticket, agent)
    reply(ticket, "Buy now")
    ticket.refresh_from_db()
    assert ticket.state == StatusCategory.SPAM


def test_the_listeners_take_the_wake_up_events(agent, ticket, django_capture_on_commit_callbacks):
    until = timezone.now() + timedelta(hours=1)
    snooze_ticket(ticket, agent, until)
    with django_capture_on_commit_callbacks(execute=True):
        wake_snoozed(now=until)
    row = OutboxMessage.objects.order_by("-pk").first()
    assert row is not None and row.state == "done" and row.last_error == ""
