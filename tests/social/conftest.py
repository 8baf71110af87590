from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from sportello.social.models import AccountKind, ChannelAccount
from sportello.social.platforms.base import hmac_sha256
from sportello.social.services import create_account
from tests.social.platform_server import (  # noqa: F401 (the fixture)
    PHONE_NUMBER_ID,
    TELEGRAM_TOKEN,
    WHATSAPP_TOKEN,
    PlatformServer,
    platform_server,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "social"
APP_SECRET = "6f3c1d1e9b8a7c6d5e4f3a2b1c0d9e8f"
TELEGRAM_SECRET = "s3cr3t-t0ken_from-setWebhook"
GENERIC_SECRET = "a-long-shared-secret-for-the-signed-webhook"


def payload(name: str, **fill: str) -> Any:
    """The documented payload of fixture `name`, with `{placeholders}` filled in."""
    text = json.dumps(json.loads((FIXTURES / name).read_text())["payload"])
    for key, value in fill.items():
        text = text.replace("{" + key + "}", value)
    return json.loads(text)


def hook(account: ChannelAccount) -> str:
    return f"/social/hooks/{account.key}/"


def post(client: Client, account: ChannelAccount, data: Any, *, headers: dict[str, str] | None = None,
         body: bytes | None = None) -> Any:  # fmt: skip
    """POST `data` as the platform would, signed with the account's secret unless `headers` say otherwise."""
    raw = body if body is not None else json.dumps(data).encode()
    if headers is None:
        if account.kind == AccountKind.WHATSAPP:
            headers = {"X-Hub-Signature-256": "sha256=" + hmac_sha256(APP_SECRET, raw)}
        elif account.kind == AccountKind.TELEGRAM:
            headers = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
        else:
            headers = {"X-Sportello-Channel-Signature": "sha256=" + hmac_sha256(GENERIC_SECRET, raw)}
    return client.post(hook(account), raw, content_type="application/json", headers=headers)


@pytest.fixture
def whatsapp(db, platform_server: PlatformServer) -> ChannelAccount:  # noqa: F811
    return create_account(
        AccountKind.WHATSAPP, "WhatsApp support",
        credentials={"access_token": WHATSAPP_TOKEN, "app_secret": APP_SECRET, "verify_token": "verify-me-please"},
        settings={"phone_number_id": PHONE_NUMBER_ID, "api_base": platform_server.url},
    )  # fmt: skip


@pytest.fixture
def telegram(db, platform_server: PlatformServer) -> ChannelAccount:  # noqa: F811
    return create_account(
        AccountKind.TELEGRAM, "Telegram bot",
        credentials={"bot_token": TELEGRAM_TOKEN, "secret_token": TELEGRAM_SECRET},
        settings={"api_base": platform_server.url},
    )  # fmt: skip


@pytest.fixture
def generic(db, platform_server: PlatformServer, settings) -> ChannelAccount:  # type: ignore[no-untyped-def]  # noqa: F811
    settings.WEBHOOK_ALLOW_HOSTS = ["127.0.0.1"]  # the local receiver; other private addresses stay refused
    return create_account(
        AccountKind.GENERIC, "Shop app",
        credentials={"secret": GENERIC_SECRET}, settings={"delivery_url": f"{platform_server.url}/deliver"},
    )  # fmt: skip


@pytest.fixture
def platform() -> Client:
    return Client()
