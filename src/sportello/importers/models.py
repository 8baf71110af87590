from __future__ import annotations

from django.db import models
from django.utils import timezone


class ImportedRecord(models.Model):
    """One row brought from another help desk: where it came from and what it became here.

    The key of an import's idempotency: a row whose (source, kind, source id) is recorded is
    updated, never made twice, and one whose checksum has not changed is skipped. A ticket's
    record is written in the same transaction as the ticket and its thread, so an import killed
    at any point and started again finds each ticket either whole or absent.
    """

    source = models.CharField(max_length=100)  # "zendesk:acme.zendesk.com", "csv"
    kind = models.CharField(max_length=20)  # organization, customer, agent, group, ticket, comment, …
    source_id = models.CharField(max_length=200)
    local_id = models.BigIntegerField()
    # The source's own number of a ticket, kept searchable when Sportello gave it another one.
    source_number = models.CharField(max_length=50, blank=True)
    checksum = models.CharField(max_length=64, blank=True)
    # What the source gave the row that a later change in the source may take away:
    # {"fields": [custom field keys], "tags": [tag names]}. A delta import removes those no longer
    # given, and leaves alone what people added here.
    managed = models.JSONField(default=dict, blank=True)
    source_updated_at = models.DateTimeField(null=True, blank=True)
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "kind", "source_id"], name="imported_record_once"),
        ]
        indexes = [models.Index(fields=["kind", "local_id"], name="imported_record_local")]

    def __str__(self) -> str:
        return f"{self.source} {self.kind} {self.source_id} → {self.local_id}"


class ImportCursor(models.Model):
    """Where an incremental read of a source stopped (Zendesk's export cursor, a CSV's row), so
    that the next run asks only for what changed since."""

    source = models.CharField(max_length=100)
    stream = models.CharField(max_length=40)
    cursor = models.TextField(blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "stream"], name="import_cursor_once")]

    def __str__(self) -> str:
        return f"{self.source} {self.stream}: {self.cursor[:40]}"
