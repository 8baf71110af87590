"""An admin writes a trigger in the UI, and the next ticket from the web form gets its actions."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from sportello.tickets.models import Ticket
from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_trigger_made_in_the_admin_acts_on_the_next_ticket(browser, live_server, admin, agent):
    page = browser.new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", admin.username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name=re.compile("Log in", re.I)).click()
    page.goto(f"{live_server.url}/admin/automation/trigger/add/")
    page.fill("#id_name", "Refunds are urgent")
    page.select_option("#id_event", "ticket_created")
    page.fill("#id_conditions", json.dumps([{"field": "text", "op": "contains", "value": "refund"}]))
    page.fill(
        "#id_actions", json.dumps([{"type": "set_priority", "priority": 4}, {"type": "add_tags", "tags": ["refund"]}])
    )
    page.locator("input[name=_save]").click()
    expect(page.locator(".messagelist")).to_contain_text("Refunds are urgent")

    # A broken definition is refused with the reason, in the same form.
    page.goto(f"{live_server.url}/admin/automation/trigger/add/")
    page.fill("#id_name", "Broken")
    page.select_option("#id_event", "ticket_created")
    page.fill("#id_actions", json.dumps([{"type": "set_priority", "priority": 9}]))
    page.locator("input[name=_save]").click()
    expect(page.locator(".errorlist")).to_contain_text("priority must be 1, 2, 3 or 4")
    page.close()

    customer = browser.new_page()
    customer.goto(f"{live_server.url}/support/new")
    customer.fill("#id_name", "Greta Verdi")
    customer.fill("#id_email", "greta@example.org")
    customer.fill("#id_subject", "Money back please")
    customer.fill("#id_message", "I would like a refund for order 1234.")
    customer.get_by_role("button", name="Send").click()
    number = int(re.search(r"#?(\d+)", customer.locator(".ticket-number").inner_text()).group(1))  # type: ignore[union-attr]
    customer.close()

    agent_page = browser.new_page()
    sign_in(agent_page, live_server, agent)
    agent_page.goto(f"{live_server.url}/tickets/{number}/")
    expect(agent_page.locator(".history")).to_contain_text("Automation")
    ticket = Ticket.objects.get(number=number)
    assert ticket.priority == 4 and list(ticket.tags.values_list("name", flat=True)) == ["refund"]
