"""Triggers: when <event> and <conditions> then <actions>, once per event, with loops bounded."""

from __future__ import annotations

import logging

import pytest
from django.core import mail

from sportello.automation.models import TriggerRun
from sportello.automation.services import MAX_DEPTH
from sportello.customers.services import Sender
from sportello.tickets import statuses
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import StatusCategory, Ticket
from sportello.tickets.services import TicketChanges, add_note, reply_to_ticket, update_ticket

pytestmark = pytest.mark.django_db


def fresh(ticket: Ticket) -> Ticket:
    return Ticket.objects.select_related("status", "group", "assignee").get(pk=ticket.pk)


def test_a_new_ticket_matching_the_conditions_gets_the_actions(make_trigger, write_in, second_level):
    make_trigger(
        "ticket_created",
        conditions=[{"field": "text", "op": "contains", "value": "refund"}],
        actions=[
            {"type": "set_priority", "priority": 4},
            {"type": "set_group", "group": second_level.pk},
            {"type": "add_tags", "tags": ["billing"]},
        ],
        name="Refunds are urgent",
    )
    urgent = fresh(write_in("Money back", "I want a refund for order 42"))
    calm = fresh(write_in("Question", "Where is my parcel?"))

    assert (urgent.priority, urgent.group, list(urgent.tags.values_list("name", flat=True))) == (
        4,
        second_level,
        ["billing"],
    )
    assert calm.priority == 2 and calm.group is None and not calm.tags.exists()
    change = urgent.changes.get(field="priority")
    assert change.actor.first_name == "Automation" and change.new_value == "Urgent"


def test_any_match_fires_when_one_condition_holds(make_trigger, write_in):
    make_trigger(
        "ticket_created",
        match="any",
        conditions=[
            {"field": "channel", "op": "is", "value": "phone"},
            {"field": "customer_email", "op": "contains", "value": "@vip.example"},
        ],
        actions=[{"type": "add_tags", "tags": ["vip"]}],
    )
    assert fresh(write_in(email="boss@vip.example")).tags.filter(name="vip").exists()
    assert not fresh(write_in(email="someone@else.example")).tags.exists()


def test_customer_replied_fires_on_a_reply_but_not_on_the_opening_message(
    make_trigger, write_in, agent, django_capture_on_commit_callbacks
):
    make_trigger("customer_replied", actions=[{"type": "set_status", "status": "open"}])
    ticket = write_in()
    assert not TriggerRun.objects.exists()  # the first message opened the ticket; nobody replied yet
    with django_capture_on_commit_callbacks(execute=True):
        update_ticket(ticket, agent, TicketChanges(status=statuses.builtin(StatusCategory.PENDING)))
    assert fresh(ticket).state == StatusCategory.PENDING
    with django_capture_on_commit_callbacks(execute=True):
        ingest(
            Inbound(
                channel="email",
                sender=Sender(name="Carla", email="carla@example.com"),
                subject="Re",
                body_text="Still burning",
                ticket=ticket,
                acknowledge=False,
            )
        )
    assert fresh(ticket).state == StatusCategory.OPEN
    assert TriggerRun.objects.filter(ticket=ticket).count() == 1


def test_agent_reply_and_note_events(make_trigger, write_in, agent, django_capture_on_commit_callbacks):
    make_trigger("agent_replied", actions=[{"type": "add_tags", "tags": ["answered"]}])
    make_trigger("note_added", actions=[{"type": "add_tags", "tags": ["discussed"]}])
    ticket = write_in()
    with django_capture_on_commit_callbacks(execute=True):
        add_note(ticket, agent, body_text="Looking into it")
    assert set(fresh(ticket).tags.values_list("name", flat=True)) == {"discussed"}
    with django_capture_on_commit_callbacks(execute=True):
        reply_to_ticket(ticket, agent, body_text="We are on it")
    assert set(fresh(ticket).tags.values_list("name", flat=True)) == {"discussed", "answered"}


def test_a_trigger_never_fires_twice_for_the_same_event(make_trigger, write_in):
    from sportello.automation.services import run_triggers

    make_trigger("ticket_created", actions=[{"type": "add_note", "body": "Welcome #{{ ticket.number }}"}])
    ticket = write_in()
    assert ticket.entries.filter(internal=True).count() == 1
    assert run_triggers(ticket.pk, "ticket_created", "created") == []  # the event delivered again
    assert ticket.entries.filter(internal=True).count() == 1
    note = ticket.entries.get(internal=True)
    assert f"Welcome #{ticket.number}" in note.body_text and "Trigger" in note.body_text


def test_two_triggers_undoing_each_other_stop_at_the_depth_bound(
    make_trigger, write_in, agent, caplog, django_capture_on_commit_callbacks
):
    make_trigger(
        "status_changed",
        conditions=[{"field": "state", "op": "is", "value": "pending"}],
        actions=[{"type": "set_status", "status": "open"}],
        name="reopen",
    )
    make_trigger(
        "status_changed",
        conditions=[{"field": "state", "op": "is", "value": "open"}],
        actions=[{"type": "set_status", "status": "pending"}],
        name="park",
    )
    ticket = write_in()
    with (
        caplog.at_level(logging.WARNING, logger="sportello.automation"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        update_ticket(ticket, agent, TicketChanges(status=statuses.builtin(StatusCategory.PENDING)))
    runs = TriggerRun.objects.filter(ticket=ticket).count()
    # Each event may fire both triggers (each sees the other's change), so a level at most doubles.
    assert 2 <= runs <= 2 * 2**MAX_DEPTH
    assert "automation stopped at depth" in caplog.text
    assert fresh(ticket).changes.filter(field="status").count() == runs + 1


def test_later_triggers_see_what_earlier_ones_changed(make_trigger, write_in):
    make_trigger("ticket_created", actions=[{"type": "set_priority", "priority": 3}], position=1)
    make_trigger(
        "ticket_created",
        conditions=[{"field": "priority", "op": "gte", "value": 3}],
        actions=[{"type": "add_tags", "tags": ["hot"]}],
        position=2,
    )
    assert fresh(write_in()).tags.filter(name="hot").exists()


def test_send_email_action_mails_the_customer_with_placeholders(make_trigger, write_in):
    make_trigger(
        "ticket_created",
        actions=[
            {
                "type": "send_email",
                "to": "customer",
                "subject": "We got it",
                "body": "Dear {{ customer.first_name }}, your request {{ ticket.number }} is in. {{ unknown.thing }}",
            }
        ],
    )
    ticket = write_in()
    [sent] = mail.outbox
    assert sent.to == ["carla@example.com"] and f"[#{ticket.number}]" in sent.subject
    assert f"Dear Carla, your request {ticket.number} is in. {{{{ unknown.thing }}}}" in sent.body
    assert sent.extra_headers["Auto-Submitted"] == "auto-generated"
    assert ticket.changes.filter(field="notification").exists()


def test_no_mail_goes_to_a_customer_whose_mail_came_from_a_machine(
    make_trigger, mail_message, django_capture_on_commit_callbacks
):
    from sportello.mail.services import receive_raw

    make_trigger("ticket_created", actions=[{"type": "send_email", "to": "customer", "subject": "Hi", "body": "Hello"}])
    with django_capture_on_commit_callbacks(execute=True):
        receive_raw(mail_message(Auto_Submitted="auto-replied", subject="Out of office"), source="import")
        # A loop mark of another help desk, and Exchange's "answer this automatically with nothing".
        looped = mail_message(sender="desk@other.example", X_Loop="desk@other.example", subject="Loop")
        receive_raw(looped, source="import")
        suppressed = mail_message(sender="ex@corp.example", X_Auto_Response_Suppress="All", subject="Do not answer")
        receive_raw(suppressed, source="import")
        receive_raw(mail_message(sender="Paolo <paolo@example.com>", subject="A person"), source="import")
    assert [m.to for m in mail.outbox if m.subject.endswith("Hi")] == [["paolo@example.com"]]


def test_a_rule_naming_a_deleted_agent_fails_softly(make_trigger, write_in, agent):
    make_trigger("ticket_created", actions=[{"type": "set_assignee", "assignee": agent.pk}])
    agent.is_active = False
    agent.save()
    ticket = write_in()  # the intake itself must not fail because a rule is wrong
    run = TriggerRun.objects.get(ticket=ticket)
    assert run.outcome.startswith("failed:") and fresh(ticket).assignee is None


def test_reply_and_solve_and_a_customer_reopening_are_status_changes(
    make_trigger, write_in, agent, django_capture_on_commit_callbacks
):
    make_trigger(
        "status_changed",
        conditions=[{"field": "state", "op": "in", "value": ["solved", "open"]}],
        actions=[{"type": "add_note", "body": "Now {{ ticket.status }}"}],
    )
    ticket = write_in()
    with django_capture_on_commit_callbacks(execute=True):
        reply_to_ticket(ticket, agent, body_text="Done", status=statuses.builtin(StatusCategory.SOLVED))
    with django_capture_on_commit_callbacks(execute=True):
        ingest(
            Inbound(
                channel="email",
                sender=Sender(name="Carla", email="carla@example.com"),
                subject="Re",
                body_text="It broke again",
                ticket=ticket,
                acknowledge=False,
            )
        )
    notes = [n.split("\n")[0] for n in ticket.entries.filter(internal=True).values_list("body_text", flat=True)]
    assert notes == ["Now Solved", "Now Open"]
