"""SMS through Twilio (https://www.twilio.com/docs/messaging).

Inbound: Twilio POSTs form-encoded fields to the webhook address
(https://www.twilio.com/docs/messaging/guides/webhook-request): `MessageSid`, `From`, `To` (E.164),
`Body`, `NumMedia` and `MediaUrlN`/`MediaContentTypeN` for MMS; and, for the messages we sent, status
callbacks (https://www.twilio.com/docs/messaging/guides/track-outbound-message-status) with
`MessageSid`, `MessageStatus` (queued, sent, delivered, undelivered, failed, read) and `ErrorCode`.
Every request is signed with `X-Twilio-Signature` (core/twilio.py, shared with Voice).
Outbound: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` with basic auth, `To`, `From` (or
`MessagingServiceSid`), `Body` and `StatusCallback` (this channel's webhook address).
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.conf import settings
from django.http.multipartparser import MultiPartParserError
from django.urls import reverse

from sportello.core.twilio import signed_by_twilio
from sportello.customers.identity import e164
from sportello.customers.services import Sender
from sportello.social import http
from sportello.social.platforms.base import Item, Media, Message, Status, Unauthorized, UnknownShape, text_of
from sportello.tickets.attachments import AttachmentIn

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

    from sportello.social.models import ChannelAccount, Conversation
    from sportello.tickets.models import Entry

API = "https://api.twilio.com"
SIGNATURE_HEADER = "X-Twilio-Signature"
# The Messages resource takes a Body of at most 1,600 characters (error 21617); longer replies go
# out as several messages.
BODY_LIMIT = 1600
MAX_MEDIA = 10  # NumMedia is at most 10
# MessageStatus → the entry's delivery state; queued/accepted/sending change nothing.
STATES = {"sent": "sent", "delivered": "delivered", "read": "read", "undelivered": "failed", "failed": "failed"}
PENDING = ("queued", "accepted", "scheduled", "sending")
# Twilio's error dictionary (https://www.twilio.com/docs/api/errors) for the codes a status
# callback carries most often.
ERRORS = {
    "30001": "Queue overflow",
    "30002": "Account suspended",
    "30003": "Unreachable destination handset",
    "30004": "Message blocked",
    "30005": "Unknown destination handset",
    "30006": "Landline or unreachable carrier",
    "30007": "Message filtered",
    "30008": "Unknown error",
}


def _describe(status: int, parsed: Any) -> str:
    """Twilio's REST errors: `{"code": 21211, "message": "…", "more_info": "…", "status": 400}`."""
    if not isinstance(parsed, dict):
        return ""
    text, code = str(parsed.get("message") or ""), parsed.get("code")
    return f"{text} (code {code})" if code else text


class TwilioSms:
    kind = "sms"
    credential_names = ("account_sid", "auth_token")
    setting_names = ("from_number", "messaging_service_sid", "api_base")

    def _base(self, account: ChannelAccount) -> str:
        return str(account.settings.get("api_base") or API).rstrip("/")

    def _auth(self, account: ChannelAccount) -> tuple[str, str]:
        credentials = account.credentials
        return str(credentials.get("account_sid", "")), str(credentials.get("auth_token", ""))

    def callback_url(self, account: ChannelAccount) -> str:
        return settings.SITE_URL + reverse("social:webhook", kwargs={"key": account.key})

    def verify(self, account: ChannelAccount, request: HttpRequest) -> None:
        token = account.credentials.get("auth_token", "")
        if not token:
            raise Unauthorized("The channel has no auth token to check signatures with")
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if not signature:
            raise Unauthorized(f"The request is not signed (no {SIGNATURE_HEADER})")
        # Twilio signs the URL it called: as this server sees it, or the public SITE_URL.
        urls = {request.build_absolute_uri(), settings.SITE_URL + request.get_full_path()}
        try:
            fields = dict(request.POST.lists())
        except MultiPartParserError:
            raise Unauthorized("The body is not a form Twilio would have signed") from None
        if not signed_by_twilio(urls, fields, token, signature):
            raise Unauthorized(f"The signature does not match ({SIGNATURE_HEADER})")

    def handshake(self, account: ChannelAccount, request: HttpRequest) -> HttpResponse | None:
        return None

    def decode(self, request: HttpRequest) -> dict[str, Any]:
        """The form fields, one value each (a repeated field keeps all its values in a list)."""
        return {name: values[0] if len(values) == 1 else values for name, values in request.POST.lists()}

    def parse(self, account: ChannelAccount, payload: Any) -> list[Item]:
        if not isinstance(payload, dict) or not str(payload.get("MessageSid") or payload.get("SmsSid") or ""):
            raise UnknownShape("Not a Twilio message webhook: no `MessageSid`")
        sid = str(payload.get("MessageSid") or payload.get("SmsSid"))
        status = str(payload.get("MessageStatus") or "")
        if status and status != "received":
            return self._status(sid, status, payload)
        return [self._message(sid, payload)]

    def _status(self, sid: str, status: str, payload: dict[str, Any]) -> list[Item]:
        if status in PENDING:
            state = "queued"
        elif status in STATES:
            state = STATES[status]
        else:
            raise UnknownShape(f"A status callback of status {status[:20]!r}")
        code = str(payload.get("ErrorCode") or "")
        reason = ""
        if code:
            reason = f"{ERRORS.get(code, 'Error')} (ErrorCode {code}, https://www.twilio.com/docs/api/errors/{code})"
        elif state == "failed":
            reason = f"Twilio reported the message {status}"
        return [Status(f"status:{sid}:{status}", sid, state, reason)]

    def _message(self, sid: str, payload: dict[str, Any]) -> Message:
        sender = e164(str(payload.get("From") or "").strip())
        if not sender:
            raise UnknownShape(f"A message from {str(payload.get('From'))[:40]!r}, not a phone number")
        try:
            count = int(str(payload.get("NumMedia") or "0"))
        except ValueError:
            raise UnknownShape("`NumMedia` is not a number") from None
        if not 0 <= count <= MAX_MEDIA:
            raise UnknownShape(f"`NumMedia` of {count}: Twilio sends at most {MAX_MEDIA}")
        media = []
        for index in range(count):
            url = str(payload.get(f"MediaUrl{index}") or "")
            if not url:
                raise UnknownShape(f"`NumMedia` is {count} but `MediaUrl{index}` is missing")
            content_type = str(payload.get(f"MediaContentType{index}") or "")
            extension = content_type.split("/")[-1].split(";")[0] or "bin"
            media.append(Media(url, f"mms-{sid[-8:]}-{index + 1}.{extension}", content_type))
        text = text_of(payload.get("Body"))
        if not text.strip() and not media:
            raise UnknownShape("A message with no body and no media")
        return Message(
            platform_id=f"message:{sid}",
            handle=sender,
            address=sender,
            sender=Sender(phone=sender),
            text=text,
            media=media,
            metadata={"from": sender, "to": e164(str(payload.get("To") or "")) or str(payload.get("To") or "")},
        )

    def fetch_media(self, account: ChannelAccount, media: Media) -> AttachmentIn:
        """MMS media sit under Twilio's API (basic auth when the account requires it); nothing else is fetched."""
        if not media.ref.startswith(API + "/"):
            raise http.PlatformError(0, f"A media URL outside {API}", transient=False)
        url = self._base(account) + media.ref.removeprefix(API)
        _status, _answer, raw = http.call("GET", url, headers=_basic(*self._auth(account)), describe=_describe)
        return AttachmentIn(media.filename, raw, media.content_type)

    def send(
        self, account: ChannelAccount, conversation: Conversation, entry: Entry, done: list[str]
    ) -> dict[str, Any]:
        """The text in messages of at most 1,600 characters; `done`: see the Platform protocol."""
        if entry.attachments.exists():
            raise http.PlatformError(0, "SMS carries text only: send the files by another channel", transient=False)
        sid, token = self._auth(account)
        text = entry.body_text.strip()
        if not text:
            raise http.PlatformError(0, "An SMS needs text", transient=False)
        fields: dict[str, str] = {"To": conversation.address, "StatusCallback": self.callback_url(account)}
        if account.settings.get("messaging_service_sid"):
            fields["MessagingServiceSid"] = str(account.settings["messaging_service_sid"])
        elif account.settings.get("from_number"):
            fields["From"] = str(account.settings["from_number"])
        else:
            raise http.PlatformError(0, "The channel has no from_number or messaging_service_sid", transient=False)
        url = f"{self._base(account)}/2010-04-01/Accounts/{sid}/Messages.json"
        chunks = [text[start : start + BODY_LIMIT] for start in range(0, len(text), BODY_LIMIT)]
        for index, chunk in enumerate(chunks):
            if index < len(done):
                continue
            data = urlencode({**fields, "Body": chunk}).encode()
            _status, answer, _raw = http.call(
                "POST", url, data=data, content_type="application/x-www-form-urlencoded",
                headers=_basic(sid, token), describe=_describe,
            )  # fmt: skip
            if not isinstance(answer, dict) or not answer.get("sid"):
                raise http.PlatformError(200, "Twilio's answer named no message sid", transient=False)
            done.append(str(answer["sid"]))
        return {"platform_message_ids": list(done)}


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}
