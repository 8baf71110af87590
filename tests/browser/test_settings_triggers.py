"""An admin writes a trigger in the settings' builder — three conditions, two actions — tries it on a
ticket with a dry run, saves it, and an agent's change to the ticket makes it act."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from sportello.automation.models import Trigger
from sportello.tickets.models import Priority, Ticket
from tests.browser.conftest import sign_in
from tests.browser.test_accessibility import axe_source, serious_violations  # noqa: F401 - the fixture
from tests.web.conftest import new_ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_trigger_built_in_the_settings_is_dry_run_saved_and_acts(browser, live_server, admin, agent, axe_source):  # noqa: F811
    ticket = new_ticket("Printer jammed again", "Tray 2 is stuck.")
    page = browser.new_page()
    sign_in(page, live_server, admin)
    page.goto(f"{live_server.url}/settings/")
    page.get_by_role("link", name="Triggers").click()
    page.get_by_role("link", name="New trigger").click()
    page.get_by_label("Name").fill("Urgent printers")
    page.get_by_label("Event").select_option(label="Status changed")

    add_condition = page.get_by_role("button", name="Add condition")
    # Condition 1: status is Pending (the field the row starts with), chosen with the keyboard.
    add_condition.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#c-0-field")).to_be_focused()
    page.select_option("#c-0-op", "is")
    page.select_option("#c-0-value", label="Pending")
    # Condition 2: subject contains "printer" — the value becomes a text box.
    add_condition.click()
    page.select_option("#c-1-field", "subject")
    page.select_option("#c-1-op", "contains")
    page.fill("#c-1-value", "printer")
    # Condition 3: priority is at most Normal.
    add_condition.click()
    page.select_option("#c-2-field", "priority")
    page.select_option("#c-2-op", "lte")
    page.select_option("#c-2-value", label="Normal")
    expect(page.locator("#condition-rows .builder-row legend")).to_have_text(
        ["Condition 1", "Condition 2", "Condition 3"]
    )

    add_action = page.get_by_role("button", name="Add action")
    add_action.click()
    page.select_option("#a-0-type", "set_priority")
    page.select_option("#a-0-priority", label="Urgent")
    add_action.click()
    page.select_option("#a-1-type", "add_tags")
    page.get_by_label("Tags").fill("printer, escalated")
    # A row added by mistake goes again.
    add_action.click()
    page.get_by_role("button", name="Remove action 3").click()
    expect(page.locator("#action-rows .builder-row")).to_have_count(2)

    # The dry run: the ticket is New, so the first condition does not hold yet; nothing is saved.
    page.get_by_label("Ticket number").fill(str(ticket.number))
    page.get_by_role("button", name="Dry run").click()
    result = page.locator("#dry-run-result")
    expect(result).to_contain_text("It would not act on this ticket.")
    expect(result.locator("tbody tr")).to_have_count(3)
    expect(result.locator("tbody tr").nth(0)).to_contain_text("No")
    expect(result.locator("tbody tr").nth(1)).to_contain_text("Yes")
    expect(result.locator("tbody tr").nth(2)).to_contain_text("Yes")
    expect(result).to_contain_text("Normal → Urgent")
    expect(result).to_contain_text("printer, escalated")
    assert not Trigger.objects.exists()
    # The rows as typed came back with the result, and the page passes axe with them.
    expect(page.locator("#c-1-value")).to_have_value("printer")
    assert serious_violations(page, axe_source) == []

    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("“Urgent printers” saved.")
    trigger = Trigger.objects.get()
    assert trigger.event == "status_changed"
    assert trigger.conditions == [
        {"field": "status", "op": "is", "value": "pending"},
        {"field": "subject", "op": "contains", "value": "printer"},
        {"field": "priority", "op": "lte", "value": 2},
    ]
    assert trigger.actions == [
        {"type": "set_priority", "priority": 4},
        {"type": "add_tags", "tags": ["printer", "escalated"]},
    ]
    page.goto(f"{live_server.url}/settings/triggers/")
    expect(page.locator("table.automation-rules")).to_contain_text("Urgent printers")
    assert serious_violations(page, axe_source) == []
    page.close()

    # The agent sets the ticket to Pending: the trigger acts on it.
    desk = browser.new_page()
    sign_in(desk, live_server, agent)
    desk.goto(f"{live_server.url}/tickets/{ticket.number}/")
    desk.get_by_label("Status", exact=True).select_option(label="Pending")
    expect(desk.locator("#property-status")).to_contain_text("Saved: status.")
    desk.reload()
    expect(desk.get_by_label("Priority")).to_have_value(str(Priority.URGENT))
    expect(desk.get_by_label("Tags")).to_have_value("escalated, printer")  # the ticket page sorts them
    expect(desk.locator(".history")).to_contain_text("Automation")
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert fresh.priority == Priority.URGENT
    desk.close()


def test_the_other_automation_pages_pass_axe(browser, live_server, admin, axe_source, settings):  # noqa: F811
    from sportello.automation.models import WebhookCall
    from tests.automation.settings.test_webhooks_page import Receiver

    settings.WEBHOOK_ALLOW_HOSTS = ["127.0.0.1"]
    hook = Receiver(body=b"thanks")
    Trigger.objects.create(
        name="Tell the CRM", event="ticket_created", actions=[{"type": "webhook", "url": hook.url, "secret": "k"}]
    )
    WebhookCall.objects.create(url=hook.url, state="failed", attempts=5, last_status=500, last_error="Answered 500")
    page = browser.new_page()
    sign_in(page, live_server, admin)
    try:
        page.goto(f"{live_server.url}/settings/webhooks/")
        page.get_by_role("button", name="Send a test call for Tell the CRM").click()
        expect(page.locator("#test-result")).to_contain_text("200")
        expect(page.locator("#test-result")).to_contain_text("thanks")
        assert serious_violations(page, axe_source) == []

        page.goto(f"{live_server.url}/settings/time-rules/new/")
        page.get_by_role("button", name="Add condition").click()
        page.select_option("#c-0-field", "state")
        page.get_by_role("button", name="Add action").click()
        page.select_option("#a-0-type", "send_email")
        expect(page.locator("#a-0-subject")).to_be_visible()
        assert serious_violations(page, axe_source) == []

        page.goto(f"{live_server.url}/settings/macros/new/")
        page.get_by_role("button", name="Add action").click()
        expect(page.locator("#a-0-type option")).to_have_count(7)  # field changes only
        assert serious_violations(page, axe_source) == []
    finally:
        page.close()
        hook.server.shutdown()
        hook.server.server_close()
