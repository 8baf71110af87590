"""The audit trail: one append-only row per security-relevant event (sign-ins, permission and
settings changes, token creation, exports). Rows are never changed; only the retention sweep
(services.sweep_old_events) removes them, once they are older than the retention period."""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Action(models.TextChoices):
    SIGN_IN = "auth.sign_in", _("Signed in")
    SIGN_IN_FAILED = "auth.sign_in_failed", _("Failed sign-in")
    TWO_FACTOR_CHANGED = "auth.two_factor", _("Two-factor changed")
    SETTINGS_CHANGED = "settings.changed", _("Settings changed")
    PERMISSION_CHANGED = "permission.changed", _("Permissions changed")
    TOKEN_CREATED = "token.created", _("API token created")
    TOKEN_REVOKED = "token.revoked", _("API token revoked")
    EXPORT = "export", _("Export")
    ERASE = "erase", _("Erasure")
    # What the privacy app records (privacy/erasure.py, exporting.py, retention.py).
    PRIVACY_EXPORTED = "privacy.exported", _("Customer data exported")
    PRIVACY_EXPORT_REQUESTED = "privacy.export_requested", _("Customer asked for their data")
    PRIVACY_ERASED = "privacy.erased", _("Customer erased")
    PRIVACY_TICKETS_DELETED = "privacy.tickets_deleted", _("Closed tickets deleted (retention)")
    ADMIN_ACTION = "admin.action", _("Admin site action")
    # A power that changes no setting but acts for the help desk: a webhook's test call, a retry…
    ADMIN_POWER = "admin.power", _("Admin power used")


class AppendOnlyError(Exception):
    """Raised on any attempt to change or delete an audit row through the ORM."""


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("audit events cannot be updated")

    def delete(self) -> NoReturn:  # type: ignore[override]
        raise AppendOnlyError("audit events cannot be deleted")

    def bulk_update(self, *args: Any, **kwargs: Any) -> NoReturn:  # type: ignore[override]
        raise AppendOnlyError("audit events cannot be updated")

    def update_or_create(self, *args: Any, **kwargs: Any) -> NoReturn:  # type: ignore[override]
        raise AppendOnlyError("audit events cannot be updated")


class AuditEvent(models.Model):
    at = models.DateTimeField(default=timezone.now)
    # Kept when the user is deleted: actor becomes NULL, actor_label still says who it was.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True)
    actor_ip = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=40)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=200, blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["-at", "-id"], name="audit_at_idx"),
            models.Index(fields=["action", "-at"], name="audit_action_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.target_label}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("audit events cannot be updated")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:  # type: ignore[override]
        raise AppendOnlyError("audit events cannot be deleted")
