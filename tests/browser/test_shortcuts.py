"""Working a queue with the keyboard only, in Chromium: from the inbox to a ticket, the next one of
that list, assign it to me, reply; the keys stay quiet while typing, and the `?` sheet lists them."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from sportello.tickets.models import Direction, Priority, Ticket
from sportello.tickets.services import TicketChanges, update_ticket
from tests.browser.conftest import PASSWORD
from tests.waiting import wait_for
from tests.web.conftest import new_ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in_by_keyboard(page, live_server, user) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server.url}/accounts/login/")
    page.keyboard.press("Tab")  # the skip link
    page.locator("#id_username").focus()
    page.keyboard.type(user.username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/")


def test_keyboard_only_next_ticket_assign_to_me_and_reply(page, live_server, agent):
    oldest = new_ticket("Printer jam", "The printer jams on every page.", email="ada@example.org")
    middle = new_ticket("Toner empty", "The toner is empty.", email="bea@example.org")
    newest = new_ticket("Scanner offline", "The scanner says offline.", email="cyd@example.org")
    sign_in_by_keyboard(page, live_server, agent)
    page.keyboard.press("g")
    page.keyboard.press("u")  # the inbox's Unassigned view: the newest first
    page.wait_for_url(f"{live_server.url}/?view=unassigned")
    rows = page.locator("#inbox-results tbody tr")
    expect(rows.first).to_have_attribute("data-ticket", str(newest.number))

    # j / j: the cursor on the second row; Enter opens it.
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(page.locator("tr.cursor")).to_have_attribute("data-ticket", str(middle.number))
    expect(page.locator("tr.cursor td.subject a")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/tickets/{middle.number}/$"))
    expect(page.locator("#ticket-pager")).to_contain_text("2 of 3")

    # j: the next ticket of that list.
    page.keyboard.press("j")
    page.wait_for_url(re.compile(rf"/tickets/{oldest.number}/$"))
    expect(page.locator("#ticket-pager")).to_contain_text("3 of 3")

    # a: assign to me, saved at once by the properties panel.
    page.keyboard.press("a")
    expect(page.locator("#property-status")).to_contain_text("Saved")
    wait_for(lambda: Ticket.objects.get(pk=oldest.pk).assignee_id == agent.pk, "the ticket assigned to the agent")

    # s: the status field takes the focus (arrow keys choose).
    page.keyboard.press("s")
    expect(page.locator("#update-form select[name=status]")).to_be_focused()
    page.keyboard.press("Escape")

    # r: the composer, in reply mode, with the cursor in the text; no key fires while typing.
    page.keyboard.press("r")
    body = page.locator("#reply-form textarea[name=body]")
    expect(body).to_be_focused()
    expect(page.locator("#reply-form input[name=mode][value=reply]")).to_be_checked()
    page.keyboard.type("A new jar of toner is on its way; just restart it.")
    expect(page).to_have_url(re.compile(rf"/tickets/{oldest.number}/$"))
    page.keyboard.press("Control+Enter")
    expect(page.locator("ol.thread")).to_contain_text("A new jar of toner is on its way")
    reply = Ticket.objects.get(pk=oldest.pk).entries.filter(direction=Direction.OUTBOUND).get()
    assert reply.author_user_id == agent.pk and not reply.internal

    # n: an internal note this time; k: back to the previous ticket; u: back to the list.
    page.keyboard.press("n")
    expect(page.locator("#reply-form input[name=mode][value=note]")).to_be_checked()
    expect(body).to_be_focused()
    page.keyboard.press("Escape")
    page.keyboard.press("k")
    page.wait_for_url(re.compile(rf"/tickets/{middle.number}/$"))
    page.keyboard.press("u")
    page.wait_for_url(f"{live_server.url}/?view=unassigned")


def test_the_sheet_lists_the_ticket_pages_keys(page, live_server, agent):
    first = new_ticket("Printer jam", email="ada@example.org")
    new_ticket("Toner empty", email="bea@example.org")
    sign_in_by_keyboard(page, live_server, agent)
    page.keyboard.press("g")
    page.keyboard.press("a")  # all tickets
    page.wait_for_url(f"{live_server.url}/?view=all")
    page.keyboard.press("?")
    sheet = page.locator("#shortcuts-help")
    expect(sheet).to_contain_text("Next ticket in the list")
    expect(sheet).to_contain_text("Select the ticket")
    expect(sheet).to_contain_text("Unassigned")
    page.keyboard.press("Escape")

    page.keyboard.press("k")  # from the bottom: the last row
    expect(page.locator("tr.cursor")).to_have_attribute("data-ticket", str(first.number))
    page.keyboard.press("x")  # ticked for the bulk bar
    expect(page.locator("#bulk-form .picked")).to_have_text("1 selected")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/tickets/{first.number}/$"))
    page.keyboard.press("?")
    for words in ("Reply to the customer", "Write an internal note", "Assign to me", "Change the status",
                  "Previous ticket", "Back to the list", "Ctrl"):  # fmt: skip
        expect(sheet).to_contain_text(words)


def test_a_colleagues_change_before_my_assign_still_stops_my_reply(page, live_server, agent, agent2):
    """The composer takes the version after the agent's own property save only when nothing else
    happened in between: a colleague's change still shows as a conflict when the reply is sent."""
    ticket = new_ticket("Printer jam", "The printer jams on every page.", email="ada@example.org")
    sign_in_by_keyboard(page, live_server, agent)
    page.goto(f"{live_server.url}/tickets/{ticket.number}/")
    update_ticket(ticket, agent2, TicketChanges(priority=Priority.HIGH))  # while the page is open
    page.keyboard.press("a")
    expect(page.locator("#property-status")).to_contain_text("Saved")
    page.keyboard.press("r")
    page.keyboard.type("On its way.")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#conflict")).to_contain_text("Bob Agent changed priority")
    expect(page.locator("#reply-form textarea[name=body]")).to_have_value("On its way.")  # the draft kept
    assert not Ticket.objects.get(pk=ticket.pk).entries.filter(direction=Direction.OUTBOUND).exists()
