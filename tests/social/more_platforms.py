"""Twilio's and Meta's send APIs on the local platform server (tests/social/platform_server.py).

- Twilio Messages (https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource):
  `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, form-encoded, HTTP basic auth with the
  account SID and auth token, answers 201 with the Message resource (`sid`, `status: queued`, …);
  errors are `{"code", "message", "more_info", "status"}` (https://www.twilio.com/docs/usage/twilios-response#response-formats-exceptions),
  e.g. 401 code 20003 for bad credentials, 429 code 20429. MMS media are downloaded from
  `/2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media/{MediaSid}` with the same auth.
- Messenger / Instagram Send API (https://developers.facebook.com/docs/messenger-platform/reference/send-api/):
  `POST /v21.0/{page-id}/messages` with the page access token answers `{"recipient_id", "message_id"}`;
  errors are Graph API errors `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`.
  Attachment URLs of incoming messages are served from `/meta-cdn/<name>`.

`serve(platform_server)` teaches the server these routes; `requests` and `fail_next` work as for the others.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs

from tests.social.platform_server import PlatformServer, Request

TWILIO_SID = "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
TWILIO_TOKEN = "your_auth_token_12345"
TWILIO_MEDIA = {
    "MM800f449d0399ed014aae2bcc0cc2f2ec/Media/ME27be8cc1fb4c3a2b9f2b7e5d1a8d9f30": b"\xff\xd8\xff\xe0 an mms photo"
}
PAGE_ID = "1234567890123456"
IG_ID = "17841400000000000"
PAGE_TOKEN = "EAAG-page-access-token"
META_FILES = {"photo.jpg": ("image/jpeg", b"\xff\xd8\xff\xe0 a messenger photo")}
Answer = tuple[int, Any, str]


def _twilio(server: PlatformServer, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
    expected = "Basic " + base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
    if headers.get("Authorization") != expected:
        error = {"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003",
                 "status": 401}  # fmt: skip
        return 401, error, "application/json"
    rest = path.removeprefix(f"/2010-04-01/Accounts/{TWILIO_SID}/")
    if rest == "Messages.json" and method == "POST":
        fields = {name: values[0] for name, values in parse_qs(body.decode()).items()}
        if not fields.get("To", "").startswith("+"):
            error = {"code": 21211, "message": f"The 'To' number {fields.get('To')} is not a valid phone number.",
                     "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}  # fmt: skip
            return 400, error, "application/json"
        sid = f"SM{server.counter:032d}"
        answer = {
            "account_sid": TWILIO_SID, "api_version": "2010-04-01", "body": fields.get("Body", ""),
            "direction": "outbound-api", "error_code": None, "error_message": None, "from": fields.get("From"),
            "messaging_service_sid": fields.get("MessagingServiceSid"), "num_media": "0", "num_segments": "1",
            "price": None, "sid": sid, "status": "queued", "to": fields["To"],
            "uri": f"/2010-04-01/Accounts/{TWILIO_SID}/Messages/{sid}.json",
        }  # fmt: skip
        return 201, answer, "application/json"
    media = rest.removeprefix("Messages/")
    if method == "GET" and media in TWILIO_MEDIA:
        return 200, TWILIO_MEDIA[media], "image/jpeg"
    return 404, {"code": 20404, "message": "The requested resource was not found", "status": 404}, "application/json"


def _meta(server: PlatformServer, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
    if headers.get("Authorization") != f"Bearer {PAGE_TOKEN}":
        error = {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}
        return 401, {"error": {**error, "fbtrace_id": "AbCdEf"}}, "application/json"
    if method == "POST":
        if body.startswith(b"{"):
            recipient = json.loads(body)["recipient"]["id"]
        else:  # multipart: recipient is a JSON field
            marker = b'name="recipient"\r\n\r\n'
            start = body.index(marker) + len(marker)
            recipient = json.loads(body[start : body.index(b"\r\n", start)])["id"]
        return (
            200,
            {"recipient_id": recipient, "message_id": f"m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_{server.counter}"},
            ("application/json"),
        )
    return 400, {"error": {"message": "Unsupported request", "code": 100}}, "application/json"


def serve(server: PlatformServer) -> PlatformServer:
    """Add the Twilio and Meta routes to `server` (which keeps answering the others)."""
    original = server.answer

    def answer(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any, str]:
        twilio = path.startswith("/2010-04-01/")
        meta = path in (f"/v21.0/{PAGE_ID}/messages", f"/v21.0/{IG_ID}/messages") or path.startswith("/meta-cdn/")
        if not (twilio or meta):
            return original(method, path, headers, body)
        server.requests.append(Request(method, path, headers, body))
        if server.fail_next:
            status, error = server.fail_next.pop(0)
            return status, error, "application/json"
        server.counter += 1
        if path.startswith("/meta-cdn/"):
            name = path.removeprefix("/meta-cdn/").split("?")[0]
            if name not in META_FILES:
                return 404, {"error": {"message": "Not found"}}, "application/json"
            return 200, META_FILES[name][1], META_FILES[name][0]
        return (_twilio if twilio else _meta)(server, method, path, headers, body)

    server.answer = answer  # type: ignore[method-assign]
    return server
