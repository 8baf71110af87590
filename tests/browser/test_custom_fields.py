"""An admin defines a choice field; an agent sets it on a ticket and filters the inbox by it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from sportello.fields.models import CustomField
from sportello.tickets.models import Ticket
from tests.browser.conftest import sign_in
from tests.browser.test_accessibility import axe_source, serious_violations  # noqa: F401 — a fixture
from tests.web.conftest import new_ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_defines_a_field_agent_sets_it_and_filters_by_it(browser, live_server, admin, agent, axe_source):  # noqa: F811
    widget = new_ticket("Widget squeaks", email="dora@example.org")
    other = new_ticket("Unrelated question", email="ugo@example.org")

    # The admin adds "Product", a choice, its choices typed one per line.
    admin_page = browser.new_page()
    sign_in(admin_page, live_server, admin)
    admin_page.get_by_role("link", name="Settings").click()
    admin_page.wait_for_url("**/settings/")
    admin_page.get_by_role("main").get_by_role("link", name="Custom fields").click()
    admin_page.wait_for_url("**/settings/fields/")
    assert serious_violations(admin_page, axe_source) == []
    form = admin_page.locator("#custom-field-create")
    form.get_by_label("Target").select_option("ticket")
    form.locator("#id_label").fill("Product")
    form.get_by_label("Type").select_option("choice")
    form.get_by_label("Choices").fill("Widget\nGadget\nGizmo")
    form.get_by_role("button", name="Add field").click()
    expect(admin_page.locator("table[data-target=ticket] tr[data-key=product]")).to_contain_text(
        "Widget, Gadget, Gizmo"
    )
    admin_page.close()
    assert CustomField.objects.get(key="product").choices == ["Widget", "Gadget", "Gizmo"]

    # An agent picks a product in the ticket's properties: saved as it changes.
    page = browser.new_page()
    sign_in(page, live_server, agent)
    page.goto(f"{live_server.url}/tickets/{widget.number}/")
    page.locator("#ticket_cf_product").select_option("Widget")
    expect(page.locator("#property-status")).to_contain_text("Saved: Product.")
    assert Ticket.objects.get(pk=widget.pk).custom_fields == {"product": "Widget"}

    # The inbox, filtered by it, lists that ticket only.
    page.goto(f"{live_server.url}/?view=all")
    expect(page.get_by_text("Unrelated question")).to_be_visible()
    page.get_by_text("More filters").click()
    page.locator("#id_cf_product").select_option("Widget")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**cf_product=Widget**")
    expect(page.get_by_role("link", name="Widget squeaks")).to_be_visible()
    expect(page.get_by_text(other.subject)).to_have_count(0)
