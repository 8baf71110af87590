"""An admin erases a customer from the customer page, after a wrong confirmation is refused; a
customer asks for their data in the portal and downloads the archive from the mailed link."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest
from django.core import mail
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from sportello.customers.services import Sender
from sportello.tickets.intake import Inbound, ingest
from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_erases_a_customer_after_typing_the_address(page, live_server, admin):
    ticket = ingest(
        Inbound(
            channel="email", sender=Sender(name="Nadia Greco", email="nadia@greco.example"),
            subject="Kiwi order 7781", body_text="Where is my kiwi order?", acknowledge=False,
        )
    ).ticket  # fmt: skip
    sign_in(page, live_server, admin)
    page.goto(f"{live_server.url}/customers/{ticket.customer_id}/")
    page.get_by_role("link", name="Erase personal data…").click()

    field = page.get_by_label("Type the customer's email address to confirm")
    field.fill("someone@else.example")
    page.get_by_role("button", name="Erase this customer").click()
    expect(page.locator("#erase-error")).to_contain_text("Type the customer's email address")

    page.get_by_label("Type the customer's email address to confirm").fill("nadia@greco.example")
    page.get_by_role("button", name="Erase this customer").click()
    page.wait_for_url(f"**/customers/{ticket.customer_id}/")
    expect(page.locator(".messages")).to_contain_text("personal data was erased")
    expect(page.locator("#customer-name")).to_have_text(f"Erased customer #{ticket.customer_id}")
    expect(page.locator("#customer-identities")).not_to_contain_text("nadia@greco.example")
    expect(page.locator("#customer-privacy")).to_contain_text("This customer was erased.")


def test_customer_asks_for_their_data_in_the_portal_and_downloads_it(page, live_server, customer, ticket):
    page.goto(f"{live_server.url}/portal/sign-in")
    page.fill("#password-email", "carla@example.com")
    page.fill("#password-password", PASSWORD)
    page.locator("#password-form").get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/portal/")
    page.get_by_role("link", name="My data").click()
    page.get_by_role("button", name="Send me a copy of my data").click()
    expect(page.locator(".messages")).to_contain_text("a link to download it will come by email")
    expect(page.locator("#exports tbody tr").first).to_contain_text("Ready")

    (message,) = [m for m in mail.outbox if "personal data" in m.subject]
    assert message.to == ["Carla Rossi <carla@example.com>"]
    link = re.search(r"https?://\S+(/portal/my-data/download/\S+)", message.body).group(1)  # type: ignore[union-attr]
    with page.expect_download() as started:
        try:
            page.goto(live_server.url + link)  # the customer follows the mailed link, signed in
        except PlaywrightError as err:  # a download ends the navigation; Chromium reports that
            assert "Download is starting" in str(err) or "ERR_ABORTED" in str(err), err
    download = started.value
    assert re.fullmatch(r"personal-data-\d{4}-\d{2}-\d{2}\.zip", download.suggested_filename)
    with open(download.path(), "rb") as archive_file:
        archive = zipfile.ZipFile(io.BytesIO(archive_file.read()))
    assert json.loads(archive.read("customer.json"))["name"] == "Carla Rossi"
    own = json.loads(archive.read(f"tickets/{ticket.number}/ticket.json"))
    assert own["subject"] == "Printer on fire"
    assert [e["body_text"] for e in own["entries"]] == ["The printer in room 4 is on fire."]
