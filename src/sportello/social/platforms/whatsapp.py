"""WhatsApp Business Platform, Cloud API (https://developers.facebook.com/docs/whatsapp/cloud-api).

Inbound: the GET verification handshake (`hub.mode=subscribe`, `hub.verify_token`, answered with
`hub.challenge`), then POSTs signed with `X-Hub-Signature-256: sha256=<HMAC-SHA256 of the body
under the app secret>`: messages (text, image, audio, video, document, sticker, location,
contacts, reaction) and status reports of our messages (sent, delivered, read, failed).
Outbound: `POST /<version>/<phone number id>/messages` with the access token: text (and media
by upload), or the channel's template message when the customer's last message is more than 24
hours old (WhatsApp refuses free-form messages then).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.http import HttpResponse
from django.utils import timezone

from sportello.customers.identity import e164
from sportello.customers.services import Sender
from sportello.social import http
from sportello.social.platforms import meta
from sportello.social.platforms.base import (
    Item,
    Media,
    Message,
    Status,
    UnknownShape,
    text_of,
)
from sportello.tickets.attachments import AttachmentIn

if TYPE_CHECKING:
    from django.http import HttpRequest

    from sportello.social.models import ChannelAccount, Conversation
    from sportello.tickets.models import Entry

API = "https://graph.facebook.com"
VERSION = "v21.0"
WINDOW = timedelta(hours=24)
MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")
STATES = ("sent", "delivered", "read", "failed")
# Cloud API media limits (per type; images 5 MB, documents 100 MB, others 16 MB).
MEDIA_LIMITS = {"image": 5, "video": 16, "audio": 16, "document": 100}


# The signature, the handshake and Graph API calls are Meta's, shared with Messenger and Instagram.
_call = meta.graph_call


class WhatsApp:
    kind = "whatsapp"
    credential_names = ("access_token", "app_secret", "verify_token")
    setting_names = ("phone_number_id", "template_name", "template_language", "api_base", "api_version")

    def _root(self, account: ChannelAccount) -> str:
        base = str(account.settings.get("api_base") or API).rstrip("/")
        return f"{base}/{account.settings.get('api_version') or VERSION}"

    def verify(self, account: ChannelAccount, request: HttpRequest) -> None:
        meta.verify_signature(account, request)

    def handshake(self, account: ChannelAccount, request: HttpRequest) -> HttpResponse | None:
        """The subscription check Meta makes when the webhook is set up: answer the challenge."""
        return meta.answer_handshake(account, request)

    def parse(self, account: ChannelAccount, payload: Any) -> list[Item]:
        if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
            raise UnknownShape("Not a WhatsApp Business Account notification (`object`)")
        items: list[Item] = []
        for entry in payload.get("entry") or []:
            for change in (entry or {}).get("changes") or []:
                if (change or {}).get("field") != "messages":
                    raise UnknownShape(f"A change of field {str((change or {}).get('field'))[:40]!r}: messages only")
                value = change.get("value") or {}
                names = {
                    str(contact.get("wa_id")): str((contact.get("profile") or {}).get("name") or "")
                    for contact in value.get("contacts") or []
                }
                for message in value.get("messages") or []:
                    items.append(self._message(message, names))
                for status in value.get("statuses") or []:
                    items.append(self._status(status))
        if not items:
            raise UnknownShape("A notification with no messages and no statuses")
        return items

    def _message(self, message: dict[str, Any], names: dict[str, str]) -> Message:
        kind, sender, message_id = message.get("type"), str(message.get("from") or ""), message.get("id")
        if not sender or not message_id:
            raise UnknownShape("A message without `from` or `id`")
        phone = e164("+" + sender.lstrip("+")) or ""
        metadata: dict[str, Any] = {"type": kind, "wa_id": sender}
        if isinstance(message.get("context"), dict):
            metadata["in_reply_to"] = str(message["context"].get("id") or "")
        text, media = "", []
        if kind == "text":
            text = text_of((message.get("text") or {}).get("body"))
        elif kind in MEDIA_TYPES:
            item = message.get(kind) or {}
            if not item.get("id"):
                raise UnknownShape(f"A {kind} message without the media id")
            extension = {"image": "jpg", "sticker": "webp", "audio": "ogg", "video": "mp4"}.get(kind, "bin")
            filename = str(item.get("filename") or f"{kind}-{str(message_id)[-12:]}.{extension}")
            media.append(Media(str(item["id"]), filename, str(item.get("mime_type") or "")))
            text = text_of(item.get("caption"))
        elif kind == "location":
            place = message.get("location") or {}
            latitude, longitude = place.get("latitude"), place.get("longitude")
            lines = [str(place.get(key)) for key in ("name", "address") if place.get(key)]
            lines.append(f"https://www.openstreetmap.org/?mlat={latitude}&mlon={longitude}")
            text = "📍 " + "\n".join(lines)
            metadata["location"] = {"latitude": latitude, "longitude": longitude}
        elif kind == "contacts":
            cards = []
            for card in message.get("contacts") or []:
                name = str((card.get("name") or {}).get("formatted_name") or "")
                phones = ", ".join(str(p.get("phone")) for p in card.get("phones") or [] if p.get("phone"))
                emails = ", ".join(str(e.get("email")) for e in card.get("emails") or [] if e.get("email"))
                cards.append(" · ".join(part for part in (name, phones, emails) if part))
            text = "👤 " + "\n".join(cards) if cards else ""
            metadata["contacts"] = message.get("contacts")
        elif kind == "reaction":
            reaction = message.get("reaction") or {}
            emoji = str(reaction.get("emoji") or "")
            text = f"Reacted {emoji} to a message" if emoji else "Removed a reaction"
            metadata["reaction"] = {"emoji": emoji, "message_id": str(reaction.get("message_id") or "")}
        else:
            raise UnknownShape(f"A message of type {str(kind)[:40]!r}, which we do not take")
        if not text.strip() and not media:
            raise UnknownShape(f"A {kind} message with nothing in it")
        timestamp = message.get("timestamp")
        sent_at = datetime.fromtimestamp(int(str(timestamp)), UTC) if str(timestamp or "").isdigit() else None
        return Message(
            platform_id=f"message:{message_id}",
            handle=sender,
            address=sender,
            sender=Sender(name=names.get(sender, ""), phone=phone, social=f"whatsapp:{sender}"),
            text=text,
            media=media,
            metadata=metadata,
            sent_at=sent_at,
        )

    def _status(self, status: dict[str, Any]) -> Status:
        state, message_id = status.get("status"), status.get("id")
        if state not in STATES or not message_id:
            raise UnknownShape(f"A status report of state {str(state)[:20]!r} for {str(message_id)[:80]!r}")
        errors = status.get("errors") or []
        reason = "; ".join(
            " — ".join(
                str(part)
                for part in (
                    f"{e.get('title') or e.get('message')} (code {e.get('code')})",
                    (e.get("error_data") or {}).get("details"),
                )
                if part
            )
            for e in errors
            if isinstance(e, dict)
        )
        timestamp = status.get("timestamp")
        at = datetime.fromtimestamp(int(str(timestamp)), UTC) if str(timestamp or "").isdigit() else None
        return Status(f"status:{message_id}:{state}", str(message_id), str(state), reason, at)

    def fetch_media(self, account: ChannelAccount, media: Media) -> AttachmentIn:
        token = account.credentials.get("access_token", "")
        _status, answer, _raw = _call("GET", f"{self._root(account)}/{media.ref}", token)
        url = (answer or {}).get("url")
        if not url:
            raise http.PlatformError(200, "The media answer named no url", answer, transient=False)
        _status, _answer, raw = _call("GET", str(url), token)
        return AttachmentIn(media.filename, raw, str((answer or {}).get("mime_type") or media.content_type))

    def window_open(self, conversation: Conversation, now: datetime | None = None) -> bool:
        """WhatsApp takes free-form messages for 24 hours after the customer's last message."""
        last = conversation.last_inbound_at
        return last is not None and (now or timezone.now()) - last < WINDOW

    def send(
        self, account: ChannelAccount, conversation: Conversation, entry: Entry, done: list[str]
    ) -> dict[str, Any]:
        """The text, then each file, as messages of their own (or one template message outside the
        window); `done` holds the ids of the parts an earlier attempt sent (not sent again) and
        gets each new one as it goes."""
        token = account.credentials.get("access_token", "")
        root = f"{self._root(account)}/{account.settings.get('phone_number_id', '')}"
        base = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": conversation.address}
        if not self.window_open(conversation):
            template = str(account.settings.get("template_name") or "")
            if not template:
                raise http.PlatformError(
                    0, "The customer's last message is more than 24 hours old: WhatsApp takes only a template "
                    "message now, and this channel has none set", transient=False,
                )  # fmt: skip
            if not done:
                language = str(account.settings.get("template_language") or "en_US")
                parameters = [{"type": "text", "text": entry.body_text.strip()[:1024]}]
                payload = {**base, "type": "template", "template": {
                    "name": template, "language": {"code": language},
                    "components": [{"type": "body", "parameters": parameters}],
                }}  # fmt: skip
                done.append(_wamid(_call("POST", f"{root}/messages", token, payload=payload)[1]))
            return {"platform_message_ids": list(done), "template": template}
        files = list(entry.attachments.all())
        for attachment in files:  # refused before anything is sent
            kind = _media_kind(attachment.content_type)
            if attachment.size > MEDIA_LIMITS[kind] * 1024 * 1024:
                article = "an" if kind in ("image", "audio") else "a"
                raise http.PlatformError(413, f"{attachment.filename} is larger than the {MEDIA_LIMITS[kind]} MB "
                                         f"WhatsApp takes for {article} {kind}", transient=False)  # fmt: skip
        text = entry.body_text.strip()
        parts: list[Any] = ([text] if text else []) + files
        for index, part in enumerate(parts):
            if index < len(done):
                continue
            if isinstance(part, str):
                payload = {**base, "type": "text", "text": {"preview_url": False, "body": part[:4096]}}
            else:
                kind = _media_kind(part.content_type)
                with part.file.open("rb") as handle:
                    body, content_type = http.multipart(
                        {"messaging_product": "whatsapp", "type": part.content_type or "application/octet-stream"},
                        {"file": (part.filename, handle.read(), part.content_type)},
                    )
                _s, uploaded, _r = _call("POST", f"{root}/media", token, data=body, content_type=content_type)
                item: dict[str, Any] = {"id": str((uploaded or {}).get("id") or "")}
                if kind == "document":
                    item["filename"] = part.filename
                payload = {**base, "type": kind, kind: item}
            done.append(_wamid(_call("POST", f"{root}/messages", token, payload=payload)[1]))
        return {"platform_message_ids": list(done)}


def _media_kind(content_type: str) -> str:
    major = (content_type or "").split("/")[0]
    return major if major in ("image", "video", "audio") else "document"


def _wamid(answer: Any) -> str:
    messages = (answer or {}).get("messages") if isinstance(answer, dict) else None
    if not messages or not isinstance(messages, list) or not messages[0].get("id"):
        raise http.PlatformError(200, f"The answer named no message id: {json.dumps(answer)[:200]}", transient=False)
    return str(messages[0]["id"])
