"""Custom fields: properties an admin adds to tickets, customers or organizations.

A definition says what a field is (its key, label, type, choices); the values live on the
objects themselves, in their `custom_fields` JSON column, by key. fields/services.py checks
every value written against the definitions.
"""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# Lower-case words joined by single underscores: safe as a JSON key, a query parameter
# (`cf_<key>`) and a JSON path, and never Django's `__` lookup separator.
KEY_PATTERN = r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$"
validate_key = RegexValidator(
    KEY_PATTERN, _("Lower-case letters, digits and single underscores, starting with a letter (order_number).")
)


class FieldType(models.TextChoices):
    TEXT = "text", _("Text")
    NUMBER = "number", _("Number")
    DATE = "date", _("Date")
    CHOICE = "choice", _("Choice")
    MULTICHOICE = "multichoice", _("Multiple choice")
    CHECKBOX = "checkbox", _("Checkbox")


class FieldTarget(models.TextChoices):
    TICKET = "ticket", _("Tickets")
    CUSTOMER = "customer", _("Customers")
    ORGANIZATION = "organization", _("Organizations")


class CustomField(models.Model):
    target = models.CharField(max_length=20, choices=FieldTarget.choices)
    key = models.CharField(max_length=40, validators=[validate_key], help_text=_("Used in the API, e.g. order_number"))
    label = models.CharField(max_length=100)
    type = models.CharField(max_length=20, choices=FieldType.choices)
    # The options of a choice or multiple-choice field, in the order they are offered.
    choices = models.JSONField(default=list, blank=True)
    required = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(default=100)
    # An inactive field is hidden from forms, filters and the API; its values stay stored.
    active = models.BooleanField(default=True)
    help_text = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["target", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["target", "key"], name="custom_field_unique_key")]

    def __str__(self) -> str:
        return f"{self.label} ({self.target})"
