"""Meta's platforms: what WhatsApp, Messenger and Instagram share, and the Messenger/Instagram adapters.

Shared (https://developers.facebook.com/docs/graph-api/webhooks/getting-started): the GET
verification handshake (`hub.mode=subscribe`, `hub.verify_token`, answered with `hub.challenge`),
`X-Hub-Signature-256: sha256=<HMAC-SHA256 of the body under the app secret>` on every POST, and
Graph API errors `{"error": {"message", "type", "code", "error_subcode", "error_data", "fbtrace_id"}}`.

Messenger (https://developers.facebook.com/docs/messenger-platform/webhooks) and Instagram
(https://developers.facebook.com/docs/instagram-platform/instagram-api-with-facebook-login/messaging-api)
post `{"object": "page" | "instagram", "entry": [{"messaging": [...]}]}`: each event has
`sender.id` (the customer's page- or Instagram-scoped id) and a `message` (`mid`, `text`,
`attachments`), a `delivery` (`mids`) or a `read` (Messenger: `watermark`; Instagram: `mid`).
Replies: the Send API, `POST /{page-id}/messages` with `recipient.id`, `messaging_type: RESPONSE`
(allowed for 24 hours after the customer's last message) and the message.
"""

from __future__ import annotations

import hmac
import json
import mimetypes
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.http import HttpResponse
from django.utils import timezone

from sportello.customers.services import Sender
from sportello.social import http
from sportello.social.platforms.base import (
    Item,
    Media,
    Message,
    Status,
    Unauthorized,
    UnknownShape,
    check_signature,
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
# Meta's codes for throughput and rate limits: worth another try later whatever the HTTP status.
RATE_LIMIT_CODES = {4, 17, 32, 613, 80006, 80007, 130429, 131048, 131056}
# Where Messenger and Instagram keep the files customers send (nothing else is fetched).
MEDIA_HOSTS = ("fbcdn.net", "fbsbx.com", "cdninstagram.com", "facebook.com")


# --- Shared with WhatsApp ----------------------------------------------------------------------------


def verify_signature(account: ChannelAccount, request: HttpRequest) -> None:
    """`X-Hub-Signature-256` must be the HMAC-SHA256 of the body under the app secret."""
    check_signature(
        request.headers.get("X-Hub-Signature-256", ""), account.credentials.get("app_secret", ""), request.body
    )


def answer_handshake(account: ChannelAccount, request: HttpRequest) -> HttpResponse:
    """The subscription check Meta makes when the webhook is set up: answer the challenge."""
    expected = account.credentials.get("verify_token", "")
    given = request.GET.get("hub.verify_token", "")
    if request.GET.get("hub.mode") != "subscribe" or not expected:
        raise Unauthorized("Not a subscription request")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized("hub.verify_token does not match")
    return HttpResponse(request.GET.get("hub.challenge", ""), content_type="text/plain")


def describe(status: int, parsed: Any) -> str:
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if not isinstance(error, dict):
        return ""
    details = (error.get("error_data") or {}).get("details") if isinstance(error.get("error_data"), dict) else ""
    code = error.get("code")
    text = str(error.get("message") or "")
    return " — ".join(part for part in (f"{text} (code {code})" if code else text, str(details or "")) if part)


def graph_call(method: str, url: str, token: str, **kwargs: Any) -> tuple[int, Any, bytes]:
    try:
        return http.call(method, url, headers={"Authorization": f"Bearer {token}"}, describe=describe, **kwargs)
    except http.PlatformError as exc:
        error = exc.body.get("error") if isinstance(exc.body, dict) else None
        if isinstance(error, dict) and error.get("code") in RATE_LIMIT_CODES:
            exc.transient = True
        raise


def window_open(conversation: Conversation, now: datetime | None = None) -> bool:
    """Meta takes free-form replies for 24 hours after the customer's last message."""
    last = conversation.last_inbound_at
    return last is not None and (now or timezone.now()) - last < WINDOW


# --- Messenger and Instagram -------------------------------------------------------------------------


class MetaMessaging:
    kind = ""
    object_name = ""  # the notification's `object`
    label = ""
    text_limit = 2000
    files = True  # Messenger takes uploaded files; Instagram only files at a public URL
    file_limit = 25 * 1024 * 1024
    credential_names = ("page_access_token", "app_secret", "verify_token")
    setting_names = ("page_id", "api_base", "api_version")

    def _root(self, account: ChannelAccount) -> str:
        base = str(account.settings.get("api_base") or API).rstrip("/")
        return f"{base}/{account.settings.get('api_version') or VERSION}"

    def verify(self, account: ChannelAccount, request: HttpRequest) -> None:
        verify_signature(account, request)

    def handshake(self, account: ChannelAccount, request: HttpRequest) -> HttpResponse | None:
        return answer_handshake(account, request)

    def parse(self, account: ChannelAccount, payload: Any) -> list[Item]:
        if not isinstance(payload, dict) or payload.get("object") != self.object_name:
            raise UnknownShape(f"Not a {self.label} notification (`object` is not {self.object_name!r})")
        items: list[Item] = []
        entries = payload.get("entry")
        if not isinstance(entries, list) or not entries:
            raise UnknownShape("A notification without `entry`")
        for entry in entries:
            events = (entry or {}).get("messaging") if isinstance(entry, dict) else None
            if not isinstance(events, list):
                fields = [str((change or {}).get("field")) for change in (entry or {}).get("changes") or []]
                raise UnknownShape(f"An entry without `messaging` (changes: {', '.join(fields)[:100] or 'none'})")
            for event in events:
                items.extend(self._event(account, event))
        return items

    def _event(self, account: ChannelAccount, event: Any) -> list[Item]:
        sender = str(((event or {}).get("sender") or {}).get("id") or "") if isinstance(event, dict) else ""
        if not sender:
            raise UnknownShape("A messaging event without `sender.id`")
        if isinstance(event.get("message"), dict):
            message = event["message"]
            if message.get("is_echo"):
                return []  # our own reply, echoed back
            return [self._message(sender, message, event.get("timestamp"))]
        if isinstance(event.get("delivery"), dict):
            mids = event["delivery"].get("mids") or []
            return [Status(f"status:{mid}:delivered", str(mid), "delivered") for mid in mids if mid]
        if isinstance(event.get("read"), dict):
            return self._read(account, sender, event["read"])
        kinds = [key for key in event if key not in ("sender", "recipient", "timestamp")]
        raise UnknownShape(f"A messaging event of a kind we do not take: {', '.join(kinds)[:100] or 'empty'}")

    def _read(self, account: ChannelAccount, sender: str, read: dict[str, Any]) -> list[Item]:
        if read.get("mid"):  # Instagram names the message
            return [Status(f"status:{read['mid']}:read", str(read["mid"]), "read")]
        watermark = read.get("watermark")
        if not isinstance(watermark, int):
            raise UnknownShape("A read event without `mid` or `watermark`")
        # Messenger: every message we sent this customer up to the watermark has been read.
        from sportello.social.models import Conversation, SentMessage

        at = datetime.fromtimestamp(watermark / 1000, UTC)
        tickets = Conversation.objects.filter(account=account, handle=sender).values("ticket_id")
        sent = SentMessage.objects.filter(account=account, entry__ticket_id__in=tickets, created_at__lte=at)
        return [Status(f"status:{mid}:read", mid, "read", at=at) for mid in sent.values_list("platform_id", flat=True)]

    def _message(self, sender: str, message: dict[str, Any], timestamp: Any) -> Message:
        mid = str(message.get("mid") or "")
        if not mid:
            raise UnknownShape("A message without `mid`")
        text, media, links = text_of(message.get("text")), [], []
        for index, attachment in enumerate(message.get("attachments") or []):
            kind = str((attachment or {}).get("type") or "")
            url = str(((attachment or {}).get("payload") or {}).get("url") or "")
            if kind in ("image", "video", "audio", "file") and url:
                media.append(Media(url, *_file_name(url, kind, mid, index)))
            elif url:  # a shared post, a reel, a story mention, a fallback link: kept as a link
                links.append(f"{kind or 'link'}: {url}")
        text = "\n".join(part for part in (text, *links) if part)
        if not text.strip() and not media:
            raise UnknownShape("A message with no text and no attachment we take")
        metadata: dict[str, Any] = {"sender_id": sender}
        if isinstance(message.get("reply_to"), dict):
            metadata["in_reply_to"] = str(message["reply_to"].get("mid") or "")
        if isinstance(message.get("quick_reply"), dict):
            metadata["quick_reply"] = str(message["quick_reply"].get("payload") or "")[:200]
        sent_at = datetime.fromtimestamp(timestamp / 1000, UTC) if isinstance(timestamp, int) else None
        return Message(
            platform_id=f"message:{mid}",
            handle=sender,
            address=sender,
            sender=Sender(social=f"{self.kind}:{sender}"),
            text=text,
            media=media,
            metadata=metadata,
            sent_at=sent_at,
        )

    def fetch_media(self, account: ChannelAccount, media: Media) -> AttachmentIn:
        host = (urlsplit(media.ref).hostname or "").lower()
        base = str(account.settings.get("api_base") or "").rstrip("/")
        meta_host = any(host == name or host.endswith("." + name) for name in MEDIA_HOSTS)
        if not (meta_host and media.ref.startswith("https://")) and not (base and media.ref.startswith(base + "/")):
            raise http.PlatformError(0, f"A file outside Meta's hosts: {host[:80]}", transient=False)
        _status, _answer, raw = http.call("GET", media.ref, describe=describe)
        return AttachmentIn(media.filename, raw, media.content_type)

    def send(
        self, account: ChannelAccount, conversation: Conversation, entry: Entry, done: list[str]
    ) -> dict[str, Any]:
        """The text (in parts of the platform's length), then each file; `done`: see the Platform protocol."""
        if not window_open(conversation):
            raise http.PlatformError(
                0, f"The customer's last message is more than 24 hours old: {self.label} takes replies "
                "(messaging_type RESPONSE) only within 24 hours", transient=False,
            )  # fmt: skip
        files = list(entry.attachments.all())
        for attachment in files:  # refused before anything is sent
            if not self.files:
                raise http.PlatformError(0, f"{self.label} takes files only from a public address: send "
                                         f"{attachment.filename} by another channel", transient=False)  # fmt: skip
            if attachment.size > self.file_limit:
                raise http.PlatformError(413, f"{attachment.filename} is larger than the 25 MB {self.label} takes",
                                         transient=False)  # fmt: skip
        token = account.credentials.get("page_access_token", "")
        url = f"{self._root(account)}/{account.settings.get('page_id', '')}/messages"
        recipient = {"id": conversation.address}
        text = entry.body_text.strip()
        chunks = [text[start : start + self.text_limit] for start in range(0, len(text), self.text_limit)]
        parts: list[Any] = [*chunks, *files]
        for index, part in enumerate(parts):
            if index < len(done):
                continue
            if isinstance(part, str):
                body = {"recipient": recipient, "messaging_type": "RESPONSE", "message": {"text": part}}
                answer = graph_call("POST", url, token, payload=body)[1]
            else:
                kind = _attachment_kind(part.content_type)
                message = {"attachment": {"type": kind, "payload": {"is_reusable": False}}}
                with part.file.open("rb") as handle:
                    data, content_type = http.multipart(
                        {
                            "recipient": json.dumps(recipient),
                            "messaging_type": "RESPONSE",
                            "message": json.dumps(message),
                        },
                        {"filedata": (part.filename, handle.read(), part.content_type)},
                    )
                answer = graph_call("POST", url, token, data=data, content_type=content_type)[1]
            if not isinstance(answer, dict) or not answer.get("message_id"):
                raise http.PlatformError(200, f"The answer named no message_id: {json.dumps(answer)[:200]}",
                                         transient=False)  # fmt: skip
            done.append(str(answer["message_id"]))
        return {"platform_message_ids": list(done)}


class Messenger(MetaMessaging):
    kind = "messenger"
    object_name = "page"
    label = "Messenger"


class Instagram(MetaMessaging):
    kind = "instagram"
    object_name = "instagram"
    label = "Instagram"
    text_limit = 1000
    files = False


def _file_name(url: str, kind: str, mid: str, index: int) -> tuple[str, str]:
    name = urlsplit(url).path.rsplit("/", 1)[-1]
    content_type = mimetypes.guess_type(name)[0] or ""
    if not name or "." not in name:
        extension = {"image": "jpg", "video": "mp4", "audio": "mp4"}.get(kind, "bin")
        name = f"{kind}-{mid[-8:]}-{index + 1}.{extension}"
        content_type = content_type or mimetypes.guess_type(name)[0] or ""
    return name[:200], content_type


def _attachment_kind(content_type: str) -> str:
    major = (content_type or "").split("/")[0]
    return major if major in ("image", "video", "audio") else "file"
