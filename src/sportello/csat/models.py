"""Satisfaction surveys: one per solved ticket, offered by email and in the portal, answered good or bad.

The row is made when the ticket is first solved and keeps who solved it (the assignee and group
then), so results per agent and group do not move when a ticket is reassigned later. The answer
lives on the same row: one per ticket, changeable for a few days after the first answer.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Rating(models.TextChoices):
    GOOD = "good", "Good"
    BAD = "bad", "Bad"


class Source(models.TextChoices):
    EMAIL = "email", "Email link"
    PORTAL = "portal", "Portal"


class Survey(models.Model):
    ticket = models.OneToOneField("tickets.Ticket", on_delete=models.CASCADE, related_name="survey")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    group = models.ForeignKey("accounts.Group", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    offered_at = models.DateTimeField(default=timezone.now)
    # The address the survey mail went to; empty when none was sent (no deliverable address).
    mailed_to = models.CharField(max_length=254, blank=True)
    rating = models.CharField(max_length=4, choices=Rating.choices, blank=True)
    comment = models.TextField(blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, blank=True)
    # The first answer; the answer may change until CHANGE_WINDOW after it (services.py).
    answered_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["answered_at"], name="csat_answered"),
            models.Index(fields=["agent", "rating"], name="csat_agent"),
            models.Index(fields=["group", "rating"], name="csat_group"),
        ]

    def __str__(self) -> str:
        return f"survey of ticket {self.ticket_id}: {self.rating or 'no answer'}"

    @property
    def answered(self) -> bool:
        return bool(self.rating)
