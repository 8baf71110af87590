"""The flows an agent clicks through: sign in, find a ticket, reply, note; hostile mail stays inert."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from sportello.customers.services import Sender
from sportello.tickets.intake import Inbound, ingest
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REPLY = "A technician will come tomorrow at 9 with a new heating element."
NOTE = "Internal: the part costs 80 EUR, check the warranty first."


def test_agent_replies_and_notes_and_only_the_reply_is_mailed(page, live_server, agent):
    ticket = ingest(
        Inbound(
            channel="email",
            sender=Sender(name="Ettore Neri", email="ettore@example.net"),
            subject="Coffee machine is cold",
            body_text="Our coffee machine stopped heating this morning.",
            acknowledge=False,
        )
    ).ticket
    sign_in(page, live_server, agent)

    page.get_by_role("link", name=re.compile("Unassigned")).click()
    row = page.locator(f'tr[data-ticket="{ticket.number}"]')
    expect(row).to_contain_text("Coffee machine is cold")
    expect(row).to_contain_text("Ettore Neri")
    row.get_by_role("link", name="Coffee machine is cold").click()
    page.wait_for_url(f"**/tickets/{ticket.number}/")
    expect(page.locator(".entry.inbound")).to_contain_text("stopped heating")

    page.fill("#reply_body", REPLY)
    page.get_by_role("button", name="Send reply").click()
    expect(page.locator(".messages")).to_contain_text("on its way to the customer")
    outbound = page.locator(".entry.outbound")
    expect(outbound).to_contain_text(REPLY)
    expect(outbound.locator("[data-delivery]")).to_have_text("Sent")

    page.locator("#reply-form input[name=mode][value=note]").check()  # the composer's note mode
    page.fill("#reply_body", NOTE)
    page.get_by_role("button", name="Add note").click()
    note = page.locator(".entry.internal")
    expect(note).to_contain_text(NOTE)
    expect(note.locator(".badge.internal")).to_have_text("Internal note")
    assert note.evaluate("el => getComputedStyle(el).backgroundColor") != outbound.evaluate(
        "el => getComputedStyle(el).backgroundColor"
    )
    page.screenshot(path="/tmp/sportello-ticket.png", full_page=True)

    sent = [m for m in mail.outbox if "ettore@example.net" in " ".join(m.to)]
    assert len(sent) == 1
    assert REPLY in sent[0].body and REPLY in str(sent[0].alternatives)  # type: ignore[attr-defined]
    assert all(NOTE not in m.body and NOTE not in str(m.alternatives) for m in mail.outbox)  # type: ignore[attr-defined]


def test_hostile_customer_html_does_not_run(page, live_server, agent):
    ticket = ingest(
        Inbound(
            channel="email",
            sender=Sender(name="Mallory", email="mallory@evil.example"),
            subject="Please look at <b>this</b>",
            body_text="",
            body_html='<p>Hello</p><img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>',
            acknowledge=False,
        )
    ).ticket
    plain = ingest(
        Inbound(
            channel="web",
            sender=Sender(name="Mallory", email="mallory@evil.example"),
            subject='<img src=x onerror="window.__pwned=1">',
            body_text='<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">',
            acknowledge=False,
        )
    ).ticket
    sign_in(page, live_server, agent)
    for t in (ticket, plain):
        page.goto(f"{live_server.url}/tickets/{t.number}/")
        expect(page.locator(".entry.inbound")).to_be_visible()
        page.wait_for_load_state("load")
        page.wait_for_timeout(200)  # give an onerror handler, if any survived, the time to fire
        assert page.evaluate("window.__pwned") is None
    expect(page.locator(".entry.inbound .body")).to_contain_text("<script>window.__pwned=1</script>")
    page.goto(f"{live_server.url}/?view=all")
    expect(page.locator(f'tr[data-ticket="{plain.number}"]')).to_contain_text('<img src=x onerror="window.__pwned=1">')
    assert page.evaluate("window.__pwned") is None


def test_inbox_filters_update_the_list_in_place(page, live_server, agent):
    for subject, channel in (("Chat about invoices", "chat"), ("Mail about invoices", "email")):
        ingest(Inbound(channel=channel, sender=Sender(email=f"{channel}@example.org"), subject=subject,
                       body_text="hi", acknowledge=False))  # fmt: skip
    sign_in(page, live_server, agent)
    page.goto(f"{live_server.url}/?view=all")
    expect(page.locator("tr[data-ticket]")).to_have_count(2)
    page.evaluate("window.__same_document = true")
    page.select_option("#id_channel", "chat")
    expect(page.locator("tr[data-ticket]")).to_have_count(1)
    expect(page.locator("tr[data-ticket]")).to_contain_text("Chat about invoices")
    assert page.evaluate("window.__same_document") is True  # htmx swapped the list, no page load
    assert "channel=chat" in page.url
