"""What every platform adapter of the social app has: verify, parse, fetch media, send.

A platform is one messaging channel both ways. Inbound: `verify` checks a webhook request's
signature or secret token (`Unauthorized`: 401), `handshake` answers a subscription check, `parse`
reads the payload into `Message`s and `Status` reports (`UnknownShape`: kept in quarantine), and
`social/services.receive` stores each once and hands an `Inbound` to intake. Outbound: `send`
delivers an entry, through the social app's one `Adapter` in the registry (tickets/delivery.py,
registered by social/delivery.py), which finds the conversation and its platform."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sportello.customers.services import Sender
from sportello.tickets.attachments import AttachmentIn

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

    from sportello.social.models import ChannelAccount, Conversation
    from sportello.tickets.models import Entry


class Unauthorized(Exception):
    """The request's signature (or secret token) does not match the account's secret."""


class UnknownShape(Exception):
    """A payload we cannot read; it is kept and quarantined with this reason."""


@dataclass
class Media:
    """A file the platform holds; fetched when the message is stored (`ref`: the platform's id)."""

    ref: str
    filename: str = ""
    content_type: str = ""
    size: int | None = None


@dataclass
class Message:
    platform_id: str  # unique per account: a replay of it is stored once
    handle: str  # the sender's stable id on the platform: one conversation per handle
    address: str  # where replies go (chat id, wa_id)
    sender: Sender
    text: str = ""
    media: list[Media] = field(default_factory=list)
    attachments: list[AttachmentIn] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    sent_at: datetime | None = None
    language: str = ""


@dataclass
class Status:
    """The platform's report on a message we sent: sent, delivered, read or failed."""

    event_id: str  # unique per account and report
    message_id: str  # the platform's id of our message
    state: str
    error: str = ""
    at: datetime | None = None


Item = Message | Status


class Platform(Protocol):
    kind: str

    def verify(self, account: ChannelAccount, request: HttpRequest) -> None: ...

    def handshake(self, account: ChannelAccount, request: HttpRequest) -> HttpResponse | None: ...

    def parse(self, account: ChannelAccount, payload: Any) -> list[Item]: ...

    def fetch_media(self, account: ChannelAccount, media: Media) -> AttachmentIn: ...

    def send(
        self, account: ChannelAccount, conversation: Conversation, entry: Entry, done: list[str]
    ) -> dict[str, Any]:
        """Send the entry; `done` holds the platform ids of the parts (text, files) an earlier
        attempt sent, which are not sent again, and gets each new part's id as it is sent."""
        ...


def hmac_sha256(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def check_signature(header: str, secret: str, body: bytes, *, prefix: str = "sha256=") -> None:
    """`header` must be `prefix` + the hex HMAC-SHA256 of `body` under `secret` (compared in constant time)."""
    if not secret:
        raise Unauthorized("The channel has no secret to check signatures with")
    if not header:
        raise Unauthorized("The request is not signed")
    expected = prefix + hmac_sha256(secret, body)
    if not hmac.compare_digest(header.strip().lower().encode(), expected.encode()):
        raise Unauthorized("The signature does not match")


def text_of(value: Any, limit: int = 100_000) -> str:
    return str(value)[:limit] if value is not None else ""
