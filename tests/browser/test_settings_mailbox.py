"""An admin adds a mailbox for the test Dovecot, tests its connection, and saves it (issue #15)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from sportello.chat.models import ChatChannel
from sportello.mail import imap
from sportello.mail.models import Mailbox
from sportello.social.models import AccountKind
from sportello.social.services import create_account
from tests.browser.conftest import sign_in
from tests.browser.test_accessibility import axe_source, serious_violations  # noqa: F401 — a fixture
from tests.mail.conftest import make_mail

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_adds_a_mailbox_tests_the_connection_and_saves_it(page, live_server, admin, dovecot, axe_source):  # noqa: F811
    dovecot.append(make_mail(subject="Already waiting"))
    sign_in(page, live_server, admin)
    page.goto(f"{live_server.url}/mail/mailboxes/")
    page.get_by_role("link", name="Add mailbox").click()
    page.get_by_label("Address").fill(dovecot.username)
    page.get_by_label("IMAP server").fill(dovecot.host)
    page.get_by_label("Port").fill(str(dovecot.port))
    page.get_by_label("TLS", exact=True).uncheck()  # the test Dovecot speaks plain IMAP on loopback
    page.get_by_label("User name").fill(dovecot.username)
    page.get_by_label("IMAP password").fill("not-the-password")
    page.get_by_role("button", name="Test connection").click()
    result = page.locator("#connection-result")
    expect(result).to_contain_text("Wrong user name or password")

    page.get_by_label("IMAP password").fill(dovecot.password)
    page.get_by_role("button", name="Test connection").click()
    expect(result).to_contain_text("Connected: 1 message in INBOX.")
    expect(page.get_by_label("IMAP password")).to_have_value(dovecot.password)  # the form stayed as typed
    assert serious_violations(page, axe_source) == []

    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"{live_server.url}/mail/mailboxes/")
    expect(page.locator("#mailboxes")).to_contain_text(dovecot.username)
    box = Mailbox.objects.get(address=dovecot.username)
    assert imap.password_for(box) == dovecot.password and not box.imap_ssl


def test_the_channels_page_reads_well(page, live_server, admin, axe_source):  # noqa: F811
    ChatChannel.objects.create(name="Website", key="website")
    bot = create_account(AccountKind.TELEGRAM, "Shop bot", credentials={"bot_token": "1:x", "secret_token": "s"})
    sign_in(page, live_server, admin)
    page.goto(f"{live_server.url}/settings/channels/")
    snippet = page.get_by_label("Embed code of Website").input_value()
    assert '/chat/widget.js" data-channel="website" async></script>' in snippet
    assert serious_violations(page, axe_source) == []
    page.get_by_role("link", name="Shop bot").click()
    webhook = page.get_by_label("Webhook address: paste it into the platform's settings")
    assert webhook.input_value().endswith(f"/social/hooks/{bot.key}/")
    assert serious_violations(page, axe_source) == []
