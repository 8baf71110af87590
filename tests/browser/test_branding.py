"""An admin sets the branding in /settings/branding/; customers see it on the help centre, the portal
and in the chat widget on their own website."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from playwright.sync_api import expect

from sportello.chat.models import ChatChannel
from sportello.core import branding
from tests.browser.conftest import sign_in
from tests.browser.test_chat import asgi_server, shop_page  # noqa: F401 — a website with the widget

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def logo_png() -> bytes:
    data = io.BytesIO()
    Image.new("RGB", (80, 40), (138, 28, 28)).save(data, "PNG")
    return data.getvalue()


def test_admin_sets_the_branding_and_a_customer_sees_it(browser, live_server, admin):
    admin_page = browser.new_page()
    sign_in(admin_page, live_server, admin)
    admin_page.get_by_role("link", name="Settings").click()
    admin_page.wait_for_url("**/settings/")
    admin_page.get_by_role("main").get_by_role("link", name="Branding").click()
    admin_page.wait_for_url("**/settings/branding/")
    admin_page.get_by_label("Product name").fill("Acme Help")
    admin_page.get_by_label("Logo").set_input_files({"name": "acme.png", "mimeType": "image/png", "buffer": logo_png()})
    admin_page.get_by_label("Primary colour").fill("#8a1c1c")
    admin_page.get_by_label("Support address").fill("help@acme.test")
    admin_page.get_by_role("button", name="Save").click()
    expect(admin_page.locator("ul.messages")).to_contain_text("Branding saved.")
    admin_page.close()

    visitor = browser.new_context().new_page()  # a customer, not signed in
    visitor.goto(f"{live_server.url}/help/en/")
    header = visitor.locator("header.site")
    expect(header.locator(".brand-name")).to_have_text("Acme Help")
    expect(visitor).to_have_title("Help centre · Acme Help")
    logo = header.locator(".brand img")
    expect(logo).to_be_visible()
    visitor.wait_for_function("img => img.complete && img.naturalWidth === 80", arg=logo.element_handle())
    # The primary colour reaches the help centre's own stylesheet: the header's rule and the links.
    expect(header).to_have_css("border-top-color", "rgb(138, 28, 28)")
    expect(header.get_by_role("link", name="Contact support")).to_have_css("color", "rgb(138, 28, 28)")
    expect(visitor.locator("footer.site").get_by_role("link", name="help@acme.test")).to_have_attribute(
        "href", "mailto:help@acme.test"
    )

    header.get_by_role("link", name="My requests").click()  # the portal's sign-in page
    visitor.wait_for_url("**/portal/**")
    expect(visitor.locator("header.site .brand-name")).to_have_text("Acme Help")
    expect(visitor.locator("header.site .brand-section")).to_have_text("Support portal")
    expect(visitor.get_by_role("button", name="Send me a link")).to_have_css("background-color", "rgb(138, 28, 28)")


def test_the_chat_widget_on_a_website_takes_the_name_and_colour(browser, asgi_server, shop_page, first_level):  # noqa: F811
    ChatChannel.objects.create(name="Website", key="website", group=first_level)
    branding.save_branding(product_name="Acme Help", primary_color="#8a1c1c", support_address="")
    visitor = browser.new_context().new_page()
    visitor.goto(shop_page)
    launcher = visitor.get_by_role("button", name="Chat with us")
    launcher.click()
    expect(visitor.locator("#sportello-chat header .title")).to_have_text("Acme Help")
    expect(launcher).to_have_css("background-color", "rgb(138, 28, 28)")
    expect(visitor.locator("#sportello-chat header")).to_have_css("background-color", "rgb(138, 28, 28)")
