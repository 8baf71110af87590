"""The inbox in Chromium at 1440x900: a dense list, sorting, resizable columns, bulk-assigning 50
tickets, and a view saved, shared and seen live by a colleague with its count."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from sportello.inbox.models import SavedView
from sportello.tickets.models import Priority, Ticket
from sportello.tickets.services import TicketChanges, update_ticket
from tests.browser.conftest import sign_in
from tests.browser.test_accessibility import axe_source, serious_violations  # noqa: F401  (a fixture, a check)
from tests.browser.test_chat import asgi_server  # noqa: F401  (uvicorn, for the live inbox)
from tests.web.conftest import new_ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREEN = {"width": 1440, "height": 900}


def test_agent_bulk_assigns_fifty_tickets(page, live_server, agent, agent2, axe_source):  # noqa: F811
    made = [new_ticket(f"Printer jam {i:02d}", email=f"jam{i}@example.org") for i in range(55)]
    page.set_viewport_size(SCREEN)
    sign_in(page, live_server, agent)
    page.goto(f"{live_server.url}/?view=unassigned")

    rows = page.locator("#inbox-results tbody tr")
    expect(rows).to_have_count(50)  # a page
    visible = page.evaluate(
        """() => [...document.querySelectorAll('#inbox-results tbody tr')]
              .filter(r => { const b = r.getBoundingClientRect(); return b.top >= 0 && b.bottom <= innerHeight; })
              .length"""
    )
    assert visible >= 25, f"only {visible} rows fit on a 1440x900 screen"

    # The first row, then shift-click the last: fifty chosen.
    rows.nth(0).locator("input[name=pick]").click()
    rows.nth(49).locator("input[name=pick]").click(modifiers=["Shift"])
    bar = page.locator("#bulk-form")
    expect(bar).to_be_visible()
    expect(bar.locator(".picked")).to_have_text("50 selected")
    page.get_by_text("More filters").click()
    assert serious_violations(page, axe_source) == []  # the bar and every filter labelled, in contrast
    bar.locator("select[name=assignee]").select_option(label="Bob Agent")
    bar.get_by_role("button", name="Apply").click()
    expect(page.locator("#bulk-result")).to_contain_text("50 updated")
    # The list reloads without them: only the five of the second page are still unassigned.
    expect(rows).to_have_count(5)
    expect(bar).to_be_hidden()
    assert Ticket.objects.filter(assignee=agent2).count() == 50
    assert Ticket.objects.filter(assignee__isnull=True, pk__in=[t.pk for t in made]).count() == 5

    # The five left are spam: chosen with the page's box, one of them changed by a colleague meanwhile.
    page.locator("#pick-page").check()
    expect(bar.locator(".picked")).to_have_text("5 selected")
    changed = Ticket.objects.filter(assignee__isnull=True, pk__in=[t.pk for t in made]).first()
    assert changed is not None
    update_ticket(changed, agent2, TicketChanges(priority=Priority.HIGH))
    bar.get_by_role("button", name="Mark as spam").click()
    expect(page.locator("#bulk-result")).to_contain_text(f"4 updated, 1 refused: #{changed.number} was changed by")
    expect(rows).to_have_count(1)  # the refused one stays, as it was
    expect(rows.first).to_have_attribute("data-ticket", str(changed.number))
    assert Ticket.objects.filter(state="spam").count() == 4


def test_columns_sort_and_keep_their_width(page, live_server, agent):
    low = new_ticket("Low one", email="low@example.org")
    high = new_ticket("Urgent one", email="high@example.org")
    update_ticket(high, agent, TicketChanges(priority=Priority.URGENT))
    update_ticket(low, agent, TicketChanges(priority=Priority.LOW))  # the newest: first by update
    page.set_viewport_size(SCREEN)
    sign_in(page, live_server, agent)
    page.goto(f"{live_server.url}/?view=all")
    first = page.locator("#inbox-results tbody tr").first
    expect(first).to_have_attribute("data-ticket", str(low.number))

    page.locator("th[data-col=priority] a").click()
    expect(page.locator("th[data-col=priority]")).to_have_attribute("aria-sort", "descending")
    expect(first).to_have_attribute("data-ticket", str(high.number))
    page.locator("th[data-col=priority] a").click()
    expect(page.locator("th[data-col=priority]")).to_have_attribute("aria-sort", "ascending")
    expect(first).to_have_attribute("data-ticket", str(low.number))

    # Drag the subject column's edge 120 px wider; the width stays after a reload.
    header = page.locator("th[data-col=subject]")
    before = header.bounding_box()["width"]  # type: ignore[index]
    grip = header.locator(".col-resizer").bounding_box()
    assert grip is not None
    page.mouse.move(grip["x"] + grip["width"] / 2, grip["y"] + grip["height"] / 2)
    page.mouse.down()
    page.mouse.move(grip["x"] + 120, grip["y"] + grip["height"] / 2, steps=5)
    page.mouse.up()
    widened = header.bounding_box()["width"]  # type: ignore[index]
    assert widened > before + 60
    page.reload()
    assert abs(page.locator("th[data-col=subject]").bounding_box()["width"] - widened) < 3  # type: ignore[index]


def test_a_shared_view_appears_live_for_a_colleague_with_its_count(browser, asgi_server, agent, light_agent):  # noqa: F811
    for i in range(3):
        t = new_ticket(f"Refund {i}", email=f"refund{i}@example.org")
        if i < 2:
            update_ticket(t, agent, TicketChanges(tags=["refund"]))
    colleague = browser.new_context(viewport=SCREEN).new_page()
    sign_in(colleague, asgi_server, light_agent)  # also in First level
    colleague.goto(f"{asgi_server.url}/")
    expect(colleague.locator("#inbox-views")).not_to_contain_text("Refunds")

    me = browser.new_context(viewport=SCREEN).new_page()
    sign_in(me, asgi_server, agent)
    me.goto(f"{asgi_server.url}/?view=all")
    me.get_by_text("More filters").click()
    me.fill("#id_tag", "refund")
    me.locator("#id_tag").press("Enter")
    expect(me.locator("#inbox-results tbody tr")).to_have_count(2)
    me.get_by_text("Save as view").click()
    me.fill("#save-view-form input[name=name]", "Refunds")
    me.select_option("#save-view-form select[name=sharing]", "group")
    me.select_option("#save-view-form select[name=group]", label="First level")
    me.get_by_role("button", name="Save view").click()
    saved = me.locator("#inbox-views a[data-saved]", has_text="Refunds")
    expect(saved).to_have_attribute("aria-current", "page")
    expect(saved.locator(".count")).to_have_text("2")
    expect(me.locator("#inbox-results tbody tr")).to_have_count(2)
    assert SavedView.objects.get().filter == {"tag": ["refund"]}

    # The colleague's open inbox shows it without a reload, with its count, and opens it.
    theirs = colleague.locator("#inbox-views a[data-saved]", has_text="Refunds")
    expect(theirs.locator(".count")).to_have_text("2")
    theirs.click()
    expect(colleague.locator("#inbox-results tbody tr")).to_have_count(2)
    expect(colleague.locator("#inbox-results")).to_contain_text(re.compile("Refund [01]"))
