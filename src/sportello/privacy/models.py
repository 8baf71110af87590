"""Privacy: customers' requests for their data, erasures done, and the retention rules.

None of these rows holds personal data of its own: an export points at its customer and at an
archive file that is deleted when its link expires (or when the customer is erased); an erasure
keeps the customer's id and counts only.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ExportState(models.TextChoices):
    PENDING = "pending", _("Being prepared")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")
    EXPIRED = "expired", _("Expired")


def export_path(instance: DataExport, filename: str) -> str:
    return f"privacy/exports/{filename}"


class DataExport(models.Model):
    """A customer's request for their personal data (from the portal): an archive built by a task
    and mailed as a signed link that only they, signed in, may follow until `expires_at`."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    state = models.CharField(max_length=10, choices=ExportState.choices, default=ExportState.PENDING)
    file = models.FileField(upload_to=export_path, max_length=300, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    ready_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    downloaded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["customer", "-created_at"], name="privacy_export_customer")]

    def __str__(self) -> str:
        return f"export {self.pk} of customer {self.customer_id} ({self.state})"


class ErasureReason(models.TextChoices):
    REQUEST = "request", _("Erased by an admin")
    RETENTION = "retention", _("Retention rule")


class Erasure(models.Model):
    """A customer erased: who did it, when, why, and how much went (counts only, never names)."""

    customer_id = models.BigIntegerField(unique=True)
    erased_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=10, choices=ErasureReason.choices, default=ErasureReason.REQUEST)
    counts = models.JSONField(default=dict, blank=True)
    erased_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-erased_at", "-id"]

    def __str__(self) -> str:
        return f"customer {self.customer_id} erased"


# The cached answer to "may agents export?", read on every customer page (templatetags/privacy.py).
AGENTS_MAY_EXPORT_KEY = "sportello:privacy:agents_may_export"


def forget_agents_may_export() -> None:
    """Pages read the flag afresh: now, and after the commit (others may have read the old row)."""
    cache.delete(AGENTS_MAY_EXPORT_KEY)
    transaction.on_commit(lambda: cache.delete(AGENTS_MAY_EXPORT_KEY))


class RetentionPolicy(models.Model):
    """The one row of retention rules (pk 1); an empty number turns its rule off."""

    anonymise_inactive_years = models.PositiveSmallIntegerField(
        _("anonymise customers inactive for (years)"),
        null=True,
        blank=True,
        help_text=_("Customers with no ticket activity for this many years are erased; empty: never"),
    )
    delete_closed_months = models.PositiveSmallIntegerField(
        _("delete closed tickets older than (months)"),
        null=True,
        blank=True,
        help_text=_("Closed tickets not updated for this many months are deleted with their files; empty: never"),
    )
    batch_size = models.PositiveIntegerField(
        _("batch size"), default=200, help_text=_("Customers or tickets handled per transaction")
    )
    agents_may_export = models.BooleanField(
        _("agents may export personal data"),
        default=False,
        help_text=_("Besides admins, agents (not light agents) may download a customer's data from the customer page"),
    )
    updated_at = models.DateTimeField(default=timezone.now)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_run = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name_plural = "retention policies"

    def __str__(self) -> str:
        return "retention rules"

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        forget_agents_may_export()

    @classmethod
    def current(cls) -> RetentionPolicy:
        policy, _created = cls.objects.get_or_create(pk=1)
        return policy


def agents_may_export() -> bool:
    """The settings' flag, cached for a minute at most (saving the settings forgets it at once)."""
    value = cache.get(AGENTS_MAY_EXPORT_KEY)
    if value is None:
        value = RetentionPolicy.objects.filter(pk=1, agents_may_export=True).exists()
        cache.set(AGENTS_MAY_EXPORT_KEY, value, 60)
    return bool(value)
