"""An agent's notifications (mentions, assignments, customer replies, SLA alerts) and their choices."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Kind(models.TextChoices):
    MENTIONED = "mentioned", _("Someone mentions me in a note")
    ASSIGNED = "assigned", _("A ticket is assigned to me")
    CUSTOMER_REPLIED = "customer_replied", _("A customer replies on my ticket")
    SLA_WARNING = "sla_warning", _("An SLA target of my ticket is close")
    SLA_BREACHED = "sla_breached", _("An SLA target of my ticket is breached")


# Each kind's default when an agent has not chosen: (in the app, by mail when away or offline).
# Everything shows in the app; mail only for what needs the agent in person.
DEFAULTS: dict[str, tuple[bool, bool]] = {
    Kind.MENTIONED: (True, True),
    Kind.ASSIGNED: (True, True),
    Kind.CUSTOMER_REPLIED: (True, False),
    Kind.SLA_WARNING: (True, False),
    Kind.SLA_BREACHED: (True, True),
}


class Notification(models.Model):
    """Something that happened on a ticket that one agent should know about.

    `key` names what caused it (the entry, the history row, the SLA target and due time) and the
    recipient, so an event delivered twice (core/events.py) notifies once. `text` is an excerpt
    (the note, the customer's message); the headline is worded when shown, in the reader's language.
    """

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="+")
    entry = models.ForeignKey("tickets.Entry", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.CharField(max_length=300, blank=True)
    data: models.JSONField[dict[str, Any]] = models.JSONField(default=dict, blank=True)
    key = models.CharField(max_length=200, unique=True)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The bell's list, newest first, a page at a time (keyset on id).
            models.Index(fields=["recipient", "-id"], name="notification_recipient"),
            # The bell's count: unread rows only.
            models.Index(fields=["recipient"], condition=Q(read_at__isnull=True), name="notification_unread"),
            # The relay of notifications written by workers (live.py).
            models.Index(fields=["created_at"], name="notification_created"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.ticket_id} → {self.recipient_id}"

    @property
    def headline(self) -> str:
        """What happened, in one line, in the active language (select_related ticket and actor)."""
        from sportello.notifications.services import headline_of

        return headline_of(self)


class Preference(models.Model):
    """One agent's choice for one kind; a kind without a row follows DEFAULTS."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    in_app = models.BooleanField(default=True)
    by_mail = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="notification_preference_once")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}: app={self.in_app} mail={self.by_mail}"
