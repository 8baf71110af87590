from django.db import models
from django.utils import timezone


class Counter(models.Model):
    """A named, gap-free sequence (ticket reference numbers).

    Incremented with one conditional UPDATE inside the caller's transaction, so two concurrent
    intakes can never get the same number, on SQLite or PostgreSQL.
    """

    name = models.CharField(max_length=50, primary_key=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class PeriodicRun(models.Model):
    """When each periodic job last ran and when it is due; claimed with a conditional UPDATE.

    Several schedulers may run (one per worker machine): the one whose UPDATE moves `due_at`
    forward wins the run, the others see zero rows updated and skip it.
    """

    name = models.CharField(max_length=100, primary_key=True)
    due_at = models.DateTimeField()
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_holder = models.CharField(max_length=100, blank=True)
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return self.name


class OutboxMessage(models.Model):
    """A side effect (an automatic mail, a webhook, …) written in the transaction that caused it.

    `core/outbox.py` puts rows and drains them: a row is claimed with a conditional UPDATE before
    its handler runs and marked done after, so it is delivered at least once and, short of a
    worker dying between the handler's send and the mark, never twice (see the module docstring).
    """

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        CLAIMED = "claimed", "Being handled"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=100)
    payload = models.JSONField(default=dict)
    # At most one row per key (e.g. one acknowledgement per ticket); None: no such limit. Unique
    # through a partial index (outbox_key_unique): most rows (every event's) have no key, and a
    # plain unique column would index their NULLs twice (its index and Django's LIKE index).
    key = models.CharField(max_length=200, null=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # The lease: a row claimed longer ago than outbox.LEASE was left by a worker that died.
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=100, blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="core_outbox_due")]
        constraints = [
            models.UniqueConstraint(fields=["key"], condition=models.Q(key__isnull=False), name="outbox_key_unique")
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.state})"


def branding_logo_path(instance: "Branding", filename: str) -> str:
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else "img"
    return f"branding/logo-{timezone.now():%Y%m%d%H%M%S}.{extension[:5]}"


class Branding(models.Model):
    """The help desk's name, logo, primary colour and support address; one row (pk 1).

    Read on every page through `core.branding.current()`, kept per process under the lookups'
    version (core/lookups.py), which saving it bumps."""

    product_name = models.CharField(max_length=60, default="Sportello")
    logo = models.FileField(upload_to=branding_logo_path, blank=True, max_length=200)
    logo_type = models.CharField(max_length=20, blank=True)
    primary_color = models.CharField(max_length=7, blank=True)
    support_address = models.EmailField(blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "branding"

    def __str__(self) -> str:
        return self.product_name
