"""A call in Chromium: the PBX tells us a customer is calling; the agent sees the pop-up with the
caller's file and open ticket, opens the ticket, answers, and when the call ends its call entry is
on the ticket."""

from __future__ import annotations

import urllib.parse
import urllib.request

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from sportello.customers.services import Sender
from sportello.phone import services
from sportello.phone.models import FLAGS_CACHE_KEY, CtiAccount, CtiKind
from sportello.tickets.intake import Inbound, ingest
from tests.browser.conftest import sign_in
from tests.browser.test_chat import asgi_server  # noqa: F401 — the fixture: websockets need ASGI
from tests.phone.conftest import christopher, emma, events_of  # noqa: F401 — fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def pbx_posts(server_url: str, token: str, event: list[tuple[str, str]]) -> None:
    """What a PBX script does: a form POST to the account's webhook URL."""
    request = urllib.request.Request(
        f"{server_url}/phone/cti/{token}", data=urllib.parse.urlencode(event).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 200


def test_a_call_rings_the_agent_answers_and_the_call_is_on_the_ticket(page, asgi_server, emma, christopher):  # noqa: F811
    cache.delete(FLAGS_CACHE_KEY)
    account = CtiAccount.objects.create(name="sipgate", kind=CtiKind.GENERIC, region="DE")
    token = services.rotate_token(account)
    ticket = ingest(
        Inbound(channel="email", sender=Sender(name="Lina Weber", email="lina@example.de", phone="+493023125741"),
                subject="Invoice 4711", body_text="The invoice is wrong.", acknowledge=False)
    ).ticket  # fmt: skip
    new_call, answer, hangup = events_of("generic_inbound_answered.json")

    sign_in(page, asgi_server, emma)
    popup = page.locator("#phone-popup")
    expect(popup).to_be_attached()
    expect(popup).to_be_hidden()

    pbx_posts(asgi_server.url, token, new_call)  # rings Emma and Christopher
    card = popup.locator(".phone-call")
    expect(card).to_be_visible()
    expect(card).to_contain_text("Incoming call")
    expect(card).to_contain_text("Lina Weber")
    expect(card).to_contain_text("+49 30 23125741")
    card.get_by_role("link", name=f"#{ticket.number} Invoice 4711").click()
    page.wait_for_url(f"{asgi_server.url}/tickets/{ticket.number}/")
    expect(page.locator("#phone-popup .phone-call")).to_contain_text("Incoming call")  # still ringing here

    pbx_posts(asgi_server.url, token, answer)  # Emma picks up her phone
    expect(page.locator("#phone-popup .phone-call")).to_contain_text("In call")
    pbx_posts(asgi_server.url, token, hangup)
    expect(page.locator("#phone-popup .phone-call")).to_have_count(0)
    expect(page.locator("#phone-popup")).to_be_hidden()

    page.reload()
    entry = page.locator(".entry").filter(has_text="Phone call from +49 30 23125741")
    expect(entry).to_be_visible()
    expect(entry).to_contain_text("Answered by Emma Taylor")
    cache.delete(FLAGS_CACHE_KEY)
