"""Saved views: a name on a filter of the inbox, kept for one agent or shared with a team."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from sportello.accounts.models import Group


class Sharing(models.TextChoices):
    PERSONAL = "personal", "Only me"
    GROUP = "group", "A group"
    EVERYONE = "everyone", "Every agent"


class SavedView(models.Model):
    """A filter of the inbox under a name. `filter` is a TicketFilter's JSON (ids, ISO dates) so that
    counting every view needs no query per view; `params` is the filter bar's query string, which
    opens the view with the bar filled in as it was saved."""

    name = models.CharField(max_length=80)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views")
    sharing = models.CharField(max_length=10, choices=Sharing.choices, default=Sharing.PERSONAL)
    group = models.ForeignKey(Group, null=True, blank=True, on_delete=models.CASCADE, related_name="saved_views")
    filter = models.JSONField(default=dict)
    params = models.CharField(max_length=2000, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["owner", "sharing"], name="savedview_owner"),
            models.Index(fields=["sharing", "group"], name="savedview_shared"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(sharing="group", group__isnull=False) | ~models.Q(sharing="group"),
                name="savedview_group_has_group",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def count_key(self) -> str:
        return f"saved:{self.pk}"
