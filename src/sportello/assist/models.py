"""The model server's settings (one row) and the record of every use of it.

The API key is kept sealed (social/secrets.py: Fernet under SPORTELLO_CREDENTIALS_KEY or a key
derived from SECRET_KEY) and is never shown again once saved. A use keeps the exact messages sent,
so an admin can read what left the help desk; it goes with its ticket when the ticket is deleted
(it holds the ticket's text).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from sportello.tickets.models import Ticket


class AssistSettings(models.Model):
    """Where the model server is; one row (pk=1), off until an admin turns it on."""

    enabled = models.BooleanField(default=False)
    base_url = models.CharField(max_length=300, blank=True)
    model = models.CharField(max_length=200, blank=True)
    api_key_sealed = models.TextField(blank=True)
    timeout_seconds = models.PositiveIntegerField(default=60)
    # A server on this machine or the local network (Ollama on 127.0.0.1, vLLM on a GPU box).
    allow_local = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "reply assistance settings"
        verbose_name_plural = "reply assistance settings"

    def __str__(self) -> str:
        return "Reply assistance"

    @property
    def ready(self) -> bool:
        return self.enabled and bool(self.base_url and self.model)


class Action(models.TextChoices):
    SUMMARISE = "summarise", _("Summarise the thread")
    DRAFT = "draft", _("Draft a reply")
    TONE = "tone", _("Improve the tone")
    TRANSLATE_IN = "translate_in", _("Translate the customer's message")
    TRANSLATE_OUT = "translate_out", _("Translate into the customer's language")


class Outcome(models.TextChoices):
    ANSWERED = "answered", _("Answered")
    FAILED = "failed", _("Failed")


class AssistUse(models.Model):
    """One request to the model server from the ticket page: who, on what, what was sent, what came back."""

    created_at = models.DateTimeField(auto_now_add=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=20, choices=Action.choices)
    model = models.CharField(max_length=200)
    server = models.CharField(max_length=300)  # the base URL as it was then
    messages = models.JSONField(default=list)  # exactly what was sent, the system prompt first
    prompt_chars = models.PositiveIntegerField(default=0)
    with_notes = models.BooleanField(default=False)
    articles = models.JSONField(default=list)  # [{"id", "title", "url"}] the draft was grounded in
    answer = models.TextField(blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    error = models.CharField(max_length=500, blank=True)
    elapsed_ms = models.PositiveIntegerField(default=0)
    prompt_tokens = models.PositiveIntegerField(null=True)
    answer_tokens = models.PositiveIntegerField(null=True)
    # None: nobody said; True: put into the composer; False: discarded.
    accepted = models.BooleanField(null=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["-created_at", "-id"], name="assist_use_recent")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} on #{self.ticket.number}"
