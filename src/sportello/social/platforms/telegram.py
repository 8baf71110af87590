"""Telegram Bot API: a webhook with the secret-token header, text, photos and documents in, sendMessage
and sendPhoto/sendDocument out (https://core.telegram.org/bots/api).

The bot's webhook is set with `setWebhook(url=…/social/hooks/<key>/, secret_token=<the channel's
secret token>)`; Telegram then sends the token in `X-Telegram-Bot-Api-Secret-Token` on every update.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sportello.customers.services import Sender
from sportello.social import http
from sportello.social.platforms.base import Item, Media, Message, Unauthorized, UnknownShape, text_of
from sportello.tickets.attachments import AttachmentIn

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

    from sportello.social.models import ChannelAccount, Conversation
    from sportello.tickets.models import Entry

API = "https://api.telegram.org"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
# Bot API: "Photos … must be at most 10 MB in size"; other files at most 50 MB.
PHOTO_LIMIT = 10 * 1024 * 1024
FILE_LIMIT = 50 * 1024 * 1024


def _describe(status: int, parsed: Any) -> str:
    if isinstance(parsed, dict):
        text = str(parsed.get("description") or "")
        retry = (parsed.get("parameters") or {}).get("retry_after")
        return f"{text} (retry after {retry} s)" if retry else text
    return ""


class Telegram:
    kind = "telegram"
    credential_names = ("bot_token", "secret_token")
    setting_names = ("api_base",)

    def _base(self, account: ChannelAccount) -> str:
        token = account.credentials.get("bot_token", "")
        return f"{str(account.settings.get('api_base') or API).rstrip('/')}/bot{token}"

    def verify(self, account: ChannelAccount, request: HttpRequest) -> None:
        expected = account.credentials.get("secret_token", "")
        given = request.headers.get(SECRET_HEADER, "")
        if not expected:
            raise Unauthorized("The channel has no secret token to check updates with")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise Unauthorized(f"{SECRET_HEADER} does not match" if given else f"No {SECRET_HEADER} header")

    def handshake(self, account: ChannelAccount, request: HttpRequest) -> HttpResponse | None:
        return None

    def parse(self, account: ChannelAccount, payload: Any) -> list[Item]:
        if not isinstance(payload, dict) or not isinstance(payload.get("update_id"), int):
            raise UnknownShape("Not a Telegram update: no `update_id`")
        message = payload.get("message")
        if not isinstance(message, dict):
            kinds = [key for key in payload if key != "update_id"]
            raise UnknownShape(f"An update of a kind we do not take: {', '.join(kinds)[:100] or 'empty'}")
        chat, sender = message.get("chat"), message.get("from") or message.get("chat")
        if not isinstance(chat, dict) or "id" not in chat or not isinstance(sender, dict) or "id" not in sender:
            raise UnknownShape("A message without `chat.id` or `from.id`")
        media: list[Media] = []
        if isinstance(message.get("photo"), list) and message["photo"]:
            largest = max(message["photo"], key=lambda size: size.get("width", 0) * size.get("height", 0))
            media.append(Media(str(largest["file_id"]), f"photo-{message.get('message_id')}.jpg", "image/jpeg",
                               largest.get("file_size")))  # fmt: skip
        if isinstance(message.get("document"), dict):
            document = message["document"]
            media.append(Media(str(document["file_id"]), str(document.get("file_name") or "document"),
                               str(document.get("mime_type") or ""), document.get("file_size")))  # fmt: skip
        text = text_of(message.get("text") or message.get("caption"))
        if not text.strip() and not media:
            kinds = [key for key in message if key not in ("message_id", "from", "chat", "date")]
            raise UnknownShape(f"A message of a kind we do not take: {', '.join(kinds)[:100] or 'empty'}")
        name = " ".join(str(sender.get(key) or "") for key in ("first_name", "last_name")).strip()
        sent_at = datetime.fromtimestamp(message["date"], UTC) if isinstance(message.get("date"), int) else None
        return [
            Message(
                platform_id=f"message:{chat['id']}:{message.get('message_id')}",
                handle=str(sender["id"]),
                address=str(chat["id"]),
                sender=Sender(name=name or str(sender.get("username") or ""), social=f"telegram:{sender['id']}"),
                text=text,
                media=media,
                metadata={"username": str(sender.get("username") or ""), "chat_type": str(chat.get("type") or "")},
                sent_at=sent_at,
                language=str(sender.get("language_code") or ""),
            )
        ]

    def fetch_media(self, account: ChannelAccount, media: Media) -> AttachmentIn:
        _status, answer, _raw = http.call(
            "GET", f"{self._base(account)}/getFile?file_id={quote(media.ref)}", describe=_describe
        )
        path = (answer or {}).get("result", {}).get("file_path")
        if not path:
            raise http.PlatformError(200, "getFile named no file_path", answer, transient=False)
        token = account.credentials.get("bot_token", "")
        root = str(account.settings.get("api_base") or API).rstrip("/")
        _status, _answer, raw = http.call("GET", f"{root}/file/bot{token}/{path}", describe=_describe)
        return AttachmentIn(media.filename or path.rsplit("/", 1)[-1], raw, media.content_type)

    def send(
        self, account: ChannelAccount, conversation: Conversation, entry: Entry, done: list[str]
    ) -> dict[str, Any]:
        """The text, then each file, as messages of their own; `done` holds the ids of the parts an
        earlier attempt sent (they are not sent again) and gets each new one as it goes."""
        base = self._base(account)
        files = list(entry.attachments.all())
        for attachment in files:  # refused before anything is sent
            if attachment.size > FILE_LIMIT:
                raise http.PlatformError(413, f"{attachment.filename} is larger than the 50 MB bots may send",
                                         transient=False)  # fmt: skip
        text = entry.body_text.strip()
        parts: list[Any] = ([text] if text else []) + files
        for index, part in enumerate(parts):
            if index < len(done):
                continue
            if isinstance(part, str):
                _status, answer, _raw = http.call(
                    "POST", f"{base}/sendMessage", payload={"chat_id": conversation.address, "text": part[:4096]},
                    describe=_describe,
                )  # fmt: skip
            else:
                photo = part.content_type in IMAGE_TYPES and part.size <= PHOTO_LIMIT
                method, field = ("sendPhoto", "photo") if photo else ("sendDocument", "document")
                with part.file.open("rb") as handle:
                    body, content_type = http.multipart(
                        {"chat_id": conversation.address}, {field: (part.filename, handle.read(), part.content_type)}
                    )
                _status, answer, _raw = http.call(
                    "POST", f"{base}/{method}", data=body, content_type=content_type, describe=_describe
                )
            done.append(_message_id(answer))
        return {"platform_message_ids": list(done)}


def _message_id(answer: Any) -> str:
    result = (answer or {}).get("result") if isinstance(answer, dict) else None
    if not isinstance(result, dict) or "message_id" not in result:
        raise http.PlatformError(200, "The answer named no message_id", answer if isinstance(answer, dict) else {},
                                 transient=False)  # fmt: skip
    chat = (result.get("chat") or {}).get("id", "")
    return f"{chat}:{result['message_id']}"
