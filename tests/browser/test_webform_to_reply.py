"""The whole way round: a customer writes through the web form, an agent answers, the mail goes out."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_customer_form_to_agent_reply(browser, live_server, agent):
    customer = browser.new_page()
    response = customer.goto(f"{live_server.url}/support/new")
    if response is not None and response.status == 404:
        pytest.skip("web form not built yet")
    customer.fill("#id_name", "Greta Verdi")
    customer.fill("#id_email", "greta@example.org")
    customer.fill("#id_subject", "Cannot download my invoice")
    customer.fill("#id_message", "The download button on the invoices page does nothing.")
    customer.get_by_role("button", name="Send").click()
    number_text = customer.locator(".ticket-number").inner_text()
    number = int(re.search(r"#?(\d+)", number_text).group(1))  # type: ignore[union-attr]
    customer.close()

    agent_page = browser.new_page()
    sign_in(agent_page, live_server, agent)
    agent_page.get_by_role("link", name=re.compile("Unassigned")).click()
    agent_page.locator(f'tr[data-ticket="{number}"]').get_by_role("link", name="Cannot download my invoice").click()
    expect(agent_page.locator(".entry.inbound")).to_contain_text("does nothing")
    agent_page.fill("#reply_body", "Fixed: the button works again. Sorry for the trouble.")
    agent_page.get_by_role("button", name="Send reply").click()
    expect(agent_page.locator(".entry.outbound")).to_contain_text("the button works again")
    agent_page.close()

    replies = [m for m in mail.outbox if "the button works again" in m.body]
    assert len(replies) == 1 and "greta@example.org" in replies[0].to[0]
    assert f"#{number}" in replies[0].subject
