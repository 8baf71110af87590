"""An agent finds a customer by search, fixes the name, merges a duplicate file, then undoes it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from sportello.customers.models import Customer
from sportello.customers.services import Sender
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import Ticket
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def ticket_from(name: str, email: str, subject: str) -> Ticket:
    return ingest(
        Inbound(
            channel="email", sender=Sender(name=name, email=email), subject=subject,
            body_text=f"{subject}, please.", acknowledge=False,
        )
    ).ticket  # fmt: skip


def test_agent_edits_merges_and_unmerges_a_customer(page, live_server, agent):
    work = ticket_from("Giulia Ferri", "giulia@ferri.example", "Invoice 2211 is missing")
    home = ticket_from("G. Ferri", "giulia.f@home.example", "Cannot reset my password")
    sign_in(page, live_server, agent)

    # Search from the header finds the customer beside the tickets.
    page.get_by_role("searchbox", name="Search tickets").fill("ferri.example")
    page.get_by_role("searchbox", name="Search tickets").press("Enter")
    results = page.locator("#customer-results")
    expect(results).to_contain_text("Giulia Ferri")
    results.get_by_role("link", name="Giulia Ferri").click()
    page.wait_for_url(f"**/customers/{work.customer_id}/")
    expect(page.locator("#customer-identities")).to_contain_text("giulia@ferri.example")
    expect(page.locator(f'#customer-tickets tr[data-ticket="{work.number}"]')).to_be_visible()
    expect(page.locator("#customer-timeline")).to_contain_text("Invoice 2211 is missing, please.")

    # Fix the name.
    page.get_by_label("Name", exact=True).fill("Giulia Ferri-Conti")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messages")).to_contain_text("Customer saved.")
    expect(page.locator("#customer-name")).to_have_text("Giulia Ferri-Conti")
    expect(page.locator("#customer-history")).to_contain_text("Giulia Ferri → Giulia Ferri-Conti")

    # Merge the duplicate file, picked by search.
    page.get_by_role("link", name="Merge a duplicate into this customer").click()
    page.get_by_label("Find the duplicate by name, address or phone number").fill("home.example")
    page.get_by_role("button", name="Find").click()
    page.get_by_role("button", name="Merge G. Ferri into this customer").click()
    expect(page.locator(".messages")).to_contain_text("G. Ferri was merged into this customer")
    expect(page.locator("#customer-identities")).to_contain_text("giulia.f@home.example")
    expect(page.locator(f'#customer-tickets tr[data-ticket="{home.number}"]')).to_be_visible()
    expect(page.locator("#customer-timeline")).to_contain_text("Cannot reset my password, please.")
    assert Ticket.objects.get(pk=home.pk).customer_id == work.customer_id

    # Undo it: the duplicate has its own file, tickets and address again.
    page.get_by_role("button", name="Undo merge").click()
    expect(page.locator(".messages")).to_contain_text("The merge was undone")
    expect(page.locator("#customer-identities")).not_to_contain_text("giulia.f@home.example")
    expect(page.locator(f'#customer-tickets tr[data-ticket="{home.number}"]')).to_have_count(0)
    expect(page.locator("#customer-merges")).to_contain_text(re.compile("undone"))
    assert Ticket.objects.get(pk=home.pk).customer_id == home.customer_id
    assert Customer.objects.get(pk=home.customer_id).merged_into is None
    page.screenshot(path="/tmp/sportello-customer.png", full_page=True)
