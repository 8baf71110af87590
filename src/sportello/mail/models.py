from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from sportello.accounts.models import Group
from sportello.tickets.models import Entry, Ticket


class AfterFetch(models.TextChoices):
    SEEN = "seen", "Mark as read"
    DELETE = "delete", "Delete"


class Mailbox(models.Model):
    """An address customers write to: a channel row with its configuration and health."""

    address = models.EmailField(unique=True)
    name = models.CharField(max_length=200, blank=True, help_text="Display name on outgoing mail")
    group = models.ForeignKey(
        Group,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="mailboxes",
        help_text="New tickets from this mailbox go to this group",
    )
    active = models.BooleanField(default=True)
    # IMAP polling (used by the poller). The password is either typed on the settings page and kept
    # encrypted (`imap_password_sealed`, as channel credentials are: social/secrets.py), or read
    # from the environment variable named here; the typed one wins.
    imap_host = models.CharField(max_length=255, blank=True)
    imap_port = models.PositiveIntegerField(default=993)
    imap_ssl = models.BooleanField(default=True)
    imap_username = models.CharField(max_length=255, blank=True)
    imap_password_env = models.CharField(
        max_length=100, blank=True, help_text="Name of the environment variable holding the IMAP password"
    )
    imap_password_sealed = models.TextField(blank=True, editable=False)
    imap_folder = models.CharField(max_length=255, default="INBOX")
    imap_after_fetch = models.CharField(
        max_length=10,
        choices=AfterFetch.choices,
        default=AfterFetch.SEEN,
        help_text="What happens on the server to a message once Sportello has stored it",
    )
    # Where the poller resumes: messages with a UID above imap_last_uid are new. UIDs only mean
    # something within one UIDVALIDITY; when the server changes it, everything is fetched again
    # (receiving is idempotent, so that makes no doubles).
    imap_uidvalidity = models.PositiveBigIntegerField(null=True, blank=True)
    imap_last_uid = models.PositiveBigIntegerField(default=0)
    # One poller per mailbox at a time: taken by a conditional UPDATE, renewed while it polls,
    # released when done; it expires soon after its holder stops renewing it, and at once when
    # the holder (host:pid:token) is a process of this host that is gone.
    poll_lease_until = models.DateTimeField(null=True, blank=True)
    poll_lease_holder = models.CharField(max_length=100, blank=True)
    # The raw-MIME HTTP endpoint's secret for this mailbox: only its SHA-256 is kept.
    inbound_token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    inbound_token_hint = models.CharField(max_length=12, blank=True)
    inbound_token_created_at = models.DateTimeField(null=True, blank=True)
    # Health, shown to admins.
    last_fetch_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    messages_waiting = models.PositiveIntegerField(
        default=0, help_text="Messages on the server that the last poll could not store yet"
    )

    class Meta:
        ordering = ["address"]
        verbose_name_plural = "mailboxes"

    def __str__(self) -> str:
        return f"{self.name} <{self.address}>" if self.name else self.address

    @property
    def polls_imap(self) -> bool:
        """A mailbox without an IMAP host is "push only": mail reaches it by SMTP/LMTP or HTTP."""
        return bool(self.imap_host)

    TOKEN_PREFIX = "spm_"

    @staticmethod
    def hash_token(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @staticmethod
    def new_token() -> str:
        return Mailbox.TOKEN_PREFIX + secrets.token_urlsafe(32)


class RawState(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSED = "processed", "Processed"
    QUARANTINED = "quarantined", "Quarantined"
    DUPLICATE = "duplicate", "Duplicate"


def raw_path(instance: RawMessage, filename: str) -> str:
    now = timezone.now()
    return f"mail/raw/{now:%Y/%m}/{instance.sha256}.eml"


class RawMessage(models.Model):
    """Every message exactly as it arrived, stored before anything else happens to it.

    The content hash makes receiving idempotent: the same bytes twice are one row. Processing
    turns the row into a ticket entry (processed), recognises a copy of a message already
    processed (duplicate), or records why it could not (quarantined) for an admin to retry.
    """

    file = models.FileField(upload_to=raw_path, max_length=500)
    sha256 = models.CharField(max_length=64, unique=True)
    # The hash of what the message says (bodies and attachments), without its headers: the same
    # Message-ID with the same content is a redelivery (a duplicate); with other content it is
    # another message and is ingested. Empty until processed.
    content_sha256 = models.CharField(max_length=64, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    message_id = models.CharField(max_length=500, blank=True, db_index=True)
    sender = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=255, blank=True)
    mailbox = models.ForeignKey(Mailbox, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    source = models.CharField(max_length=20, default="import", help_text="import, imap, smtp, lmtp, http")
    # Envelope recipients when the transport knows them (SMTP/LMTP); the signed reply address may be there only.
    envelope_to = models.JSONField(default=list, blank=True)
    # The SMTP MAIL FROM when the transport knows it (SMTP/LMTP): "<>" is the null sender of
    # bounces and automatic answers; empty when unknown (IMAP, import, HTTP).
    envelope_from = models.CharField(max_length=254, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=12, choices=RawState.choices, default=RawState.RECEIVED)
    reason = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)
    ticket = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    entry = models.ForeignKey(Entry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    duplicate_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["state", "-received_at"], name="rawmessage_state"),
            models.Index(fields=["sender", "-received_at"], name="rawmessage_sender"),
        ]

    def __str__(self) -> str:
        return f"{self.message_id or self.sha256[:12]} ({self.state})"


class EmailTemplate(models.Model):
    """An admin's wording of one automatic mail in one language (placeholders as in macros).

    Built-in keys: `acknowledgement` (a new ticket), `reply` (around an agent's reply; its text is
    `{{ reply.text }}`). Triggers and time rules may use any other key (`"template": "reminder"`).
    Without a row for the customer's language, the built-in wording of that language is used.
    """

    key = models.SlugField(max_length=60)
    language = models.CharField(max_length=10, default="en")
    subject = models.CharField(max_length=255)
    body = models.TextField()
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["key", "language"]
        constraints = [models.UniqueConstraint(fields=["key", "language"], name="email_template_key_language")]

    def __str__(self) -> str:
        return f"{self.key} ({self.language})"


class BlockedSender(models.Model):
    """An address (`ann@example.com`) or a whole domain (`example.com`) whose mail is quarantined
    with the reason "blocked": no ticket, no acknowledgement; an admin can release a message."""

    value = models.CharField(max_length=254, unique=True, help_text="An address, or a domain for all its addresses")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["value"]

    def __str__(self) -> str:
        return self.value

    @property
    def is_domain(self) -> bool:
        return "@" not in self.value
