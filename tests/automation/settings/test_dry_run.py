"""The dry run: the rule as typed, against one ticket, condition by condition; nothing is written."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sportello.automation.models import TimeRule, TimeRuleRun, Trigger, TriggerRun, WebhookCall
from sportello.core.models import OutboxMessage
from sportello.tickets.models import Change, Entry, Ticket
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.I)


def rule_fields(number: int, match: str = "all") -> dict:
    return {
        "name": "Printers", "event": "ticket_created", "match": match, "position": "10", "active": "on",
        "c-0-field": "subject", "c-0-op": "contains", "c-0-value": "printer",
        "c-1-field": "priority", "c-1-op": "gte", "c-1-value": "3",
        "a-0-type": "set_priority", "a-0-priority": "4",
        "a-1-type": "add_note", "a-1-body": "Printer ticket {{ ticket.number }}",
        "a-2-type": "send_email", "a-2-to": "customer", "a-2-subject": "About #{{ ticket.number }}", "a-2-body": "Hi",
        "a-3-type": "webhook", "a-3-url": "https://hooks.example.com/printers",
        "dry_run": "1", "dry_run_ticket": str(number),
    }  # fmt: skip


def result_rows(html: str) -> list[tuple[str, str]]:
    """(condition, holds) for each row of the dry run's table."""
    rows = re.findall(r'<tr data-holds="(yes|no)">\s*<td>(.*?)</td>', html, re.S)
    return [(text.strip(), holds) for holds, text in rows]


def test_each_condition_is_judged_on_the_ticket_and_the_actions_are_told(admin, ticket):
    response = client_for(admin).post("/settings/triggers/new/", rule_fields(ticket.number))
    html = response.content.decode()
    assert response.status_code == 200
    assert f"Ticket #{ticket.number}: Printer on fire" in html
    assert result_rows(html) == [("1. Subject contains printer", "yes"), ("2. Priority is at least High", "no")]
    assert "It would not act on this ticket." in html
    assert "Set priority to Urgent" in html and "Normal → Urgent" in html
    assert f"Printer ticket {ticket.number}" in html  # the note as it would be written
    assert "to carla@example.com" in html and f"About #{ticket.number}" in html
    assert "POST to https://hooks.example.com/printers" in html
    # Nothing was saved: the rule as typed is still in the form.
    assert not Trigger.objects.exists()
    assert 'value="printer"' in html


def test_with_any_condition_enough_the_same_rule_would_act(admin, ticket):
    html = client_for(admin).post("/settings/triggers/new/", rule_fields(ticket.number, match="any")).content.decode()
    assert "It would act on this ticket." in html


def test_a_dry_run_writes_nothing(admin, ticket, django_capture_on_commit_callbacks):
    trigger = Trigger.objects.create(
        name="Printers", event="ticket_created", actions=[{"type": "add_tags", "tags": ["x"]}]
    )
    client = client_for(admin)
    client.get("/settings/")  # the session is settled before counting
    before = (
        Ticket.objects.get(pk=ticket.pk).version,
        Change.objects.count(),
        Entry.objects.count(),
        TriggerRun.objects.count(),
        WebhookCall.objects.count(),
        OutboxMessage.objects.count(),
    )
    fields = rule_fields(ticket.number, match="any")
    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True) as hooks:
        response = client.post(f"/settings/triggers/{trigger.pk}/", fields)
    assert response.status_code == 200 and "It would act on this ticket." in response.content.decode()
    writes = [q["sql"] for q in queries.captured_queries if WRITE.match(q["sql"])]
    assert writes == []
    assert hooks == []
    after = (
        Ticket.objects.get(pk=ticket.pk).version,
        Change.objects.count(),
        Entry.objects.count(),
        TriggerRun.objects.count(),
        WebhookCall.objects.count(),
        OutboxMessage.objects.count(),
    )
    assert after == before
    trigger.refresh_from_db()
    assert trigger.actions == [{"type": "add_tags", "tags": ["x"]}] and trigger.conditions == []


def test_a_time_rule_dry_run_says_whether_the_ticket_waited_long_enough(admin, ticket):
    actions = [{"type": "add_tags", "tags": ["x"]}]
    rule = TimeRule.objects.create(name="Old ones", since="created", hours=48, actions=actions)
    fields = {
        "name": "Old ones", "since": "created", "hours": "48", "position": "100",
        "a-0-type": "add_tags", "a-0-tags": "old", "dry_run": "1", "dry_run_ticket": str(ticket.number),
    }  # fmt: skip
    client = client_for(admin)
    html = client.post(f"/settings/time-rules/{rule.pk}/", fields).content.decode()
    assert "It would not act on this ticket." in html and "since creation (the rule acts after 48)" in html
    with time_machine.travel(timezone.now() + timedelta(hours=49)):
        html = client.post(f"/settings/time-rules/{rule.pk}/", fields).content.decode()
    assert "It would act on this ticket." in html
    assert "Add tags: old" in html and "— → old" in html
    assert not TimeRuleRun.objects.exists()


def test_a_dry_run_needs_a_ticket_that_exists_and_rows_that_are_right(admin, ticket):
    client = client_for(admin)
    response = client.post("/settings/triggers/new/", rule_fields(999999))
    assert response.status_code == 422 and "There is no ticket #999999." in response.content.decode()
    response = client.post("/settings/triggers/new/", {**rule_fields(ticket.number), "dry_run_ticket": "abc"})
    assert response.status_code == 422 and "Type a ticket&#x27;s number." in response.content.decode()
    broken = {**rule_fields(ticket.number), "c-1-value": "lots"}
    response = client.post("/settings/triggers/new/", broken)
    html = response.content.decode()
    assert response.status_code == 422
    assert "Correct the rows marked below first." in html and "Condition 2: Priority needs a whole number" in html


def test_a_text_condition_says_it_sees_only_the_subject_in_a_dry_run(admin, ticket):
    fields = {
        **rule_fields(ticket.number),
        "c-0-field": "text", "c-0-op": "contains", "c-0-value": "room 4",
        "c-1-field": "text", "c-1-op": "contains", "c-1-value": "printer",
    }  # fmt: skip
    html = client_for(admin).post("/settings/triggers/new/", fields).content.decode()
    assert result_rows(html) == [
        ("1. Subject or message contains room 4", "no"),  # in the message, which no event brought here
        ("2. Subject or message contains printer", "yes"),
    ]
    assert "sees the subject only here" in html


def test_odd_ticket_numbers_are_explained_not_crashed_on(admin, ticket):
    client = client_for(admin)
    for odd in ("²", "12345678901234567890123", "-3", "#"):
        response = client.post("/settings/triggers/new/", {**rule_fields(ticket.number), "dry_run_ticket": odd})
        assert response.status_code == 422, odd
    assert client.post("/settings/webhooks/test/", {"source": "²:0"}).status_code == 404
