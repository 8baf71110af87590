"""The agents' layout as a keyboard and a mouse use it: shortcuts, the `?` sheet, the availability
switch, the profile's language on the next page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from sportello.accounts.models import Availability, User
from tests.browser.conftest import sign_in
from tests.waiting import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_shortcuts_sheet_search_and_go_to_inbox(page, live_server, agent):
    sign_in(page, live_server, agent)
    page.goto(f"{live_server.url}/accounts/tokens/")

    page.keyboard.press("?")
    sheet = page.locator("#shortcuts-help")
    expect(sheet).to_be_visible()
    expect(sheet).to_contain_text("Go to the inbox")
    page.keyboard.press("Escape")
    expect(sheet).to_be_hidden()

    page.keyboard.press("/")
    expect(page.get_by_role("searchbox", name="Search tickets")).to_be_focused()
    page.keyboard.type("gi")  # typed into the field: no shortcut fires there
    expect(page).to_have_url(f"{live_server.url}/accounts/tokens/")
    page.keyboard.press("Escape")  # leaves the field

    page.keyboard.press("g")
    page.keyboard.press("i")
    page.wait_for_url(f"{live_server.url}/")


def test_page_shortcuts_hook_in_and_are_listed(page, live_server, agent):
    """A page marks an element with data-shortcut: the key clicks it and the sheet lists it."""
    sign_in(page, live_server, agent)
    page.goto(f"{live_server.url}/accounts/tokens/")
    page.evaluate(
        """() => {
        const button = document.querySelector("main button[type=submit]");
        button.dataset.shortcut = "c";
        button.dataset.shortcutLabel = "Create a token";
        document.getElementById("id_name").value = "from the keyboard";
    }"""
    )
    page.keyboard.press("?")
    expect(page.locator("#shortcuts-page")).to_contain_text("Create a token")
    page.keyboard.press("Escape")
    page.keyboard.press("c")
    expect(page.locator("#new-token")).to_be_visible()


def test_skip_link_and_focus_are_visible(page, live_server, agent):
    sign_in(page, live_server, agent)
    page.goto(f"{live_server.url}/accounts/profile/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    outline = skip.evaluate("(element) => getComputedStyle(element).outlineStyle")
    assert outline == "solid"


def test_availability_switch_saves_on_press(page, live_server, agent):
    sign_in(page, live_server, agent)
    page.goto(f"{live_server.url}/accounts/tokens/")
    switch = page.get_by_role("group", name="Availability")
    expect(switch.get_by_role("button", name="Online")).to_have_attribute("aria-pressed", "true")
    switch.get_by_role("button", name="Away").click()
    expect(switch.get_by_role("button", name="Away")).to_have_attribute("aria-pressed", "true")
    expect(switch.get_by_role("button", name="Online")).to_have_attribute("aria-pressed", "false")
    expect(page).to_have_url(f"{live_server.url}/accounts/tokens/")  # saved in the background, no reload
    wait_for(lambda: User.objects.get(pk=agent.pk).availability == Availability.AWAY, "availability saved")


def test_availability_switch_works_without_a_script(browser, live_server, agent):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    sign_in(page, live_server, agent)
    page.goto(f"{live_server.url}/accounts/tokens/")
    page.get_by_role("group", name="Availability").get_by_role("button", name="Offline").click()
    page.wait_for_url(f"{live_server.url}/accounts/tokens/")
    expect(page.get_by_role("button", name="Offline")).to_have_attribute("aria-pressed", "true")
    assert User.objects.get(pk=agent.pk).availability == Availability.OFFLINE
    context.close()


def test_language_chosen_on_the_profile_applies_to_the_next_page(page, live_server, agent):
    sign_in(page, live_server, agent)
    page.goto(f"{live_server.url}/accounts/profile/")
    page.get_by_label("Language").select_option("it")
    page.get_by_label("Time zone").select_option("Europe/Rome")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("html")).to_have_attribute("lang", "it")
    page.goto(f"{live_server.url}/")
    main_menu = page.get_by_role("navigation", name="Principale")
    expect(main_menu.get_by_role("link", name="Posta in arrivo")).to_be_visible()
