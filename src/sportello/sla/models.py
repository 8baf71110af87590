"""SLA data: business-hours calendars, policies with targets, and each ticket's clocks.

Policies and calendars are edited by admins (Django admin and the API). `TicketSLA` holds one
ticket's due times, kept up to date by the listeners in `sla.services`; its indexed columns
`next_due` and `next_alert_at` make "breaching within 1 h", "breached" and the breach sweep one
index range scan each.
"""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import Group
from sportello.customers.models import Organization
from sportello.sla.business_time import MINUTES_PER_DAY, CalendarSpec
from sportello.tickets.models import Channel, Priority, Tag, Ticket


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class Calendar(models.Model):
    """Business hours: weekly intervals in a time zone, minus holidays."""

    name = models.CharField(max_length=100, unique=True)
    time_zone = models.CharField(max_length=64, default="Europe/Rome")
    holiday_countries = models.CharField(
        max_length=200,
        blank=True,
        help_text="Public holidays of these countries, comma-separated ISO codes with an optional "
        "subdivision: IT, DE-BY, BG",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        try:
            CalendarSpec(time_zone=self.time_zone)
        except ValueError as exc:
            raise ValidationError({"time_zone": str(exc)}) from exc
        try:
            parse_countries(self.holiday_countries)
        except ValueError as exc:
            raise ValidationError({"holiday_countries": str(exc)}) from exc

    def spec(self) -> CalendarSpec:
        """The plain value the business-time arithmetic works on (reads intervals and holidays)."""
        days: list[list[tuple[int, int]]] = [[] for _ in range(7)]
        for interval in self.intervals.all():
            days[interval.weekday].append(interval.minutes())
        single: set[date] = set()
        yearly: set[tuple[int, int]] = set()
        for holiday in self.holidays.all():
            if holiday.yearly:
                yearly.add((holiday.date.month, holiday.date.day))
            else:
                single.add(holiday.date)
        return CalendarSpec(
            time_zone=self.time_zone,
            week=tuple(tuple(_merge(sorted(day))) for day in days),
            holidays=frozenset(single),
            yearly=frozenset(yearly),
            countries=parse_countries(self.holiday_countries),
        )


def _merge(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping or touching intervals of one day as one."""
    merged: list[tuple[int, int]] = []
    for start, end in intervals:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def parse_countries(value: str) -> tuple[tuple[str, str], ...]:
    """ "IT, DE-BY" → (("IT", ""), ("DE", "BY")); raises ValueError for a country `holidays` lacks."""
    import holidays

    supported = holidays.list_supported_countries()
    found = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        country, _, subdivision = item.upper().partition("-")
        if country not in supported:
            raise ValueError(f"Unknown holiday country {country!r}")
        if subdivision and subdivision not in supported[country]:
            raise ValueError(f"Unknown subdivision {subdivision!r} of {country}")
        found.append((country, subdivision))
    return tuple(found)


class CalendarInterval(models.Model):
    """Open hours of one weekday; a day may have several. An end of 00:00 means midnight."""

    calendar = models.ForeignKey(Calendar, on_delete=models.CASCADE, related_name="intervals")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start = models.TimeField()
    end = models.TimeField(help_text="00:00 means the end of the day")

    class Meta:
        ordering = ["weekday", "start"]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}-{self.end:%H:%M}"

    def minutes(self) -> tuple[int, int]:
        start = self.start.hour * 60 + self.start.minute
        end = self.end.hour * 60 + self.end.minute
        return start, end or MINUTES_PER_DAY

    def clean(self) -> None:
        start, end = self.minutes()
        if start >= end:
            raise ValidationError("The interval must end after it starts (00:00 as end means midnight)")


class Holiday(models.Model):
    """A closing day of a calendar: one date, or the same day every year."""

    calendar = models.ForeignKey(Calendar, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField()
    name = models.CharField(max_length=100, blank=True)
    yearly = models.BooleanField(default=False, help_text="Closed on this day and month every year")

    class Meta:
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.name}".strip()


class Policy(models.Model):
    """Which tickets a set of targets applies to. The first active policy (by position) that
    matches a ticket applies; an empty condition matches every ticket."""

    name = models.CharField(max_length=100, unique=True)
    position = models.PositiveIntegerField(default=100)
    active = models.BooleanField(default=True)
    calendar = models.ForeignKey(
        Calendar, null=True, blank=True, on_delete=models.PROTECT, related_name="policies", help_text="Empty: 24/7"
    )
    # Conditions: a ticket matches when it meets every non-empty one.
    priorities = models.JSONField(default=list, blank=True, help_text="Priority values (1-4); empty: any")
    channels = models.JSONField(default=list, blank=True, help_text="Channel names; empty: any")
    tiers = models.JSONField(default=list, blank=True, help_text="Tiers of the ticket's group; empty: any")
    groups = models.ManyToManyField(Group, blank=True, related_name="+")
    organizations = models.ManyToManyField(Organization, blank=True, related_name="+")
    tags = models.ManyToManyField(Tag, blank=True, related_name="+", help_text="The ticket has any of these")
    warning_minutes = models.PositiveIntegerField(default=60, help_text="Warn this many minutes before a breach")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position", "id"]
        verbose_name_plural = "policies"

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        for name, allowed in (("priorities", Priority.values), ("channels", Channel.values)):
            value = getattr(self, name)
            if not isinstance(value, list) or any(item not in allowed for item in value):
                raise ValidationError({name: f"A list of: {', '.join(map(str, allowed))}"})
        if not isinstance(self.tiers, list) or any(not isinstance(t, int) or t < 1 for t in self.tiers):
            raise ValidationError({"tiers": "A list of tier numbers (1, 2, 3…)"})


class Target(models.Model):
    """A policy's targets for one priority, in business minutes; empty means no target."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="targets")
    priority = models.PositiveSmallIntegerField(choices=Priority.choices)
    first_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    next_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    resolution_minutes = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["policy", "-priority"]
        constraints = [models.UniqueConstraint(fields=["policy", "priority"], name="sla_target_policy_priority")]

    def __str__(self) -> str:
        return f"{self.policy}: {self.get_priority_display()}"


class Alert(models.IntegerChoices):
    """How far the events of one target's current cycle went."""

    NONE = 0, "None"
    WARNED = 1, "Warned"
    BREACHED = 2, "Breached"


class TicketSLA(models.Model):
    """One ticket's SLA clocks. Due times are in UTC; a null due time means no target or no clock.

    While the ticket is paused (pending, on hold, solved, closed) `paused_at` is set and the
    clocks stand still; on resume each unmet due time moves later by the business time paused.
    """

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, primary_key=True, related_name="sla")
    policy = models.ForeignKey(Policy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The targets applied (a snapshot: a changed policy is noticed and the dues recomputed).
    first_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    next_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    resolution_minutes = models.PositiveIntegerField(null=True, blank=True)
    warning_minutes = models.PositiveIntegerField(default=60)

    first_response_due = models.DateTimeField(null=True, blank=True)
    next_response_due = models.DateTimeField(null=True, blank=True)
    resolution_due = models.DateTimeField(null=True, blank=True)
    # The customer message that waits for a reply (after the first response); null when none waits.
    next_response_started_at = models.DateTimeField(null=True, blank=True)

    first_response_breached = models.BooleanField(default=False)
    next_response_breached = models.BooleanField(default=False)
    resolution_breached = models.BooleanField(default=False)
    first_response_alert = models.PositiveSmallIntegerField(choices=Alert.choices, default=Alert.NONE)
    next_response_alert = models.PositiveSmallIntegerField(choices=Alert.choices, default=Alert.NONE)
    resolution_alert = models.PositiveSmallIntegerField(choices=Alert.choices, default=Alert.NONE)

    paused_at = models.DateTimeField(null=True, blank=True)
    # Business time paused in total, and since the waiting customer message (for recomputing dues).
    paused_seconds = models.PositiveBigIntegerField(default=0)
    next_response_paused_seconds = models.PositiveBigIntegerField(default=0)

    # The earliest unmet due time while the clocks run: "breached" is next_due < now.
    next_due = models.DateTimeField(null=True, blank=True)
    # When the sweep must next look at this ticket (a warning or a breach is due); null: never.
    next_alert_at = models.DateTimeField(null=True, blank=True)
    # The ticket version these clocks were computed from: later events of the same version skip.
    ticket_version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "ticket SLA"
        verbose_name_plural = "ticket SLAs"
        indexes = [
            models.Index(fields=["next_due"], name="sla_ticket_next_due"),
            models.Index(fields=["next_alert_at"], name="sla_ticket_next_alert"),
        ]

    def __str__(self) -> str:
        return f"SLA of ticket {self.ticket_id}"
