"""The generic signed webhook: anything that can post JSON signed with HMAC-SHA256 (docs/channels.md).

Inbound: `POST /social/hooks/<key>/` with `X-Sportello-Channel-Signature: sha256=<hex HMAC-SHA256
of the raw body under the channel's secret>`; the body is one event or a list of them. Outbound:
replies are posted as JSON, signed the same way, to the channel's delivery URL — a public address
only (or a host on SPORTELLO_WEBHOOK_ALLOW_HOSTS), as for the automation's webhooks.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sportello.customers.services import Sender
from sportello.social import http
from sportello.social.platforms.base import (
    Item,
    Media,
    Message,
    Status,
    UnknownShape,
    check_signature,
    hmac_sha256,
    text_of,
)
from sportello.tickets.attachments import AttachmentIn

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

    from sportello.social.models import ChannelAccount, Conversation
    from sportello.tickets.models import Entry

SIGNATURE_HEADER = "X-Sportello-Channel-Signature"
STATES = ("sent", "delivered", "read", "failed")


class Generic:
    kind = "generic"
    credential_names = ("secret",)
    setting_names = ("delivery_url",)

    def verify(self, account: ChannelAccount, request: HttpRequest) -> None:
        check_signature(request.headers.get(SIGNATURE_HEADER, ""), account.credentials.get("secret", ""), request.body)

    def handshake(self, account: ChannelAccount, request: HttpRequest) -> HttpResponse | None:
        return None

    def parse(self, account: ChannelAccount, payload: Any) -> list[Item]:
        events = payload if isinstance(payload, list) else [payload]
        if not events:
            raise UnknownShape("An empty list of events")
        return [self._event(event) for event in events]

    def _event(self, event: Any) -> Item:
        if not isinstance(event, dict):
            raise UnknownShape("An event is a JSON object")
        kind = event.get("type", "message")
        event_id = event.get("id")
        if not isinstance(event_id, str | int) or not str(event_id).strip():
            raise UnknownShape("An event needs its `id` (a string, unique per channel)")
        if kind == "status":
            state = event.get("status")
            if state not in STATES or not event.get("message_id"):
                raise UnknownShape(f"A status needs `message_id` and `status` (one of {', '.join(STATES)})")
            return Status(f"status:{event_id}", str(event["message_id"]), state, text_of(event.get("error"), 500))
        if kind != "message":
            raise UnknownShape(f"Unknown event type {str(kind)[:40]!r}: message or status")
        sender = event.get("from")
        if not isinstance(sender, dict) or not str(sender.get("id") or "").strip():
            raise UnknownShape("A message needs `from.id`, the sender's id on your system")
        handle = str(sender["id"]).strip()[:200]
        attachments = [self._attachment(item) for item in event.get("attachments") or []]
        text = text_of(event.get("text"))
        if not text.strip() and not attachments:
            raise UnknownShape("A message needs `text` or `attachments`")
        return Message(
            platform_id=f"message:{event_id}",
            handle=handle,
            address=str(event.get("conversation") or handle)[:200],
            sender=Sender(
                name=text_of(sender.get("name"), 200),
                email=text_of(sender.get("email"), 254),
                phone=text_of(sender.get("phone"), 40),
                social=f"webhook:{handle}",
            ),
            text=text,
            attachments=attachments,
            metadata={"conversation": str(event.get("conversation") or "")[:200]},
            sent_at=_time(event.get("sent_at")),
        )

    def _attachment(self, item: Any) -> AttachmentIn:
        if not isinstance(item, dict) or not item.get("filename") or not item.get("content_base64"):
            raise UnknownShape("An attachment needs `filename` and `content_base64`")
        try:
            content = base64.b64decode(str(item["content_base64"]), validate=True)
        except (binascii.Error, ValueError):
            raise UnknownShape(f"The attachment {str(item['filename'])[:80]!r} is not valid base64") from None
        return AttachmentIn(str(item["filename"])[:200], content, str(item.get("content_type") or ""))

    def fetch_media(self, account: ChannelAccount, media: Media) -> AttachmentIn:
        raise NotImplementedError("The signed webhook sends its files inline")

    def send(
        self, account: ChannelAccount, conversation: Conversation, entry: Entry, done: list[str]
    ) -> dict[str, Any]:
        """One signed POST with the reply and its files; `done`: see the Platform protocol."""
        if done:
            return {"platform_message_ids": list(done)}
        url = str(account.settings.get("delivery_url") or "")
        if not url:
            raise http.PlatformError(0, "The channel has no delivery URL", transient=False)
        _check_address(url)
        files = []
        for attachment in entry.attachments.all():
            with attachment.file.open("rb") as handle:
                files.append({"filename": attachment.filename, "content_type": attachment.content_type,
                              "content_base64": base64.b64encode(handle.read()).decode("ascii")})  # fmt: skip
        our_id = f"sportello-{entry.pk}"
        body = {
            "type": "message",
            "id": our_id,
            "conversation": conversation.address,
            "to": conversation.handle,
            "ticket": entry.ticket.number,
            "author": entry.author_user.display_name if entry.author_user else "",
            "text": entry.body_text,
            "html": entry.body_html,
            "attachments": files,
        }
        import json

        data = json.dumps(body).encode()
        signature = "sha256=" + hmac_sha256(account.credentials.get("secret", ""), data)
        _status, answer, _raw = http.call(
            "POST", url, data=data, content_type="application/json", headers={SIGNATURE_HEADER: signature},
            describe=lambda status, parsed: str(parsed.get("error", "")) if isinstance(parsed, dict) else "",
        )  # fmt: skip
        platform_id = str(answer.get("id")) if isinstance(answer, dict) and answer.get("id") else our_id
        done.append(platform_id)
        return {"platform_message_ids": list(done)}


def _check_address(url: str) -> None:
    """The delivery URL must be a public address, as for the automation's webhooks (SSRF), unless
    its host is on SPORTELLO_WEBHOOK_ALLOW_HOSTS (an internal receiver)."""
    from sportello.automation.webhooks import Refused, addresses_for

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise http.PlatformError(0, "The delivery URL must be an http(s) URL with a host", transient=False)
    try:
        addresses_for(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except Refused as exc:
        raise http.PlatformError(0, str(exc), transient=False) from None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None
