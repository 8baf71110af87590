"""The social channels' use cases: take a platform's webhook, deliver a reply, record a status.

Inbound, for every request: check the signature (a bad one is 401 and logged on the channel),
read the JSON, let the platform adapter turn it into messages and status reports (a shape it
does not know is kept, quarantined with the reason), then store each event once by the
platform's id (a replay finds it stored and changes nothing), fetch the message's media, and
hand an `Inbound` to intake, threaded onto the conversation's ticket (one open ticket per
customer and channel account; intake reopens a solved ticket and opens a follow-up of a closed one).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from sportello.core.errors import InvalidInput
from sportello.social import secrets
from sportello.social.models import AccountKind, ChannelAccount, Conversation, EventState, InboundEvent, SentMessage
from sportello.social.platforms.base import Media, Message, Platform, Status, Unauthorized, UnknownShape
from sportello.social.platforms.generic import Generic
from sportello.social.platforms.meta import Instagram, Messenger
from sportello.social.platforms.telegram import Telegram
from sportello.social.platforms.twilio_sms import TwilioSms
from sportello.social.platforms.whatsapp import WhatsApp
from sportello.tickets import delivery
from sportello.tickets.attachments import AttachmentIn
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import Channel, Entry

log = logging.getLogger("sportello.social")

PLATFORMS: dict[str, Platform] = {
    AccountKind.GENERIC: Generic(),
    AccountKind.TELEGRAM: Telegram(),
    AccountKind.WHATSAPP: WhatsApp(),
    AccountKind.SMS: TwilioSms(),
    AccountKind.MESSENGER: Messenger(),
    AccountKind.INSTAGRAM: Instagram(),
}


def platform_for(account: ChannelAccount) -> Platform:
    return PLATFORMS[account.kind]


@dataclass
class Answer:
    """What the webhook answers the platform: a status and a JSON body."""

    status: int
    body: dict[str, Any]


def create_account(
    kind: str, name: str, *, credentials: dict[str, str], settings: dict[str, Any] | None = None
) -> ChannelAccount:
    if kind not in PLATFORMS:
        raise InvalidInput(f"Unknown channel kind {kind!r}", field="kind")
    if not name.strip():
        raise InvalidInput("Give the channel a name", field="name")
    account = ChannelAccount(kind=kind, name=name.strip()[:100], settings=dict(settings or {}))
    account.set_credentials(credentials)
    account.save()
    return account


def update_account(
    account: ChannelAccount, *, name: str, active: bool, credentials: dict[str, str], settings: dict[str, Any]
) -> ChannelAccount:
    """Change an account from the settings page. A credential given replaces the stored one; an
    empty one keeps it (secrets are never shown again, so the form cannot send them back)."""
    if not name.strip():
        raise InvalidInput("Give the channel a name", field="name")
    wanted = getattr(PLATFORMS[account.kind], "credential_names", ())
    try:
        stored = dict(account.credentials)
    except secrets.UnreadableCredentials:
        stored = {}  # sealed with another key: what is typed now replaces it
    stored.update({key: value for key, value in credentials.items() if value})
    account.name = name.strip()[:100]
    account.active = active
    kept = dict(account.settings)
    for key, value in settings.items():  # an emptied setting goes (its default applies again)
        if value in ("", None):
            kept.pop(key, None)
        else:
            kept[key] = value
    account.settings = kept
    account.set_credentials({key: value for key, value in stored.items() if key in wanted})
    account.save(update_fields=["name", "active", "settings", "credentials_sealed"])
    return account


def set_account_active(account: ChannelAccount, active: bool) -> None:
    """Switch an account off (its webhook answers 404, so the platform's messages stay out) or on."""
    account.active = active
    account.save(update_fields=["active"])  # a save, not an update: the audit trail sees it


# --- Inbound ---------------------------------------------------------------------------------------


def handshake(account: ChannelAccount, request: Any) -> Any:
    """A platform's GET check of the webhook address (WhatsApp's subscription challenge)."""
    try:
        return platform_for(account).handshake(account, request)
    except Unauthorized as exc:
        log.warning("social channel %s: refused a verification request: %s", account.pk, exc)
        account.note_error(_("Refused a verification request: %(reason)s") % {"reason": exc})
        raise


def receive(account: ChannelAccount, request: Any) -> Answer:
    """One webhook POST from the account's platform (see the module's docstring)."""
    platform = platform_for(account)
    try:
        platform.verify(account, request)
    except (Unauthorized, secrets.UnreadableCredentials) as exc:
        log.warning("social channel %s: refused a webhook: %s", account.pk, exc)
        account.note_error(_("Refused a webhook: %(reason)s") % {"reason": exc})
        return Answer(401, {"error": str(exc)})
    body = request.body
    ChannelAccount.objects.filter(pk=account.pk).update(last_event_at=timezone.now())
    # JSON, unless the platform posts something else (Twilio: form fields).
    decode = getattr(platform, "decode", None)
    try:
        payload = decode(request) if decode else json.loads(body)
    except ValueError:
        raw = body[:20_000].decode("utf-8", "replace")
        return _quarantine(account, body, {"raw": raw}, "The body is not JSON")
    try:
        items = platform.parse(account, payload)
    except UnknownShape as exc:
        return _quarantine(account, body, payload, str(exc))
    results = []
    for item in items:
        if isinstance(item, Message):
            results.append(_take_message(account, platform, item, payload))
        else:
            results.append(_take_status(account, item, payload))
    return Answer(200, {"results": results})


def _quarantine(account: ChannelAccount, body: bytes, payload: Any, reason: str) -> Answer:
    """Keep what we cannot read, with the reason, once per distinct body; the platform hears 200
    (it must not retry what will never parse), the sender of a signed webhook reads the reason."""
    platform_id = "unknown:" + hashlib.sha256(body).hexdigest()
    log.warning("social channel %s: quarantined a payload: %s", account.pk, reason)
    try:
        with transaction.atomic():
            InboundEvent.objects.create(
                account=account, platform_id=platform_id, kind="unknown", state=EventState.QUARANTINED,
                reason=reason[:2000], payload=payload if isinstance(payload, dict) else {"payload": payload},
            )  # fmt: skip
    except IntegrityError:
        pass  # the same body again: kept once
    account.note_error(_("Quarantined a payload: %(reason)s") % {"reason": reason})
    return Answer(200, {"results": [{"quarantined": reason}]})


def _take_message(account: ChannelAccount, platform: Platform, item: Message, payload: Any) -> dict[str, Any]:
    if InboundEvent.objects.filter(account=account, platform_id=item.platform_id).exists():
        return {"id": item.platform_id, "duplicate": True}
    attachments, notes = list(item.attachments), []
    for media in item.media:
        fetched, note = _fetch(account, platform, media)
        if fetched is not None:
            attachments.append(fetched)
        if note:
            notes.append(note)
    limit = settings.MAX_ATTACHMENT_BYTES
    for attachment in [a for a in attachments if a.size > limit]:
        attachments.remove(attachment)
        notes.append(_too_large(attachment.filename, attachment.size))
    text = "\n\n".join(part for part in (item.text, *(f"[{note}]" for note in notes)) if part)
    now = timezone.now()
    metadata = {
        "social": {
            "account": account.pk,
            "kind": account.kind,
            "channel_name": account.name,
            "message_id": item.platform_id.split(":", 1)[-1],
            "handle": item.handle,
            "sent_at": item.sent_at.isoformat() if item.sent_at else None,
            **item.metadata,
        }
    }
    try:
        with transaction.atomic():
            try:
                with transaction.atomic():
                    event = InboundEvent.objects.create(
                        account=account, platform_id=item.platform_id, kind="message", payload=payload
                    )
            except IntegrityError:  # the same message, taken meanwhile by a concurrent request
                return {"id": item.platform_id, "duplicate": True}
            conversation, _created = Conversation.objects.select_for_update().get_or_create(
                account=account, handle=item.handle, defaults={"address": item.address}
            )
            result = ingest(
                Inbound(
                    channel=Channel.SOCIAL,
                    sender=item.sender,
                    body_text=text,
                    attachments=attachments,
                    ticket=conversation.ticket,
                    metadata=metadata,
                    language=(item.language or "en").split("-")[0][:10],
                    # A platform greets nobody by mail: the reference number goes with the reply.
                    acknowledge=False,
                )
            )
            conversation.address, conversation.last_inbound_at = item.address, now
            conversation.ticket, conversation.customer = result.ticket, result.entry.author_customer
            conversation.save(update_fields=["address", "last_inbound_at", "ticket", "customer"])
            event.entry = result.entry
            event.save(update_fields=["entry"])
    except InvalidInput as exc:
        body = json.dumps(payload, sort_keys=True).encode() + item.platform_id.encode()
        _quarantine(account, body, payload, f"{item.platform_id}: {exc}")
        return {"id": item.platform_id, "quarantined": str(exc)}
    return {"id": item.platform_id, "ticket": result.ticket.number, "entry": result.entry.pk}


def _too_large(name: str, size: int) -> str:
    limit = settings.MAX_ATTACHMENT_BYTES
    return _("%(name)s was not kept: %(size)s MB, more than the %(limit)s MB allowed") % {
        "name": name, "size": size // 2**20, "limit": limit // 2**20}  # fmt: skip


def _fetch(account: ChannelAccount, platform: Platform, media: Media) -> tuple[AttachmentIn | None, str]:
    """The media file, or None and why not (the message is kept either way)."""
    limit = settings.MAX_ATTACHMENT_BYTES
    if media.size and media.size > limit:
        return None, _too_large(media.filename, media.size)
    try:
        return platform.fetch_media(account, media), ""
    except Exception as exc:  # the platform is down, the file is gone: the message still counts
        log.warning("social channel %s: could not fetch %s: %s", account.pk, media.ref, exc)
        account.note_error(_("Could not fetch a file: %(reason)s") % {"reason": exc})
        return None, _("%(name)s could not be fetched: %(reason)s") % {"name": media.filename, "reason": exc}


def _take_status(account: ChannelAccount, item: Status, payload: Any) -> dict[str, Any]:
    sent = SentMessage.objects.filter(account=account, platform_id=item.message_id).select_related("entry").first()
    reason = "" if sent else "No message of ours has this id"
    try:
        with transaction.atomic():
            InboundEvent.objects.create(
                account=account, platform_id=item.event_id, kind="status", reason=reason, payload=payload,
                entry=sent.entry if sent else None,
            )  # fmt: skip
            changed = sent is not None and delivery.report_state(sent.entry, item.state, error=item.error, at=item.at)
    except IntegrityError:
        return {"id": item.event_id, "duplicate": True}
    return {"id": item.event_id, "entry": sent.entry.pk if sent else None, "changed": changed}


# --- Outbound --------------------------------------------------------------------------------------


class NoConversation(Exception):
    """The ticket has no conversation on a messaging channel to answer in."""


def conversation_for(entry: Entry) -> Conversation:
    # A ticket merged into this one brings its conversations along.
    on_ticket = Q(ticket_id=entry.ticket_id) | Q(ticket__merged_into_id=entry.ticket_id)
    conversation = (
        Conversation.objects.filter(on_ticket, account__active=True)
        .select_related("account")
        .order_by("-last_inbound_at", "-id")
        .first()
    )
    if conversation is None:
        raise NoConversation(_("This ticket has no conversation on an active messaging channel"))
    return conversation


def deliver(entry: Entry) -> dict[str, Any]:
    """Send an agent's reply through the platform the customer wrote from (the delivery task calls it)."""
    conversation = conversation_for(entry)
    account = conversation.account
    # The parts (text, files) an earlier attempt sent: a retry sends only the rest.
    done = [str(i) for i in entry.metadata.get("social_parts_sent") or []]
    try:
        sent = platform_for(account).send(account, conversation, entry, done)
    except Exception:
        # Kept with the failed attempt (the delivery task records the entry's metadata).
        entry.metadata = {**entry.metadata, "social_parts_sent": done}
        raise
    finally:
        for platform_id in done:
            SentMessage.objects.get_or_create(account=account, platform_id=platform_id, defaults={"entry": entry})
    ids = list(done)
    details = {"account": account.pk, "kind": account.kind, "channel_name": account.name, "to": conversation.address,
               "message_ids": ids, **({"template": sent["template"]} if sent.get("template") else {})}  # fmt: skip
    # `to`: the thread says "Sent to …", as it does for mail.
    return {"social_delivery": details, "message_id": ids[0] if ids else "", "to": [conversation.address]}


def window_closed(ticket_id: int) -> bool:
    """Whether a reply on this ticket can go out only as a template message (WhatsApp's 24 hours)."""
    conversation = (
        Conversation.objects.filter(ticket_id=ticket_id, account__kind=AccountKind.WHATSAPP)
        .order_by("-last_inbound_at")
        .first()
    )
    whatsapp = PLATFORMS[AccountKind.WHATSAPP]
    assert isinstance(whatsapp, WhatsApp)
    return conversation is not None and not whatsapp.window_open(conversation)
