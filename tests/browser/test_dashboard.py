"""The live dashboard in Chromium: open on a team lead's screen, a new ticket arrives through the
service, and the open, unassigned and created-today figures go up without a reload."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from sportello.accounts.models import Availability
from sportello.chat.services import set_availability
from tests.browser.conftest import sign_in
from tests.browser.test_accessibility import axe_source, serious_violations  # noqa: F401  (a fixture, a check)
from tests.browser.test_chat import asgi_server  # noqa: F401  (uvicorn, for the live sockets)
from tests.web.conftest import new_ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def figure(page, name: str):  # type: ignore[no-untyped-def]
    return page.locator(f'#dashboard [data-figure="{name}"] .figure')


def test_the_figures_go_up_as_a_ticket_arrives(page, asgi_server, admin, agent, axe_source):  # noqa: F811
    new_ticket("Already here", email="first@example.org")
    sign_in(page, asgi_server, admin)
    page.goto(f"{asgi_server.url}/reports/")
    page.locator("#dashboard-link").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(figure(page, "open")).to_have_text("1")
    expect(figure(page, "unassigned")).to_have_text("1")
    expect(figure(page, "created_today")).to_have_text("1")
    expect(page.locator("#dashboard-agents")).to_contain_text("Alice Agent")
    assert serious_violations(page, axe_source) == []
    # The page's sockets (the inbox's and the chat queue's) are open before the ticket arrives.
    expect(page.locator("#dashboard")).to_have_attribute("data-live", "connected")

    refreshed = page.locator("#dashboard").get_attribute("data-refreshed")
    new_ticket("The printer is on fire", email="second@example.org")
    expect(figure(page, "open")).to_have_text("2")
    expect(figure(page, "unassigned")).to_have_text("2")
    expect(figure(page, "created_today")).to_have_text("2")
    assert page.locator("#dashboard").get_attribute("data-refreshed") != refreshed

    # An agent going offline is announced by no event: the next fetch (here, the next ticket's)
    # leaves them out of the table.
    set_availability(agent, Availability.OFFLINE)
    new_ticket("A third one", email="third@example.org")
    expect(figure(page, "open")).to_have_text("3")
    expect(page.locator("#dashboard-agents")).not_to_contain_text("Alice Agent")
