"""Channel accounts in the admin: health at a glance, credentials written but never shown in full."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sportello.social.models import ChannelAccount
from tests.conftest import client_for
from tests.social.conftest import payload, post

pytestmark = pytest.mark.django_db


def test_the_list_shows_each_channels_health_in_one_query(admin, platform, whatsapp, telegram) -> None:
    post(platform, telegram, payload("telegram_edited.json"))  # quarantined
    client = client_for(admin)
    client.get("/admin/social/channelaccount/")  # warm the session and the content types
    with CaptureQueriesContext(connection) as one:
        page = client.get("/admin/social/channelaccount/").content.decode()
    assert "WhatsApp support" in page and "Telegram bot" in page
    telegram_row = next(row for row in page.split("<tr") if "Telegram bot" in row)
    assert ">1<" in telegram_row  # one quarantined payload
    for i in range(3):
        ChannelAccount.objects.create(kind="generic", name=f"Shop {i}")
    with CaptureQueriesContext(connection) as more:
        client.get("/admin/social/channelaccount/")
    assert len(more.captured_queries) == len(one.captured_queries)


def test_credentials_are_never_shown_again_and_an_empty_field_keeps_them(admin, whatsapp) -> None:
    client = client_for(admin)
    url = f"/admin/social/channelaccount/{whatsapp.pk}/change/"
    page = client.get(url).content.decode()
    assert "EAAJB-test-access-token" not in page and "6f3c1d1e9b8a7c6d5e4f3a2b1c0d9e8f" not in page
    assert "••••9e8f" in page and f"/social/hooks/{whatsapp.key}/" in page
    response = client.post(url, {
        "kind": "whatsapp", "name": "WhatsApp sales", "active": "on", "settings": '{"phone_number_id": "1"}',
        "access_token": "", "app_secret": "a-new-app-secret-value", "verify_token": "",
    })  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    account = ChannelAccount.objects.get(pk=whatsapp.pk)
    assert account.name == "WhatsApp sales"
    assert account.credentials == {"access_token": "EAAJB-test-access-token", "app_secret": "a-new-app-secret-value",
                                   "verify_token": "verify-me-please"}  # fmt: skip


def test_the_admin_refuses_agents(agent, whatsapp) -> None:
    response = client_for(agent).get("/admin/social/channelaccount/")
    assert response.status_code in (302, 403)
