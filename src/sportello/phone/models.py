"""CTI accounts (a PBX or Twilio talking to us), the call log, and every call event as received."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.core.cache import cache
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sportello.customers.models import Customer
from sportello.tickets.models import Entry, Ticket

# The cached answer to "is any CTI account active, and does one dial out?" (templatetags/phone.py).
FLAGS_CACHE_KEY = "sportello:phone:flags"


def forget_flags() -> None:
    """Pages read the flags afresh: now (this transaction's own pages) and after the commit (the
    others', which might have read the old rows meanwhile)."""
    cache.delete(FLAGS_CACHE_KEY)
    transaction.on_commit(lambda: cache.delete(FLAGS_CACHE_KEY))


class CtiKind(models.TextChoices):
    GENERIC = "generic", _("Generic CTI (sipgate, Placetel, Asterisk…)")
    TWILIO = "twilio", _("Twilio Voice")


class CtiAccount(models.Model):
    """A phone system that tells us about calls. Generic accounts prove themselves with a token
    (in the URL or a header; only its hash is stored), Twilio accounts with X-Twilio-Signature
    made with the account's auth token (kept encrypted: it must be read back to check)."""

    TOKEN_PREFIX = "spc_"

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=CtiKind.choices, default=CtiKind.GENERIC)
    active = models.BooleanField(_("active"), default=True)
    token_hash = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    token_hint = models.CharField(max_length=12, blank=True, editable=False)
    secret_sealed = models.TextField(blank=True, editable=False)
    secret_hint = models.CharField(max_length=8, blank=True, editable=False)
    # Twilio: the Account SID (AC…), kept encrypted as the auth token is; only its end stays readable.
    account_sid_sealed = models.TextField(blank=True, editable=False)
    account_sid_hint = models.CharField(max_length=8, blank=True, editable=False)
    api_base = models.URLField(
        _("Twilio API address"),
        max_length=300,
        blank=True,
        help_text=_("Advanced: where the Test asks Twilio; empty means Twilio's own (https://api.twilio.com)."),
    )
    region = models.CharField(
        _("country for national numbers"),
        max_length=2,
        blank=True,
        help_text=_("ISO code (DE, IT, BG…) used to read numbers the PBX sends without a country code"),
    )
    outbound_url = models.URLField(
        _("outbound URL"),
        max_length=500,
        blank=True,
        help_text=_("Click to dial posts the number here; empty: phone numbers are tel: links"),
    )
    forward_to = models.CharField(
        _("forward calls to"),
        max_length=250,
        blank=True,
        help_text=_(
            "Twilio: incoming calls are put through to this number (E.164) or SIP address "
            "(sip:desk@pbx.example.com). Empty: callers hear that no one can take the call, and it "
            "becomes a callback."
        ),
    )
    last_event_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    last_error_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("CTI account")
        verbose_name_plural = _("CTI accounts")

    def __str__(self) -> str:
        return self.name

    def save(self, *args: object, **kwargs: object) -> None:
        super().save(*args, **kwargs)  # type: ignore[arg-type]
        forget_flags()

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        result = super().delete(*args, **kwargs)  # type: ignore[arg-type]
        forget_flags()
        return result

    @staticmethod
    def hash_token(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @classmethod
    def new_token(cls) -> str:
        return cls.TOKEN_PREFIX + secrets.token_urlsafe(32)


class CallDirection(models.TextChoices):
    IN = "in", _("Incoming")
    OUT = "out", _("Outgoing")


class CallState(models.TextChoices):
    RINGING = "ringing", _("Ringing")
    ANSWERED = "answered", _("Answered")
    MISSED = "missed", _("Missed")
    ENDED = "ended", _("Ended")


class Call(models.Model):
    """One call, from its first event to its last. `rung` holds the ids of the agents whose
    screens it popped up on (those named by the PBX, or every online agent)."""

    account = models.ForeignKey(CtiAccount, on_delete=models.CASCADE, related_name="calls")
    call_id = models.CharField(max_length=250)
    direction = models.CharField(max_length=3, choices=CallDirection.choices)
    # E.164 when the number could be read; the raw text otherwise ("anonymous" is "").
    from_number = models.CharField(max_length=32, blank=True)
    to_number = models.CharField(max_length=32, blank=True)
    state = models.CharField(max_length=10, choices=CallState.choices, default=CallState.RINGING)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rung = models.JSONField(default=list, blank=True)
    queue = models.CharField(max_length=100, blank=True)
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    ticket = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    entry = models.ForeignKey(Entry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    started_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    duration = models.PositiveIntegerField(null=True, blank=True, help_text="Seconds talked")
    recording_url = models.URLField(max_length=1000, blank=True)
    cause = models.CharField(max_length=30, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["account", "call_id"], name="phone_call_once")]
        indexes = [models.Index(fields=["-started_at", "-id"], name="phone_call_log")]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.from_number or '?'} → {self.to_number or '?'}"

    @property
    def caller_number(self) -> str:
        """The customer's side of the call."""
        return self.from_number if self.direction == CallDirection.IN else self.to_number


class EventState(models.TextChoices):
    PROCESSED = "processed", _("Processed")
    QUARANTINED = "quarantined", _("Quarantined")


class CallEvent(models.Model):
    """Every event a phone system sent, as sent: the key (`kind:call id:event`) makes a repeat a
    no-op; a payload we cannot read is kept, quarantined with the reason."""

    account = models.ForeignKey(CtiAccount, on_delete=models.CASCADE, related_name="events")
    call = models.ForeignKey(Call, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    key = models.CharField(max_length=400, blank=True)
    payload = models.JSONField(default=dict)
    state = models.CharField(max_length=12, choices=EventState.choices, default=EventState.PROCESSED)
    reason = models.TextField(blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "key"], condition=~models.Q(key=""), name="phone_event_once")
        ]
        indexes = [
            models.Index(fields=["state", "-received_at"], name="phone_event_state"),
        ]

    def __str__(self) -> str:
        return self.key or f"event {self.pk} ({self.state})"
