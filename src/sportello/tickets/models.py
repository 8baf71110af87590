from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import Group
from sportello.customers.models import Customer


class StatusCategory(models.TextChoices):
    """The six categories every status maps to; they drive views, SLA clocks and reports."""

    NEW = "new", _("New")
    OPEN = "open", _("Open")
    PENDING = "pending", _("Pending")
    ON_HOLD = "on_hold", _("On hold")
    SOLVED = "solved", _("Solved")
    CLOSED = "closed", _("Closed")
    # Marked as spam by an agent: in no inbox view but the "Spam" filter (state=spam); "Not spam"
    # sets the ticket back to open.
    SPAM = "spam", _("Spam")


# Categories in which a ticket still needs work from someone.
ACTIVE_CATEGORIES = (StatusCategory.NEW, StatusCategory.OPEN, StatusCategory.PENDING, StatusCategory.ON_HOLD)


class Status(models.Model):
    """A ticket status. Six are built in; admins add their own, each mapped to a category."""

    name = models.CharField(max_length=60, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    category = models.CharField(max_length=10, choices=StatusCategory.choices)
    builtin = models.BooleanField(default=False, editable=False)
    position = models.PositiveSmallIntegerField(default=100)
    # An inactive status is offered in no dropdown; tickets that have it keep it.
    active = models.BooleanField(default=True)
    # The status an agent's public reply sets when the reply names none ("Answered"); one at most.
    set_on_agent_reply = models.BooleanField(default=False)

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "statuses"

    def __str__(self) -> str:
        return self.name


class Priority(models.IntegerChoices):
    LOW = 1, _("Low")
    NORMAL = 2, _("Normal")
    HIGH = 3, _("High")
    URGENT = 4, _("Urgent")


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    WEB = "web", _("Web form")
    CHAT = "chat", _("Chat")
    PHONE = "phone", _("Phone")
    SOCIAL = "social", _("Social")
    PORTAL = "portal", _("Portal")
    API = "api", _("API")
    AGENT = "agent", _("Agent")


class Category(models.Model):
    name = models.CharField(max_length=100, unique=True)
    # An inactive category is offered in no dropdown; tickets filed under it keep it.
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    name = models.CharField(max_length=50, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Ticket(models.Model):
    number = models.BigIntegerField(unique=True, editable=False)
    subject = models.CharField(max_length=255)
    # customer, group and assignee: no index of their own. Each leads a composite index below
    # (ticket_customer, ticket_group_state, ticket_assignee_state), which answers every look-up
    # by it, the foreign key checks included; a second index would only cost every create.
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="tickets", db_index=False)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    status = models.ForeignKey(Status, on_delete=models.PROTECT, related_name="+")
    # The status's category, copied here so that every inbox view is one indexed range scan.
    state = models.CharField(max_length=10, choices=StatusCategory.choices, editable=False)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets", db_index=False
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tickets",
        db_index=False,
    )
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets")
    tags = models.ManyToManyField(Tag, blank=True, related_name="tickets")
    language = models.CharField(max_length=10, default="en")
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged")
    # Optimistic concurrency: every change to the ticket or its thread increments the version.
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    first_response_at = models.DateTimeField(null=True, blank=True)
    solved_at = models.DateTimeField(null=True, blank=True)
    # Minutes agents logged on the ticket's entries, summed as they are written.
    time_spent = models.PositiveIntegerField(default=0)
    # Snoozed (status pending) until then; the wake-up (tickets/snooze.py) sets it back to open.
    snoozed_until = models.DateTimeField(null=True, blank=True)
    # Values of the admin-defined custom fields (sportello.fields), by field key; validated by
    # fields/services.py. On PostgreSQL a GIN index (jsonb_path_ops) answers the inbox filters.
    custom_fields = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            # The wake-up's range scan over the few snoozed tickets only.
            models.Index(
                fields=["snoozed_until"], name="ticket_snoozed", condition=models.Q(snoozed_until__isnull=False)
            ),
            models.Index(fields=["state", "-updated_at", "-id"], name="ticket_state_updated"),
            models.Index(fields=["assignee", "state", "-updated_at", "-id"], name="ticket_assignee_state"),
            models.Index(fields=["group", "state", "-updated_at", "-id"], name="ticket_group_state"),
            models.Index(fields=["state", "-priority", "-updated_at", "-id"], name="ticket_state_priority"),
            models.Index(fields=["customer", "-created_at"], name="ticket_customer"),
            # Sort orders alone: a view over several states (an IN list) cannot read the
            # (state, …) indexes in order, but can walk these and stop after one page.
            models.Index(fields=["-updated_at", "-id"], name="ticket_updated"),
            models.Index(fields=["-priority", "-updated_at", "-id"], name="ticket_priority"),
            models.Index(fields=["-created_at", "-id"], name="ticket_created"),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.subject}"

    @property
    def reference(self) -> str:
        return f"#{self.number}"


class Direction(models.TextChoices):
    INBOUND = "inbound", _("From the customer")
    OUTBOUND = "outbound", _("To the customer")
    INTERNAL = "internal", _("Internal")


class EntryKind(models.TextChoices):
    MESSAGE = "message", _("Message")
    NOTE = "note", _("Internal note")
    CALL = "call", _("Phone call")


class DeliveryState(models.TextChoices):
    """Where an outgoing message is; the attempts, the next try and the last error are in metadata."""

    NONE = "", "—"
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    RETRYING = "retrying", _("Retrying")
    SENT = "sent", _("Sent")
    # Reported by platforms that say so (WhatsApp's status callbacks); mail stops at sent.
    DELIVERED = "delivered", _("Delivered")
    READ = "read", _("Read")
    FAILED = "failed", _("Failed")


# Deliveries that are not finished: the retry sweep reads these through a small partial index.
PENDING_DELIVERY = (DeliveryState.QUEUED, DeliveryState.SENDING, DeliveryState.RETRYING)


class Entry(models.Model):
    """One item of a ticket's thread: a message on any channel, a call, or an internal note."""

    # No index of its own: entry_thread (ticket, created_at, id) answers every look-up by ticket.
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="entries", db_index=False)
    kind = models.CharField(max_length=10, choices=EntryKind.choices, default=EntryKind.MESSAGE)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    direction = models.CharField(max_length=10, choices=Direction.choices)
    internal = models.BooleanField(default=False)
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="entries"
    )
    body_text = models.TextField(blank=True)
    # Sanitized with nh3 before it is stored; never the raw HTML from outside.
    body_html = models.TextField(blank=True)
    # Channel-specific details (mail headers, call duration, chat session…), typed per channel.
    metadata = models.JSONField(default=dict, blank=True)
    delivery = models.CharField(max_length=10, choices=DeliveryState.choices, default=DeliveryState.NONE, blank=True)
    delivery_error = models.TextField(blank=True)
    # Minutes the agent spent on this reply, note or call (time tracking); None when not logged.
    time_spent = models.PositiveIntegerField(null=True, blank=True)
    # The ticket version this entry produced: lets a stale editor see what arrived meanwhile.
    ticket_version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["ticket", "created_at", "id"], name="entry_thread"),
            models.Index(
                fields=["delivery"], name="entry_delivery_pending", condition=models.Q(delivery__in=PENDING_DELIVERY)
            ),
        ]
        verbose_name_plural = "entries"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on #{self.ticket.number}"

    @property
    def author_name(self) -> str:
        if self.author_user_id:
            return self.author_user.display_name  # type: ignore[union-attr]
        if self.author_customer_id:
            return str(self.author_customer)
        return "System"


def attachment_path(instance: Attachment, filename: str) -> str:
    now = timezone.now()
    return f"attachments/{now:%Y/%m}/{instance.entry.ticket_id}/{filename}"


class Attachment(models.Model):
    entry = models.ForeignKey(Entry, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=500)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=150, default="application/octet-stream")
    size = models.PositiveBigIntegerField(default=0)
    inline = models.BooleanField(default=False)
    content_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.filename


class Change(models.Model):
    """One row of a ticket's history: who changed which field, when, from what to what."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="changes")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    field = models.CharField(max_length=50)
    old_value = models.TextField(blank=True)
    new_value = models.TextField(blank=True)
    note = models.TextField(blank=True)
    ticket_version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "ticket_version"], name="change_ticket_version")]

    def __str__(self) -> str:
        return f"#{self.ticket_id} {self.field}: {self.old_value!r} → {self.new_value!r}"


class LinkKind(models.TextChoices):
    RELATED = "related", _("Related")
    # `source` is a child of `target` (a task split off a bigger problem, one report of an outage).
    PARENT = "parent", _("Child of")


class TicketLink(models.Model):
    """Two tickets linked by an agent: related (either way), or `source` a child of `target`."""

    source = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="links_out")
    target = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="links_in")
    kind = models.CharField(max_length=10, choices=LinkKind.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "target"], name="ticketlink_once"),
            # A ticket has at most one parent.
            models.UniqueConstraint(fields=["source"], condition=models.Q(kind="parent"), name="ticketlink_one_parent"),
            models.CheckConstraint(condition=~models.Q(source=models.F("target")), name="ticketlink_not_self"),
        ]
        indexes = [models.Index(fields=["target", "kind"], name="ticketlink_target")]

    def __str__(self) -> str:
        return f"#{self.source_id} {self.kind} #{self.target_id}"
