"""Mentions and the bell in Chromium: an agent mentions a colleague in a note, picked from the @
autocomplete; the colleague, on another page, sees the bell's count go up without a reload, opens
the dropdown and goes to the ticket."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from sportello.notifications.models import Notification
from tests.browser.conftest import PATIENCE_MS, sign_in
from tests.browser.test_chat import asgi_server  # noqa: F401 — the fixture: websockets need ASGI
from tests.notifications.conftest import phoned_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_mentioned_colleague_sees_the_bell_go_up_live_and_opens_the_ticket(browser, asgi_server, agent, agent2):  # noqa: F811
    ticket = phoned_in(subject="Kettle does not boil")
    bob = browser.new_context().new_page()
    alice = browser.new_context().new_page()
    for page in (bob, alice):
        page.set_default_timeout(PATIENCE_MS)

    sign_in(bob, asgi_server, agent2)  # Bob stays on his inbox
    expect(bob.locator("#bell")).to_have_attribute("data-count", "0")  # his bell's socket is up
    expect(bob.locator("#bell-count")).to_be_hidden()
    bob.evaluate("window.stayed = true")  # gone if the page reloads

    sign_in(alice, asgi_server, agent)
    alice.goto(f"{asgi_server.url}/tickets/{ticket.number}/")
    alice.locator("input[name=mode][value=note]").check()
    note = alice.locator("#reply-form textarea[name=body]")
    note.click()
    note.press_sequentially("Could you look, @bo")
    option = alice.get_by_role("option", name="Bob Agent @bob_agent")
    expect(option).to_be_visible()
    expect(option).to_have_attribute("aria-selected", "true")
    note.press("Enter")
    expect(note).to_have_value("Could you look, @bob_agent ")
    note.press_sequentially("? The kettle is still cold.")
    alice.locator("#compose-send").click()
    expect(alice.locator(".entry").filter(has_text="The kettle is still cold.")).to_be_visible()

    expect(bob.locator("#bell-count")).to_have_text("1")
    assert bob.evaluate("window.stayed") is True
    expect(bob.locator("#bell-button")).to_contain_text("1 unread")

    bob.locator("#bell-button").click()
    menu = bob.locator("#bell-menu")
    expect(menu).to_contain_text(f"Alice Agent mentioned you on #{ticket.number}")
    expect(menu).to_contain_text("Could you look, @bob_agent ? The kettle is still cold.")
    menu.get_by_role("button", name=f"Alice Agent mentioned you on #{ticket.number}").click()
    bob.wait_for_url(f"{asgi_server.url}/tickets/{ticket.number}/")
    expect(bob.locator("#bell")).to_have_attribute("data-count", "0")
    assert Notification.objects.get(recipient=agent2).read_at is not None


def test_the_picker_stays_away_from_replies(browser, asgi_server, agent, agent2):  # noqa: F811
    ticket = phoned_in()
    alice = browser.new_context().new_page()
    alice.set_default_timeout(PATIENCE_MS)
    asked: list[str] = []
    alice.on("request", lambda request: asked.append(request.url) if "/mentions/agents" in request.url else None)
    sign_in(alice, asgi_server, agent)
    alice.goto(f"{asgi_server.url}/tickets/{ticket.number}/")
    alice.locator("input[name=mode][value=reply]").check()
    body = alice.locator("#reply-form textarea[name=body]")
    body.click()
    body.press_sequentially("Write to @bo")
    alice.locator("input[name=mode][value=note]").check()  # now a note: the picker helps
    body.press_sequentially("b")
    expect(alice.get_by_role("option", name="Bob Agent @bob_agent")).to_be_visible()
    assert [url.split("prefix=")[1] for url in asked] == ["bob"]  # nothing asked while it was a reply
    body.press("Escape")
    expect(alice.get_by_role("listbox")).to_be_hidden()
