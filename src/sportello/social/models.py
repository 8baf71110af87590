"""Messaging channel accounts, what their platforms sent us, and the conversations they carry."""

from __future__ import annotations

import secrets as random
from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sportello.customers.models import Customer
from sportello.social import secrets
from sportello.tickets.models import Entry, Ticket


class AccountKind(models.TextChoices):
    GENERIC = "generic", _("Signed webhook")
    TELEGRAM = "telegram", _("Telegram")
    WHATSAPP = "whatsapp", _("WhatsApp")
    SMS = "sms", _("SMS (Twilio)")
    MESSENGER = "messenger", _("Facebook Messenger")
    INSTAGRAM = "instagram", _("Instagram")


def _webhook_key() -> str:
    return random.token_urlsafe(18)


class ChannelAccount(models.Model):
    """One account on one platform (a Telegram bot, a WhatsApp business number, a signed webhook).

    `settings` holds what may be shown (the WhatsApp phone number id, the template to send outside
    the 24-hour window, the API address); `credentials_sealed` holds the secrets (tokens, app
    secrets) encrypted (social/secrets.py), never shown again in full.
    """

    kind = models.CharField(max_length=20, choices=AccountKind.choices)
    name = models.CharField(max_length=100)
    # The last part of the webhook address (/social/hooks/<key>/): it picks the account; the
    # request's signature is what proves the platform sent it.
    key = models.CharField(max_length=40, unique=True, default=_webhook_key, editable=False)
    active = models.BooleanField(default=True)
    settings = models.JSONField(default=dict, blank=True)
    credentials_sealed = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    # Health, as mailboxes show it.
    last_event_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def credentials(self) -> dict[str, Any]:
        return secrets.unseal(self.credentials_sealed)

    def set_credentials(self, values: dict[str, str]) -> None:
        self.credentials_sealed = secrets.seal({k: str(v) for k, v in values.items() if v})

    def masked_credentials(self) -> dict[str, str]:
        try:
            values = self.credentials
        except secrets.UnreadableCredentials:
            return {}
        return {name: secrets.masked(value) for name, value in values.items()}

    def note_error(self, error: str) -> None:
        now = timezone.now()
        ChannelAccount.objects.filter(pk=self.pk).update(last_error=error[:1000], last_error_at=now)
        self.last_error, self.last_error_at = error[:1000], now


class EventState(models.TextChoices):
    PROCESSED = "processed", _("Processed")
    QUARANTINED = "quarantined", _("Quarantined")


class InboundEvent(models.Model):
    """One message or status report a platform sent, stored before it is processed.

    Platforms deliver webhooks at least once: the platform's id of the message (or of the status
    report) is unique per account, so a replay is stored once and never makes a second entry. A
    payload of a shape we do not know is kept, quarantined with the reason, never dropped.
    """

    account = models.ForeignKey(ChannelAccount, on_delete=models.CASCADE, related_name="events")
    platform_id = models.CharField(max_length=255)
    kind = models.CharField(max_length=20)  # message, status, unknown
    state = models.CharField(max_length=12, choices=EventState.choices, default=EventState.PROCESSED)
    reason = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True)
    entry = models.ForeignKey(Entry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "platform_id"], name="social_event_once"),
        ]
        indexes = [
            models.Index(
                fields=["account", "received_at"],
                name="social_event_quarantined",
                condition=models.Q(state="quarantined"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.platform_id}"


class Conversation(models.Model):
    """A customer's conversation on one account: their platform handle, where replies go, and the
    one ticket it threads onto (a solved ticket reopens; a closed one gets a follow-up)."""

    account = models.ForeignKey(ChannelAccount, on_delete=models.CASCADE, related_name="conversations")
    # The sender's stable id on the platform (Telegram user id, WhatsApp wa_id, the webhook's `from.id`).
    handle = models.CharField(max_length=255)
    # Where replies go (Telegram chat id, WhatsApp wa_id, the webhook's conversation).
    address = models.CharField(max_length=255)
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    ticket = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The customer's last message: WhatsApp allows free-form replies for 24 hours after it.
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "handle"], name="social_conversation_once")]
        indexes = [models.Index(fields=["ticket"], name="social_conversation_ticket")]

    def __str__(self) -> str:
        return f"{self.account} · {self.handle}"


class SentMessage(models.Model):
    """A message we sent, by the platform's id: its status reports find the entry here."""

    account = models.ForeignKey(ChannelAccount, on_delete=models.CASCADE, related_name="+")
    platform_id = models.CharField(max_length=255)
    entry = models.ForeignKey(Entry, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "platform_id"], name="social_sent_once")]

    def __str__(self) -> str:
        return self.platform_id
