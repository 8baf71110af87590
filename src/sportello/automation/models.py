"""Automation: triggers (event + conditions + actions), time rules, macros.

Conditions and actions are stored as small JSON lists whose shape the services validate
(`conditions.validate_conditions`, `actions.validate_actions`), so admins edit them in the UI,
the API and Django's admin alike without a table per kind.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TriggerEvent(models.TextChoices):
    TICKET_CREATED = "ticket_created", _("Ticket created")
    CUSTOMER_REPLIED = "customer_replied", _("Customer replied")
    AGENT_REPLIED = "agent_replied", _("Agent replied")
    NOTE_ADDED = "note_added", _("Internal note added")
    STATUS_CHANGED = "status_changed", _("Status changed")
    ASSIGNED = "assigned", _("Assigned")
    SLA_WARNING = "sla_warning", _("SLA target about to be breached")
    SLA_BREACHED = "sla_breached", _("SLA target breached")
    CSAT_BAD = "csat_bad", _("Customer rated the ticket bad")


class Match(models.TextChoices):
    ALL = "all", _("All conditions")
    ANY = "any", _("Any condition")


# A version of the triggers in the cache, bumped by every save and delete: each process keeps which
# trigger events have a trigger (automation.services.listening_trigger_events) until it changes.
TRIGGERS_VERSION_KEY = "sportello:triggers-version"


def bump_triggers_version() -> str:
    import uuid

    from django.core.cache import cache

    version = uuid.uuid4().hex
    cache.set(TRIGGERS_VERSION_KEY, version, timeout=None)
    return version


class Trigger(models.Model):
    """When <event> and <all/any conditions> then <actions>; triggers run in `position` order."""

    name = models.CharField(max_length=120, unique=True)
    event = models.CharField(max_length=20, choices=TriggerEvent.choices)
    match = models.CharField(max_length=3, choices=Match.choices, default=Match.ALL)
    conditions = models.JSONField(default=list, blank=True)
    actions = models.JSONField(default=list)
    position = models.PositiveIntegerField(default=100)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["event", "active", "position"], name="trigger_event")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        transaction.on_commit(bump_triggers_version)
        bump_triggers_version()

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        deleted = super().delete(*args, **kwargs)
        transaction.on_commit(bump_triggers_version)
        bump_triggers_version()
        return deleted


class TriggerRun(models.Model):
    """One firing of a trigger on a ticket for one event; the unique key makes a repeat a no-op."""

    trigger = models.ForeignKey(Trigger, on_delete=models.CASCADE, related_name="runs")
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="+")
    event_key = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    outcome = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["trigger", "ticket", "event_key"], name="trigger_run_once"),
        ]

    def __str__(self) -> str:
        return f"{self.trigger_id} on ticket {self.ticket_id} ({self.event_key})"


class TimeRule(models.Model):
    """A condition over time (e.g. Pending for 7 days) checked by the scheduler every few minutes.

    `hours` is measured from `since`: the ticket's last status change, its last update, or its
    creation. A rule acts once per ticket per period: the period is identified by the instant it
    is measured from, so a ticket that changes status starts a new period.
    """

    class Since(models.TextChoices):
        STATUS_CHANGED = "status_changed", _("Last status change")
        UPDATED = "updated", _("Last update")
        CREATED = "created", _("Creation")

    name = models.CharField(max_length=120, unique=True)
    since = models.CharField(max_length=20, choices=Since.choices, default=Since.STATUS_CHANGED)
    hours = models.PositiveIntegerField(help_text="Act when this many hours have passed")
    conditions = models.JSONField(default=list, blank=True)
    actions = models.JSONField(default=list)
    position = models.PositiveIntegerField(default=100)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class TimeRuleRun(models.Model):
    rule = models.ForeignKey(TimeRule, on_delete=models.CASCADE, related_name="runs")
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="+")
    period_start = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    outcome = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "ticket", "period_start"], name="time_rule_run_once"),
        ]

    def __str__(self) -> str:
        return f"{self.rule_id} on ticket {self.ticket_id} ({self.period_start:%Y-%m-%d %H:%M})"


class Macro(models.Model):
    """A canned response with placeholders, and field changes applied in the same click.

    Shared when `owner` is empty, personal otherwise (only its owner sees and uses it).
    """

    name = models.CharField(max_length=120)
    body = models.TextField(blank=True, help_text="Placeholders: {{ customer.first_name }}, {{ ticket.number }} …")
    actions = models.JSONField(default=list, blank=True, help_text="Field changes: set_status, add_tags, …")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="macros"
    )
    active = models.BooleanField(default=True)
    usage_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class WebhookCall(models.Model):
    """An outgoing webhook of a trigger: kept so that a failed one shows, with its attempts."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        RETRYING = "retrying", _("Retrying")
        FAILED = "failed", _("Failed")
        SENDING = "sending", _("Sending")

    trigger = models.ForeignKey(Trigger, null=True, on_delete=models.SET_NULL, related_name="webhook_calls")
    ticket = models.ForeignKey("tickets.Ticket", null=True, on_delete=models.SET_NULL, related_name="+")
    url = models.URLField(max_length=500)
    # The signing secret of the action that made this call (the rule may change meanwhile).
    secret = models.CharField(max_length=200, blank=True)
    payload = models.JSONField(default=dict)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.url} ({self.state})"


# --- Automatic assignment ----------------------------------------------------------------------------


class AssignmentMethod(models.TextChoices):
    NONE = "none", _("No automatic assignment")
    ROUND_ROBIN = "round_robin", _("Round-robin")
    LEAST_LOAD = "least_load", _("Fewest open tickets")
    SKILLS = "skills", _("Best skill and language match, then fewest open tickets")


class GroupAssignment(models.Model):
    """How a group hands out its unassigned tickets, chosen by admins.

    The row is also the group's assignment lock: whoever assigns a ticket of the group holds it
    (`select_for_update`), so `last_agent`, round-robin's pointer, moves one step at a time.
    """

    group = models.OneToOneField("accounts.Group", on_delete=models.CASCADE, related_name="assignment")
    method = models.CharField(max_length=20, choices=AssignmentMethod.choices, default=AssignmentMethod.NONE)
    default_capacity = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most open tickets an agent may hold; empty: no limit"
    )
    last_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.group}: {self.get_method_display()}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        transaction.on_commit(bump_assignment_version)
        bump_assignment_version()

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        deleted = super().delete(*args, **kwargs)
        transaction.on_commit(bump_assignment_version)
        bump_assignment_version()
        return deleted


# As TRIGGERS_VERSION_KEY, for whether some group hands out its tickets (automation.assignment.on_event).
ASSIGNMENT_VERSION_KEY = "sportello:assignment-version"


def bump_assignment_version() -> str:
    import uuid

    from django.core.cache import cache

    version = uuid.uuid4().hex
    cache.set(ASSIGNMENT_VERSION_KEY, version, timeout=None)
    return version


class Skill(models.Model):
    """Something a ticket may need and an agent may have; tickets need it by category or tag."""

    name = models.CharField(max_length=80, unique=True)
    categories = models.ManyToManyField("tickets.Category", blank=True, related_name="skills")
    tags = models.ManyToManyField("tickets.Tag", blank=True, related_name="skills")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AgentSkill(models.Model):
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_skills")
    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="agents")
    level = models.PositiveSmallIntegerField(null=True, blank=True, help_text="1 (basic) to 5 (expert); empty: 1")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["agent", "skill"], name="agent_skill_once")]

    def __str__(self) -> str:
        return f"{self.agent} · {self.skill}"


class AgentProfile(models.Model):
    """What assignment knows of an agent besides skills: the languages spoken, and a capacity."""

    agent = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignment_profile")
    # Language codes ("it", "de", "pt-br"), lower case; a ticket in "de-AT" matches "de".
    languages = models.JSONField(default=list, blank=True)
    max_open_tickets = models.PositiveIntegerField(
        null=True, blank=True, help_text="Overrides the group's default capacity for this agent"
    )

    def __str__(self) -> str:
        return f"{self.agent}"
