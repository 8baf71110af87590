"""The settings area's front page /settings/: every page that exists, for admins only."""

from __future__ import annotations

import pytest

from sportello.admin_area.registry import menu
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_admin_sees_each_existing_settings_page_once_with_a_working_link(admin):
    client = client_for(admin)
    response = client.get("/settings/")
    assert response.status_code == 200
    html = response.content.decode()
    links = [link for _, section in menu() for link in section]
    # The pages that already exist are listed: custom fields, the audit trail, mailboxes, phone.
    urls = {link.url for link in links}
    assert {"/settings/fields/", "/settings/audit/", "/mail/mailboxes/", "/phone/accounts/"} <= urls
    for link in links:
        assert f'href="{link.url}"' in html
        assert client.get(link.url).status_code == 200, link.url


def test_a_page_not_built_yet_is_left_out_instead_of_breaking_the_menu(monkeypatch):
    from sportello.admin_area import registry

    unbuilt = registry.Section("Later", (registry.Page("settings-not-built", "Soon", "Not yet"),))
    monkeypatch.setattr(registry, "SECTIONS", (*registry.SECTIONS, unbuilt))
    assert "Later" not in [title for title, _ in registry.menu()]
    assert len(registry.menu()) == len(menu())


def test_settings_pages_carry_the_side_menu_with_the_current_page_marked(admin):
    html = client_for(admin).get("/settings/fields/").content.decode()
    assert 'class="settings-menu"' in html
    assert '<a href="/settings/fields/" aria-current="page">' in html


def test_the_header_links_admins_to_settings_and_nobody_else(admin, agent):
    assert 'href="/settings/"' in client_for(admin).get("/").content.decode()
    assert 'href="/settings/"' not in client_for(agent).get("/").content.decode()


def test_agents_customers_and_strangers_are_refused(client, agent, customer_user):
    assert client_for(agent).get("/settings/").status_code == 403
    assert client_for(customer_user).get("/settings/").status_code in (302, 403)
    response = client.get("/settings/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
