"""Self-service in a real browser: deflection from the web form, and the portal by magic link."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from sportello.kb.models import Deflection
from sportello.kb.services import ArticleText, create_article, create_category
from sportello.tickets.services import add_note, reply_to_ticket
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_webform_suggests_an_article_that_solves_the_problem(browser, live_server, agent):
    category = create_category(name="Invoices", slug="invoices")
    create_article(
        agent, category=category, publish=True,
        text=ArticleText("en", "Downloading your invoices", "Open Account, then Invoices, and press Download. "
                         '<img src="x" onerror="window.hacked=1"><script>window.hacked=2</script>'),
    )  # fmt: skip
    page = browser.new_page()
    page.goto(f"{live_server.url}/support/new")
    page.locator("#id_subject").press_sequentially("cannot download invoice", delay=20)
    suggestion = page.locator("#kb-suggestions").get_by_role("link", name="Downloading your invoices")
    expect(suggestion).to_be_visible()
    expect(page.locator("#kb-suggestions mark").first).to_be_visible()
    with page.expect_popup() as popup:
        suggestion.click()
    article = popup.value
    expect(article.locator("h1")).to_have_text("Downloading your invoices")
    assert article.evaluate("window.hacked") is None  # the hostile HTML is inert
    article.get_by_role("button", name="This solved my problem").click()
    expect(article.locator("#deflected")).to_be_visible()
    assert Deflection.objects.count() == 1

    # The deflection shows in the agents' self-service report.
    desk = browser.new_context().new_page()
    sign_in(desk, live_server, agent)
    desk.get_by_role("link", name="Reports").click()
    desk.get_by_role("link", name="Self-service").click()
    expect(desk.locator("[data-figure=deflected] .figure")).to_have_text("1")
    expect(desk.locator("#extra-articles")).to_contain_text("Downloading your invoices")
    expect(desk.locator("#chart-plot")).to_have_attribute("data-drawn", re.compile(r"^[1-9]\d*$"))
    desk.screenshot(path="/tmp/sportello-report.png", full_page=True)


def test_customer_signs_in_by_magic_link_and_replies(browser, live_server, agent, ticket):
    reply_to_ticket(ticket, agent, body_text="Is the printer still smoking?", deliver=False)
    add_note(ticket, agent, body_text="Secret: call the fire brigade quietly")
    page = browser.new_page()
    page.goto(f"{live_server.url}/portal/")
    page.fill("#link-email", "carla@example.com")
    page.get_by_role("button", name="Send me a link").click()
    expect(page.locator("#link-sent")).to_be_visible()
    link = re.search(r"https?://\S+/portal/sign-in/\S+", mail.outbox[-1].body).group(0)  # type: ignore[union-attr]
    page.goto(live_server.url + link.split("/portal/", 1)[1].join(["/portal/", ""]))
    page.get_by_role("button", name="Continue to my requests").click()
    page.get_by_role("link", name="Printer on fire").click()
    expect(page.locator("ol.thread")).to_contain_text("Is the printer still smoking?")
    expect(page.locator("body")).not_to_contain_text("fire brigade")
    page.fill("#id_body", "Yes, still smoking. Photo attached.")
    page.set_input_files("#id_attachments", files=[{"name": "smoke.txt", "mimeType": "text/plain", "buffer": b"smoke"}])
    page.get_by_role("button", name="Send reply").click()
    expect(page.locator("ol.thread")).to_contain_text("Yes, still smoking.")
    expect(page.get_by_role("link", name="smoke.txt")).to_be_visible()
    entry = ticket.entries.latest("id")
    assert entry.channel == "portal" and entry.attachments.count() == 1

    # The agent, in a browser of their own, answers and solves the ticket.
    desk = browser.new_context().new_page()
    sign_in(desk, live_server, agent)
    desk.goto(f"{live_server.url}/tickets/{ticket.number}/")
    desk.fill("#reply_body", "We replaced the printer. Sorry for the smoke!")
    desk.get_by_label("Status after reply").select_option(label="Solved")
    desk.get_by_role("button", name="Send reply").click()
    expect(desk.locator("span.badge[data-field=status]")).to_have_text("Solved")
    survey_mail = next(m for m in mail.outbox if "How did we do?" in m.subject)
    assert "carla@example.com" in survey_mail.to[0] and f"/csat/{ticket.number}/" in survey_mail.body

    # The customer sees the survey on the ticket in the portal and rates it.
    page.reload()
    expect(page.locator("#status")).to_have_text("Solved")
    survey = page.locator("#survey-form")
    survey.get_by_label("Bad, I'm not satisfied").check()
    survey.locator("textarea").fill("The smoke took two days to clear.")
    survey.get_by_role("button", name="Send my answer").click()
    expect(page.locator("#survey-form input[value=bad]")).to_be_checked()
    expect(page.locator("#survey-form")).to_contain_text("You can change your answer for three days.")

    # The agent sees the rating on the ticket.
    desk.reload()
    panel = desk.locator("#csat-panel")
    expect(panel).to_have_attribute("data-rating", "bad")
    expect(panel).to_contain_text("The smoke took two days to clear.")


def test_public_pages_fit_a_phone_screen(browser, live_server, agent):
    category = create_category(name="Setup", slug="setup")
    wide = "| Model | Port | Speed | Duplex | Tray | Toner | Firmware | Notes |\n|---|---|---|---|---|---|---|---|\n"
    wide += "| LaserJet-4000-Professional-Edition | 9100 | 40 ppm | yes | 3 | TN-2420-XL | 2024.11.05-beta | fine |\n"
    item = create_article(
        agent, category=category, publish=True,
        text=ArticleText("en", "Connecting the office printer", "Use the address below.\n\n"
                         "`http://printer.example.internal:9100/configuration/network/ipv4/static-address`\n\n" + wide
                         + '\n<img src="data:image/png;base64,iVBORw0KGgo=" width="2000" height="10">'),
    )  # fmt: skip
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = phone.new_page()
    for path in (item.public_path(), "/help/en/", "/help/en/search?q=printer", "/support/new", "/portal/"):
        page.goto(live_server.url + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} is {overflow}px wider than a phone screen"
        size = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
        assert size >= 14, f"{path} has {size}px body text"
        if path == item.public_path():  # the wide table and the long address are there, inside the screen
            expect(page.locator("article table")).to_contain_text("LaserJet-4000-Professional-Edition")
            expect(page.locator("article code").first).to_contain_text("static-address")
