"""An admin applies LiveAgent's statuses; an agent replies to a new ticket; it shows Answered."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from sportello.tickets.models import Status, Ticket
from tests.browser.conftest import sign_in
from tests.browser.test_accessibility import axe_source, serious_violations  # noqa: F401 — a fixture
from tests.web.conftest import new_ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_applies_the_preset_and_an_agents_reply_shows_answered(browser, live_server, admin, agent, axe_source):  # noqa: F811
    ticket = new_ticket("Printer jams", email="dora@example.org")

    admin_page = browser.new_page()
    sign_in(admin_page, live_server, admin)
    admin_page.get_by_role("link", name="Settings").click()
    admin_page.wait_for_url("**/settings/")
    admin_page.get_by_role("main").get_by_role("link", name="Statuses").click()
    admin_page.wait_for_url("**/settings/statuses/")
    assert serious_violations(admin_page, axe_source) == []
    admin_page.get_by_role("button", name="Use LiveAgent's statuses").click()
    expect(admin_page.locator("ul.messages")).to_contain_text("LiveAgent's statuses are in place")
    expect(admin_page.locator("tr[data-status=answered]")).to_contain_text("set by an agent's reply")
    rows = admin_page.locator("table.settings-statuses tbody tr td:first-child a")
    expect(rows).to_have_text(
        ["New", "Open", "Answered", "In progress", "On hold", "Postponed", "Resolved", "Closed", "Pending", "Spam"]
    )
    admin_page.close()

    page = browser.new_page()
    sign_in(page, live_server, agent)
    page.goto(f"{live_server.url}/tickets/{ticket.number}/")
    expect(page.locator(".badge[data-field=status]")).to_have_text("New")
    page.fill("#reply_body", "Please open tray 2 and remove the sheet.")
    page.get_by_role("button", name="Send reply").click()
    expect(page.locator(".badge[data-field=status]")).to_have_text("Answered")
    assert Ticket.objects.get(pk=ticket.pk).status == Status.objects.get(slug="answered")
