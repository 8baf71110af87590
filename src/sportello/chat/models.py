"""Live chat: a chat channel (one widget configuration) and its conversations.

A conversation is the live side of one ticket (channel "chat"): every line is a thread entry of
that ticket, so the conversation shows in the inbox, search and reports like any other ticket.
The conversation row only holds what the chat needs on top: who waits, who took it, who read what.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from sportello.accounts.models import Group
from sportello.customers.models import Customer
from sportello.tickets.models import Ticket


class AskIdentity(models.TextChoices):
    NOTHING = "nothing", "Ask nothing"
    OPTIONAL = "optional", "Ask name and email, optional"
    REQUIRED = "required", "Name and email required"


class ChatChannel(models.Model):
    """One widget configuration; `key` is what the embedding page puts in `data-channel`."""

    name = models.CharField(max_length=100)
    key = models.SlugField(max_length=60, unique=True)
    enabled = models.BooleanField(default=True)
    ask_identity = models.CharField(max_length=10, choices=AskIdentity.choices, default=AskIdentity.OPTIONAL)
    # The agents who answer this channel's chats; no group means every agent.
    group = models.ForeignKey(Group, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    greeting = models.CharField(max_length=500, blank=True, default="Hello! How can we help?")
    max_chats_per_agent = models.PositiveSmallIntegerField(default=3)
    # Outside these business hours the widget offers to leave a message; none means always open.
    hours = models.ForeignKey(
        "sla.Calendar",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="business hours",
    )
    # Health, as for every channel: the last problem seen, for admins.
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class ConversationState(models.TextChoices):
    WAITING = "waiting", "Waiting for an agent"
    ACTIVE = "active", "With an agent"
    CLOSED = "closed", "Closed"


class Conversation(models.Model):
    channel = models.ForeignKey(ChatChannel, on_delete=models.CASCADE, related_name="conversations")
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="chat_conversations")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    # The visitor's identity from their signed token; only that visitor may join this conversation.
    visitor = models.UUIDField(default=uuid.uuid4, db_index=True)
    state = models.CharField(max_length=10, choices=ConversationState.choices, default=ConversationState.WAITING)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="chat_conversations"
    )
    # The group whose agents may take it from the queue (the channel's, or where it was transferred).
    group = models.ForeignKey(Group, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    language = models.CharField(max_length=10, default="en")
    created_at = models.DateTimeField(default=timezone.now)
    waiting_since = models.DateTimeField(default=timezone.now)
    accepted_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Read receipts: the last entry id each side has seen.
    visitor_read = models.BigIntegerField(default=0)
    agent_read = models.BigIntegerField(default=0)
    transcript_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "waiting_since"], name="chat_queue")]

    def __str__(self) -> str:
        return f"Chat {self.pk} (#{self.ticket.number})"
