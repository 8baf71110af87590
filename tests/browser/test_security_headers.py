"""The Content-Security-Policy in Chromium: the pages whose scripts moved out of the templates, the
API docs and the embeddable form work under it (conftest fails any test whose pages report a
violation)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from sportello.kb.services import ArticleText, create_article, create_category
from tests.browser.conftest import sign_in
from tests.web.conftest import new_ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_insert_link_puts_a_suggested_article_into_the_reply(page, live_server, agent):
    category = create_category(name="Invoices", slug="invoices")
    create_article(
        agent, category=category, publish=True,
        text=ArticleText("en", "Downloading your invoices", "Open Account, then Invoices, and press Download."),
    )  # fmt: skip
    ticket = new_ticket("Cannot download my invoice", "Where are the invoices?")
    sign_in(page, live_server, agent)
    page.goto(f"{live_server.url}/tickets/{ticket.number}/")
    page.fill("#reply_body", "Hello, ")
    page.locator("#kb-suggestions").get_by_role("button", name="Insert link").click()
    expect(page.locator("#reply_body")).to_have_value(re.compile(r"^Hello, Downloading your invoices: http\S+/help/"))


def test_the_api_docs_render_under_the_policy(page, live_server, agent):
    sign_in(page, live_server, agent)
    page.goto(f"{live_server.url}/api/v1/docs")
    expect(page.locator("#swagger-ui .opblock").first).to_be_visible(timeout=60_000)  # a 1.5 MB script
    expect(page.locator("#swagger-ui")).to_contain_text("/api/v1/tickets")


def test_the_embeddable_form_works_in_another_sites_frame(page, live_server):
    # A page of another origin (about:blank here) that frames the form, as a customer's site does.
    # (That every other page refuses frames is tests/web/test_headers.py's: Chromium would report it
    # as a violation, which conftest counts as a failure.)
    page.set_content(f'<iframe id="embed" src="{live_server.url}/support/embed"></iframe>')
    embedded = page.frame_locator("#embed")
    expect(embedded.locator("#id_subject")).to_be_visible()
    embedded.locator("#id_subject").fill("Typing works in the frame")
    expect(embedded.locator("#id_subject")).to_have_value("Typing works in the frame")
