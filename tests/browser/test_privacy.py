"""An admin erases a customer from the customer page, after a wrong confirmation is refused."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from sportello.customers.services import Sender
from sportello.tickets.intake import Inbound, ingest
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_erases_a_customer_after_typing_the_address(page, live_server, admin):
    ticket = ingest(
        Inbound(
            channel="email", sender=Sender(name="Nadia Greco", email="nadia@greco.example"),
            subject="Kiwi order 7781", body_text="Where is my kiwi order?", acknowledge=False,
        )
    ).ticket  # fmt: skip
    sign_in(page, live_server, admin)
    page.goto(f"{live_server.url}/customers/{ticket.customer_id}/")
    page.get_by_role("link", name="Erase personal data…").click()

    field = page.get_by_label("Type the customer's email address to confirm")
    field.fill("someone@else.example")
    page.get_by_role("button", name="Erase this customer").click()
    expect(page.locator("#erase-error")).to_contain_text("Type the customer's email address")

    page.get_by_label("Type the customer's email address to confirm").fill("nadia@greco.example")
    page.get_by_role("button", name="Erase this customer").click()
    page.wait_for_url(f"**/customers/{ticket.customer_id}/")
    expect(page.locator(".messages")).to_contain_text("personal data was erased")
    expect(page.locator("#customer-name")).to_have_text(f"Erased customer #{ticket.customer_id}")
    expect(page.locator("#customer-identities")).not_to_contain_text("nadia@greco.example")
    expect(page.locator("#customer-privacy")).to_contain_text("This customer was erased.")
