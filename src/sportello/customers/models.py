from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Organization(models.Model):
    name = models.CharField(max_length=200, unique=True)
    domain = models.CharField(max_length=200, blank=True, help_text="Mail domain of its members")
    # When set, members may see each other's tickets in the customer portal.
    shared_tickets = models.BooleanField(default=False)
    notes = models.TextField(blank=True)
    # Values of the admin-defined custom fields (sportello.fields), by field key.
    custom_fields = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Customer(models.Model):
    """One file per person, whatever the channel they write from."""

    name = models.CharField(max_length=200, blank=True)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="customers"
    )
    language = models.CharField(max_length=10, default="en")
    notes = models.TextField(blank=True)
    # A customer who signs in to the portal has a user account; most never do.
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="customer"
    )
    # Set while this file is merged into another (customers/merging.py); cleared when the merge is undone.
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Values of the admin-defined custom fields (sportello.fields), by field key.
    custom_fields = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name or self.primary_email or f"Customer {self.pk}"

    @property
    def primary_email(self) -> str:
        for identity in self.identities.all():
            if identity.kind == IdentityKind.EMAIL:
                return identity.value
        return ""


class IdentityKind(models.TextChoices):
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"
    SOCIAL = "social", "Social handle"


class Identity(models.Model):
    """An address a customer reaches us from. Values are stored normalised; unique per kind."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(max_length=10, choices=IdentityKind.choices)
    value = models.CharField(max_length=254)
    # Set when mail to this address bounced: no automatic mail goes there any more.
    undeliverable = models.BooleanField(default=False)
    # Whether the address is known to belong to this customer: mail came from it, or someone opened
    # a link we mailed to it (portal sign-in, confirmation). An address typed into the web form or a
    # chat, or added by an agent, is only claimed until then: agents see it marked, and it opens the
    # portal only as the address the file was started with (customers/services.py, may_sign_in).
    verified = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "value"], name="identity_unique_value")]
        ordering = ["kind", "id"]
        verbose_name_plural = "identities"

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


class CustomerNote(models.Model):
    """An agent's note on a customer's file; customers never see it."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="agent_notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["customer", "-created_at", "-id"], name="customer_note_file")]

    def __str__(self) -> str:
        return f"note on customer {self.customer_id}"


class CustomerChange(models.Model):
    """One row of a customer file's history: who changed which field, when, from what to what."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="changes")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    field = models.CharField(max_length=50)
    old_value = models.TextField(blank=True)
    new_value = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["customer", "-created_at", "-id"], name="customer_change_file")]

    def __str__(self) -> str:
        return f"customer {self.customer_id} {self.field}: {self.old_value!r} → {self.new_value!r}"


class CustomerMerge(models.Model):
    """A merge of `duplicate` into `survivor`, with exactly what moved, so that it can be undone.

    `moved` holds the ids of every row that changed hands (tickets, entries written by the
    duplicate, identities, notes, history rows, surveys, chat sessions) and the fields the survivor
    took over; undoing moves those back and nothing else, so tickets that reached the survivor
    after the merge stay where they are.
    """

    survivor = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="merges")
    duplicate = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="merged_away")
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    merged_at = models.DateTimeField(default=timezone.now)
    moved = models.JSONField(default=dict)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-merged_at", "-id"]

    def __str__(self) -> str:
        return f"customer {self.duplicate_id} merged into {self.survivor_id}"


def _new_secret() -> str:
    import secrets

    return secrets.token_urlsafe(32)


class Integration(models.Model):
    """An outside system (a shop, a billing system) whose data about a customer is shown on the
    customer's page: Sportello POSTs the customer's identities to `url`, signed with `secret`, and
    shows the JSON that comes back (customers/integrations.py documents both)."""

    name = models.CharField(max_length=100, help_text="The panel's title, e.g. “Shop orders”")
    url = models.URLField(max_length=500, help_text="An https:// address that answers with JSON")
    secret = models.CharField(
        max_length=200, default=_new_secret, help_text="Signs every call (X-Sportello-Signature, HMAC-SHA256)"
    )
    enabled = models.BooleanField(default=True)
    timeout_seconds = models.PositiveSmallIntegerField(default=3, help_text="At most 10")
    cache_seconds = models.PositiveIntegerField(default=300, help_text="How long an answer is reused")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name
