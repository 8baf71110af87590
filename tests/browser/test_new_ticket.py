"""An agent opens tickets from the inbox: a phone call from a new customer, and an email that
starts a ticket with a customer found by search."""

from __future__ import annotations

import pytest
from django.core import mail
from playwright.sync_api import expect

from sportello.tickets.models import Ticket
from tests.browser.conftest import sign_in
from tests.browser.test_accessibility import axe_source, serious_violations  # noqa: F401 — a fixture
from tests.web.conftest import new_ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_agent_logs_a_phone_call_for_a_new_customer(page, live_server, agent, axe_source):  # noqa: F811
    sign_in(page, live_server, agent)
    page.get_by_role("link", name="New ticket").click()
    page.wait_for_url("**/tickets/new/")
    assert serious_violations(page, axe_source) == []

    page.get_by_label("Phone call from the customer").check()
    page.get_by_label("New customer's name").fill("Ugo Verdi")
    page.get_by_label("Phone number").fill("+39 06 1234 5678")
    page.get_by_label("Subject").fill("Router down")
    page.locator("#id_body").fill("My router has been down since nine.")
    page.get_by_label("Call duration (minutes)").fill("5")
    page.get_by_label("Call notes (internal)").fill("Asked him to restart it; no luck.")
    page.get_by_role("button", name="Create ticket").click()

    page.wait_for_url("**/tickets/*/")
    call = page.locator(".entry.inbound").first
    expect(call.locator(".author")).to_have_text("Ugo Verdi")
    expect(call.locator(".entry-origin")).to_contain_text("Phone call · 5 min")
    expect(call.locator(".entry-origin")).to_contain_text("recorded by Alice Agent")
    expect(call).to_contain_text("down since nine")
    expect(page.locator(".entry.internal")).to_contain_text("restart it")
    assert mail.outbox == []


def test_agent_writes_to_a_customer_found_by_search(page, live_server, agent):
    new_ticket("Earlier question", email="dora@example.org")
    sign_in(page, live_server, agent)
    page.goto(f"{live_server.url}/tickets/new/")

    page.get_by_label("Email to the customer (outbound)").check()
    page.locator("#id_body").fill("Your replacement ships tomorrow.")
    page.get_by_label("Find a customer").fill("dora@")
    page.get_by_role("button", name="Find").click()
    expect(page.locator("#customer-matches")).to_contain_text("Dora Bianchi")
    expect(page.locator("#id_body")).to_have_value("Your replacement ships tomorrow.")
    page.get_by_label("Subject").fill("Your replacement")
    page.get_by_role("button", name="Create ticket").click()

    page.wait_for_url("**/tickets/*/")
    outbound = page.locator(".entry.outbound")
    expect(outbound).to_contain_text("ships tomorrow")
    expect(outbound.locator("[data-delivery]")).to_have_text("Sent")
    ticket = Ticket.objects.order_by("-pk").first()
    assert ticket is not None and ticket.subject == "Your replacement"
    [message] = mail.outbox
    assert message.to == ["Dora Bianchi <dora@example.org>"] and f"#{ticket.number}" in message.subject
