"""An agent asks the assistant for a draft and it lands in the composer, for them to edit and send."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings
from playwright.sync_api import expect

from sportello.assist.models import AssistSettings, AssistUse
from sportello.customers.services import Sender
from sportello.kb.services import ArticleText, create_article, create_category
from sportello.tickets.intake import Inbound, ingest
from tests.assist.openai_server import ModelServer, serve
from tests.browser.conftest import sign_in
from tests.browser.test_accessibility import AXE, serious_violations
from tests.waiting import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DRAFT = "Dear Ettore, please descale the machine: Descaling the coffee machine: "


@pytest.fixture
def model_server() -> Iterator[ModelServer]:
    yield from serve(ModelServer())


def test_an_agent_drafts_a_reply_that_lands_in_the_composer(page, live_server, agent, admin, model_server):
    category = create_category(name="Kitchen", slug="kitchen")
    article = create_article(
        admin,
        category=category,
        text=ArticleText("en", "Descaling the coffee machine", "Run the descaling program once a month."),
        publish=True,
    )
    model_server.reply = lambda messages: DRAFT + messages[1]["content"].split("Link: ")[1].split("\n")[0]
    AssistSettings.objects.create(
        pk=1, enabled=True, base_url=model_server.url, model="llama3.1:8b", allow_local=True, timeout_seconds=30
    )
    ticket = ingest(
        Inbound(
            channel="email",
            sender=Sender(name="Ettore Neri", email="ettore@example.net"),
            subject="Coffee machine is cold",
            body_text="Our coffee machine stopped heating; does descaling help?",
            acknowledge=False,
        )
    ).ticket
    sign_in(page, live_server, agent)
    page.goto(f"{live_server.url}/tickets/{ticket.number}/")
    page.fill("#reply_body", "Hello Ettore,")

    link = settings.SITE_URL.rstrip("/") + article.public_path()
    panel = page.locator("#assist-panel")
    panel.get_by_role("button", name="Draft a reply").click()
    expect(panel.locator("#assist-text")).to_have_value(DRAFT + link)
    expect(panel.locator(".assist-answer")).to_contain_text("Descaling the coffee machine")  # the article cited

    panel.get_by_role("button", name="Put in the reply").click()
    expect(page.locator("#reply_body")).to_have_value(f"Hello Ettore,\n\n{DRAFT}{link}")
    expect(panel.locator("#assist-text")).to_have_count(0)  # the answer left the panel
    assert "descaling" in model_server.chats[-1][1]["content"]
    wait_for(lambda: AssistUse.objects.filter(accepted=True).exists(), "the use recorded as accepted")


@pytest.fixture
def axe_script() -> str:
    if not AXE.exists():
        pytest.skip(f"{AXE} is missing: run `make assets` (npm ci)")
    return AXE.read_text()


def test_the_panel_and_the_admins_pages_are_accessible(page, live_server, admin, agent, model_server, axe_script):
    AssistSettings.objects.create(pk=1, enabled=True, base_url=model_server.url, model="m", allow_local=True)
    ticket = ingest(
        Inbound(channel="web", sender=Sender(name="Ada", email="ada@example.net"), subject="Hi", body_text="Help")
    ).ticket
    use = AssistUse.objects.create(
        user=agent,
        ticket=ticket,
        action="summarise",
        model="m",
        server=model_server.url,
        messages=[{"role": "system", "content": "Summarise."}, {"role": "user", "content": "Help"}],
        outcome="answered",
        answer="- Ada needs help.",
    )
    sign_in(page, live_server, admin)
    page.goto(f"{live_server.url}/tickets/{ticket.number}/")
    expect(page.locator("#assist-panel")).to_be_visible()
    assert serious_violations(page, axe_script) == []
    for path in ("/settings/assistance/", "/settings/assistance/log/", f"/settings/assistance/log/{use.pk}/"):
        page.goto(f"{live_server.url}{path}")
        assert serious_violations(page, axe_script) == [], path
    page.goto(f"{live_server.url}/settings/assistance/")
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#test-result")).to_contain_text("has no model called")
