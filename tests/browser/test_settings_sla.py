"""An admin builds an SLA policy for urgent tickets in the settings area, previews the tickets it
would take, and saves it; the pages pass axe."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from sportello.sla.models import Policy, TicketSLA
from sportello.tickets.models import Priority
from tests.browser.conftest import sign_in
from tests.browser.test_accessibility import axe_source, serious_violations  # noqa: F401 — a fixture
from tests.web.conftest import new_ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_builds_an_urgent_policy_previews_it_and_saves_it(browser, live_server, admin, axe_source):  # noqa: F811
    fire = new_ticket("Server room on fire", email="dora@example.org", priority=Priority.URGENT)
    down = new_ticket("Shop is down", email="ugo@example.org", priority=Priority.URGENT)
    calm = new_ticket("Question about invoices", email="eva@example.org")

    page = browser.new_page()
    sign_in(page, live_server, admin)
    page.goto(f"{live_server.url}/settings/")
    page.get_by_role("main").get_by_role("link", name="SLA policies").click()
    page.wait_for_url("**/settings/sla/")
    expect(page.get_by_text("No policies yet")).to_be_visible()
    assert serious_violations(page, axe_source) == []
    page.get_by_role("link", name="New policy").click()
    page.wait_for_url("**/settings/sla/new/")

    page.get_by_label("Name").fill("Urgent tickets")
    page.get_by_role("group", name="Priority").get_by_label("Urgent").check()
    page.get_by_label("Urgent: First response").fill("1")
    page.get_by_label("Urgent: Resolution").fill("8")
    page.get_by_role("button", name="Preview").click()

    preview = page.locator("#sla-preview")
    expect(preview).to_contain_text("This policy would take 2 open tickets.")
    expect(preview.get_by_role("link", name=f"#{fire.number} Server room on fire")).to_be_visible()
    expect(preview.get_by_role("link", name=f"#{down.number} Shop is down")).to_be_visible()
    expect(preview.get_by_text(calm.subject)).to_have_count(0)
    assert not Policy.objects.exists()
    # What was typed is still there after the preview.
    expect(page.get_by_label("Urgent: First response")).to_have_value("1")
    assert serious_violations(page, axe_source) == []

    page.get_by_role("button", name="Save policy").click()
    page.wait_for_url("**/settings/sla/")
    expect(page.get_by_text("Policy “Urgent tickets” saved.")).to_be_visible()
    row = page.locator("table.sla-policies tbody tr").first
    expect(row).to_contain_text("Priority: Urgent")
    expect(row).to_contain_text("Urgent: First response 1 h, Resolution 8 h")

    policy = Policy.objects.get(name="Urgent tickets")
    assert policy.priorities == [Priority.URGENT]
    assert [(t.first_response_minutes, t.resolution_minutes) for t in policy.targets.all()] == [(60, 480)]
    # The urgent tickets' clocks follow it (the resync runs after the save's commit).
    assert set(TicketSLA.objects.filter(policy=policy).values_list("ticket_id", flat=True)) == {fire.pk, down.pk}
    page.close()
