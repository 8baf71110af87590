"""Auto-triage: the admin's settings, the models trained on the installation's history, and
every suggestion made with what became of it (accepted, applied, dismissed)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Target(models.TextChoices):
    GROUP = "group", _("Group")
    CATEGORY = "category", _("Ticket type")
    PRIORITY = "priority", _("Priority")
    LANGUAGE = "language", _("Language")
    TAGS = "tags", _("Tags")


class Mode(models.TextChoices):
    OFF = "off", _("Off")
    SUGGEST = "suggest", _("Suggest to agents")
    APPLY = "apply", _("Apply")


def _mode() -> models.CharField:  # type: ignore[type-arg]
    return models.CharField(_("mode"), max_length=10, choices=Mode.choices, default=Mode.OFF)


def _threshold() -> models.PositiveSmallIntegerField:  # type: ignore[type-arg]
    return models.PositiveSmallIntegerField(
        _("confidence threshold (%)"),
        default=80,
        help_text=_("Predictions less sure than this are neither shown nor applied"),
    )


class TriageSettings(models.Model):
    """The one row (pk 1) of auto-triage settings: per target a mode and a threshold."""

    group_mode = _mode()
    group_threshold = _threshold()
    category_mode = _mode()
    category_threshold = _threshold()
    priority_mode = _mode()
    priority_threshold = _threshold()
    language_mode = _mode()
    language_threshold = _threshold()
    tags_mode = _mode()
    tags_threshold = _threshold()
    retrain_days = models.PositiveSmallIntegerField(
        _("retrain every (days)"),
        default=7,
        help_text=_("The models learn from the latest tickets on this schedule once trained; 0: only on demand"),
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "triage settings"

    def __str__(self) -> str:
        return "auto-triage settings"

    @classmethod
    def current(cls) -> TriageSettings:
        row, _created = cls.objects.get_or_create(pk=1)
        return row

    def mode(self, target: str) -> str:
        return str(getattr(self, f"{target}_mode"))

    def threshold(self, target: str) -> float:
        """The threshold as a probability (0..1)."""
        return float(getattr(self, f"{target}_threshold")) / 100

    def any_on(self) -> bool:
        return any(self.mode(target) != Mode.OFF for target in Target.values)


class TrainedModel(models.Model):
    """One training of one target: the model's bytes and its measured quality, or the reason
    it was refused (too little history). Only the newest model of a target keeps its bytes."""

    target = models.CharField(max_length=10, choices=Target.choices)
    version = models.PositiveIntegerField(default=1)  # counts this target's trainings
    trained_at = models.DateTimeField(default=timezone.now)
    library = models.CharField(max_length=60, blank=True)  # the scikit-learn that pickled it
    blob = models.BinaryField(blank=True, default=b"")
    refused = models.TextField(blank=True)
    trained_on = models.PositiveIntegerField(default=0)
    evaluated_on = models.PositiveIntegerField(default=0)
    accuracy = models.FloatField(null=True, blank=True)
    baseline = models.FloatField(null=True, blank=True)
    macro_f1 = models.FloatField(null=True, blank=True)
    baseline_macro_f1 = models.FloatField(null=True, blank=True)
    classes = models.JSONField(default=list, blank=True)
    seconds = models.FloatField(default=0)

    class Meta:
        ordering = ["-trained_at", "-id"]
        indexes = [models.Index(fields=["target", "-trained_at"], name="triage_model_target")]

    def __str__(self) -> str:
        return f"{self.target} model v{self.version}"

    @property
    def usable(self) -> bool:
        return not self.refused and self.accuracy is not None

    @property
    def accuracy_percent(self) -> float:
        return 100 * (self.accuracy or 0)

    @property
    def baseline_percent(self) -> float:
        return 100 * (self.baseline or 0)


class SuggestionState(models.TextChoices):
    SHOWN = "shown", _("Shown to agents")
    BELOW = "below", _("Below the threshold")
    AGREED = "agreed", _("Already so")
    ACCEPTED = "accepted", _("Accepted by an agent")
    DISMISSED = "dismissed", _("Dismissed by an agent")
    APPLIED = "applied", _("Applied by triage")


class Suggestion(models.Model):
    """What triage predicted for one field of a new ticket, and what became of it (the
    acceptance rate's rows). One per ticket and target: a redelivered event finds it."""

    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="triage_suggestions")
    target = models.CharField(max_length=10, choices=Target.choices)
    value = models.CharField(max_length=255)  # a group's or category's id, a priority, a language, tags
    label = models.CharField(max_length=255)  # the value as agents read it when it was made
    confidence = models.FloatField()
    model = models.ForeignKey(TrainedModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    mode = models.CharField(max_length=10, choices=Mode.choices)
    state = models.CharField(max_length=10, choices=SuggestionState.choices)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["ticket", "target"], name="triage_one_suggestion")]
        indexes = [models.Index(fields=["target", "created_at"], name="triage_suggestion_made")]

    def __str__(self) -> str:
        return f"#{self.ticket_id} {self.target}: {self.label} ({self.confidence:.0%}, {self.state})"

    @property
    def percent(self) -> int:
        return round(self.confidence * 100)

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "value": self.value, "label": self.label, "confidence": self.confidence}
