"""An admin invites an agent; the agent opens the link from the mail, chooses a password and
lands in the inbox, signed in."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from sportello.accounts.models import User
from tests.browser.conftest import PATIENCE_MS, sign_in
from tests.browser.test_accessibility import axe_source, serious_violations  # noqa: F401 — a fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_invited_agent_sets_a_password_and_lands_in_inbox(browser, live_server, admin, first_level, axe_source):  # noqa: F811
    admin_page = browser.new_page()
    admin_page.set_default_timeout(PATIENCE_MS)
    sign_in(admin_page, live_server, admin)
    admin_page.goto(f"{live_server.url}/settings/")
    admin_page.get_by_role("main").get_by_role("link", name="Users and agents").click()
    admin_page.wait_for_url("**/settings/users/")
    assert serious_violations(admin_page, axe_source) == []
    form = admin_page.locator("#invite-user")
    form.get_by_label("Email").fill("nora@example.org")
    form.get_by_label("First name").fill("Nora")
    form.get_by_label("Last name").fill("Neri")
    form.get_by_label("Role").select_option("agent")
    form.get_by_label("First level").check()
    form.get_by_role("button", name="Send invitation").click()
    expect(admin_page.get_by_text("Invitation sent to nora@example.org.")).to_be_visible()
    expect(admin_page.locator('tr[data-user="nora@example.org"]')).to_contain_text("Invited")
    admin_page.close()

    [message] = [m for m in mail.outbox if m.to == ["nora@example.org"]]
    path = re.search(r"https?://[^/\s]+(/accounts/invitation/\S+/)", message.body).group(1)  # type: ignore[union-attr]

    page = browser.new_page()
    page.set_default_timeout(PATIENCE_MS)
    page.goto(live_server.url + path)
    expect(page.get_by_role("heading", name="Welcome to Sportello")).to_be_visible()
    assert serious_violations(page, axe_source) == []
    page.locator("#id_password1").fill("a long enough pass phrase")
    page.locator("#id_password2").fill("a long enough pass phrase")
    page.get_by_role("button", name="Set password and sign in").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_text("Welcome, Nora Neri: your password is set.")).to_be_visible()
    nora = User.objects.get(email="nora@example.org")
    assert nora.has_usable_password() and nora.last_login is not None
    assert [g.name for g in nora.support_groups.all()] == ["First level"]
