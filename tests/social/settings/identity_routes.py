"""The platforms' identity endpoints, added to the local platform server (tests/social/platform_server.py).

Each answers as its documentation shows:
- Telegram `getMe` (https://core.telegram.org/bots/api#getme) answers `{"ok": true, "result": User}`;
  `getWebhookInfo` (#getwebhookinfo) a WebhookInfo with `url` ("" when none is set); `setWebhook`
  (#setwebhook) `{"ok": true, "result": true, "description": "Webhook was set"}`. A token the
  server does not know: 401 `{"ok": false, "error_code": 401, "description": "Unauthorized"}`.
- WhatsApp phone number (https://developers.facebook.com/docs/graph-api/reference/whats-app-business-phone-number/):
  `GET /v21.0/{phone-number-id}?fields=display_phone_number,verified_name`.
- Twilio Account fetch (https://www.twilio.com/docs/iam/api/account#fetch-an-account-resource):
  `GET /2010-04-01/Accounts/{Sid}.json` with basic auth; 401 code 20003 "Authenticate" otherwise.
- Graph API Page (https://developers.facebook.com/docs/graph-api/reference/page/) `GET /v21.0/{page-id}?fields=name`
  and Instagram user (https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user)
  `GET /v21.0/{ig-user-id}?fields=username`, with the Page access token.

`serve(platform_server)` adds the routes (the Twilio and Meta send routes of more_platforms too);
`server.telegram_webhook` holds what the last setWebhook set.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.social import more_platforms
from tests.social.more_platforms import IG_ID, PAGE_ID, PAGE_TOKEN, TWILIO_SID, TWILIO_TOKEN
from tests.social.platform_server import PHONE_NUMBER_ID, TELEGRAM_TOKEN, WHATSAPP_TOKEN, PlatformServer, Request

JSON = "application/json"
GRAPH_401 = {"error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190,
                       "fbtrace_id": "AbCdEf"}}  # fmt: skip


def _telegram(server: PlatformServer, method: str, token: str, name: str, body: bytes) -> tuple[int, Any, str]:
    if token != TELEGRAM_TOKEN:
        return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}, JSON
    if name == "getMe":
        bot = {"id": 123456, "is_bot": True, "first_name": "Sportello", "username": "sportello_bot",
               "can_join_groups": True, "supports_inline_queries": False}  # fmt: skip
        return 200, {"ok": True, "result": bot}, JSON
    if name == "getWebhookInfo":
        info = {"url": server.telegram_webhook.get("url", ""), "has_custom_certificate": False,  # type: ignore[attr-defined]
                "pending_update_count": 0}  # fmt: skip
        return 200, {"ok": True, "result": info}, JSON
    if name == "setWebhook" and method == "POST":
        server.telegram_webhook = json.loads(body)  # type: ignore[attr-defined]
        return 200, {"ok": True, "result": True, "description": "Webhook was set"}, JSON
    return 404, {"ok": False, "error_code": 404, "description": "Not Found"}, JSON


def _graph(path: str, headers: dict[str, str]) -> tuple[int, Any, str] | None:
    node = path.removeprefix("/v21.0/").split("?")[0]
    auth = headers.get("Authorization", "")
    if node == PHONE_NUMBER_ID:
        if auth != f"Bearer {WHATSAPP_TOKEN}":
            return 401, GRAPH_401, JSON
        return 200, {"verified_name": "Sportello Support", "display_phone_number": "+1 631-555-1181",
                     "quality_rating": "GREEN", "id": PHONE_NUMBER_ID}, JSON  # fmt: skip
    if node in (PAGE_ID, IG_ID):
        if auth != f"Bearer {PAGE_TOKEN}":
            return 401, GRAPH_401, JSON
        if node == PAGE_ID:
            return 200, {"name": "Sportello Shop", "id": PAGE_ID}, JSON
        return 200, {"username": "sportello.shop", "id": IG_ID}, JSON
    return None


def _twilio_account(headers: dict[str, str]) -> tuple[int, Any, str]:
    expected = "Basic " + base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
    if headers.get("Authorization") != expected:
        error = {"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003",
                 "status": 401}  # fmt: skip
        return 401, error, JSON
    account = {"sid": TWILIO_SID, "friendly_name": "Sportello SMS", "status": "active", "type": "Full",
               "date_created": "Thu, 03 Dec 2026 10:00:00 +0000", "owner_account_sid": TWILIO_SID}  # fmt: skip
    return 200, account, JSON


def serve(server: PlatformServer) -> PlatformServer:
    more_platforms.serve(server)
    server.telegram_webhook = {}  # type: ignore[attr-defined]
    original = server.answer

    def answer(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any, str]:
        found: tuple[int, Any, str] | None = None
        if path.startswith("/bot") and method in ("GET", "POST"):
            token, _, name = path.removeprefix("/bot").partition("/")
            if name.split("?")[0] in ("getMe", "getWebhookInfo", "setWebhook") or token != TELEGRAM_TOKEN:
                found = _telegram(server, method, token, name.split("?")[0], body)
        elif path.startswith("/v21.0/") and method == "GET":
            found = _graph(path, headers)
        elif path == f"/2010-04-01/Accounts/{TWILIO_SID}.json" and method == "GET":
            found = _twilio_account(headers)
        if found is None:
            return original(method, path, headers, body)
        server.requests.append(Request(method, path, headers, body))
        return found

    server.answer = answer  # type: ignore[method-assign]
    return server
