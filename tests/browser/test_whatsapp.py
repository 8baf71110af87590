"""WhatsApp in Chromium: a customer's message, signed as Meta signs it, arrives live in the inbox
of an agent who has it open; the agent opens the ticket and replies, and the reply reaches the
(local) WhatsApp Cloud API as a text message to the customer's number."""

from __future__ import annotations

import json
import urllib.request

import pytest
from playwright.sync_api import expect

from sportello.social.models import AccountKind, ChannelAccount
from sportello.social.platforms.base import hmac_sha256
from sportello.social.services import create_account
from tests.browser.conftest import sign_in
from tests.browser.test_chat import asgi_server  # noqa: F401 — the fixture: websockets need ASGI
from tests.social.conftest import APP_SECRET, hook, payload
from tests.social.platform_server import PHONE_NUMBER_ID, WHATSAPP_TOKEN, PlatformServer, platform_server  # noqa: F401
from tests.waiting import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REPLY = "Sorry for the wait, Kerry: your parcel leaves today."


def meta_posts(server_url: str, account: ChannelAccount, data: object) -> None:
    """What Meta's servers do: a JSON POST signed with the app secret (X-Hub-Signature-256)."""
    body = json.dumps(data).encode()
    request = urllib.request.Request(
        server_url + hook(account),
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=" + hmac_sha256(APP_SECRET, body)},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 200


def test_a_whatsapp_message_arrives_live_and_the_reply_goes_back_by_whatsapp(
    page,
    asgi_server,  # noqa: F811
    agent,
    platform_server: PlatformServer,  # noqa: F811
):
    account = create_account(
        AccountKind.WHATSAPP, "WhatsApp support",
        credentials={"access_token": WHATSAPP_TOKEN, "app_secret": APP_SECRET, "verify_token": "verify-me-please"},
        settings={"phone_number_id": PHONE_NUMBER_ID, "api_base": platform_server.url},
    )  # fmt: skip
    sign_in(page, asgi_server, agent)
    page.goto(f"{asgi_server.url}/?view=all")
    rows = page.locator("#inbox-results tbody tr[data-ticket]")
    expect(rows).to_have_count(0)
    expect(page.locator("#inbox-live")).to_have_attribute("data-live", "connected")  # the inbox listens

    meta_posts(asgi_server.url, account, payload("whatsapp_text.json"))
    row = rows.filter(has_text="Kerry Fisher")
    expect(row).to_have_count(1)  # live: nobody reloaded the page
    expect(row).to_contain_text("Hello, my order has not arrived")

    row.get_by_role("link").first.click()
    page.wait_for_url("**/tickets/*/")
    expect(page.locator(".entry.inbound")).to_contain_text("Hello, my order has not arrived")
    page.fill("#reply_body", REPLY)
    page.get_by_role("button", name="Send reply").click()
    expect(page.locator(".entry.outbound")).to_contain_text(REPLY)

    def sent() -> list:
        return [r.json() for r in platform_server.requests if r.path.endswith(f"/{PHONE_NUMBER_ID}/messages")]

    wait_for(lambda: sent(), "the reply reaching the WhatsApp Cloud API")
    message = sent()[0]
    assert message["to"] == "16315551181"
    assert message["type"] == "text"
    assert REPLY in message["text"]["body"]
    authorizations = [r.headers.get("Authorization") for r in platform_server.requests if r.method == "POST"]
    assert f"Bearer {WHATSAPP_TOKEN}" in authorizations
