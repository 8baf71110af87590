"""What reports read instead of tickets and entries: facts kept up to date by events.

- `TicketFact`: one row per ticket with everything the reports group and filter by and the
  durations they measure (first response and resolution, in calendar and business seconds).
- `Activity`: one row per thing an agent (or a customer, for reopens) did on a ticket that reports
  count per person and day: a public reply, an internal note, a solve, a reopen, a chat accepted.
- `BacklogDay`: how many tickets were open at the end of each day, by status category, group,
  channel, priority and category (a small roll-up a scheduled job keeps, rebuilt from history).

`reports.facts` computes facts and activity for a batch of tickets from the tickets as they are
(idempotent: a second delivery of an event writes the same rows); it is the outbox listener of the
ticket events and the worker of `sportello reports rebuild`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from sportello.accounts.models import Group
from sportello.customers.models import Customer, Organization
from sportello.sla.models import Policy
from sportello.tickets.models import Category, Tag, Ticket


class SlaOutcome(models.TextChoices):
    NONE = "", "No target"
    OPEN = "open", "Not decided yet"
    MET = "met", "Met"
    BREACHED = "breached", "Breached"


def _ref(model: type[models.Model] | str) -> models.ForeignKey[Any, Any]:
    """A reference that a deleted row does not block: the facts are refreshed on the next event."""
    return models.ForeignKey(
        model, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )


# The columns reports filter the facts by.
FILTERED = ["merged", "group", "assignee", "channel", "priority", "category"]
FIRST_RESPONSE = ["first_response_seconds", "first_response_business_seconds"]


class TicketFact(models.Model):
    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, primary_key=True, related_name="fact")
    number = models.BigIntegerField()
    created_at = models.DateTimeField()
    channel = models.CharField(max_length=10)
    state = models.CharField(max_length=10)
    priority = models.PositiveSmallIntegerField()
    group = _ref(Group)
    assignee = _ref(settings.AUTH_USER_MODEL)
    category = _ref(Category)
    customer = _ref(Customer)
    organization = _ref(Organization)
    # The domain of the customer's first e-mail address ("" without one): "senders" in reports.
    sender_domain = models.CharField(max_length=200, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    # The LAST solve: a reopened ticket is measured to the solve that ended it (null while open).
    solved_at = models.DateTimeField(null=True, blank=True)
    reopens = models.PositiveIntegerField(default=0)
    replies = models.PositiveIntegerField(default=0)  # public agent messages
    notes = models.PositiveIntegerField(default=0)  # internal notes
    first_response_seconds = models.BigIntegerField(null=True, blank=True)
    first_response_business_seconds = models.BigIntegerField(null=True, blank=True)
    resolution_seconds = models.BigIntegerField(null=True, blank=True)
    resolution_business_seconds = models.BigIntegerField(null=True, blank=True)
    # Solved with one public reply and never reopened.
    one_touch = models.BooleanField(default=False)
    time_spent = models.PositiveIntegerField(default=0)  # minutes tracked on its entries
    sla_policy = _ref(Policy)
    sla_first_response = models.CharField(max_length=8, choices=SlaOutcome.choices, blank=True, default="")
    sla_next_response = models.CharField(max_length=8, choices=SlaOutcome.choices, blank=True, default="")
    sla_resolution = models.CharField(max_length=8, choices=SlaOutcome.choices, blank=True, default="")
    # Merged into another ticket: its thread is counted there, the ticket itself nowhere.
    merged = models.BooleanField(default=False)
    version = models.PositiveIntegerField(default=0)  # the ticket version these facts were computed from
    # The ticket's tags (ids, ascending) when these facts were computed: what the roll-up's tag
    # grains counted it under, so that a change of tags moves the right rows.
    tags = models.JSONField(default=list, blank=True)
    # The ticket's custom field values when these facts were computed (what a text, number or date
    # filter reads; a GIN index on PostgreSQL), and its options of the choice, multiple-choice and
    # checkbox fields as "key=value" texts, sorted ("product=Widget", "urgent=yes"): what the
    # roll-up's field grains counted it under (`reports.rollup.field_values`).
    custom_fields = models.JSONField(default=dict, blank=True)
    field_values = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # Covering (PostgreSQL): the percentiles of response times read the index alone.
            models.Index(
                fields=["created_at"],
                name="fact_created_cover",
                include=[*FILTERED, "customer", "organization", "sender_domain", *FIRST_RESPONSE],
            ),
            models.Index(
                fields=["solved_at"],
                name="fact_solved_cover",
                condition=models.Q(solved_at__isnull=False),
                include=[*FILTERED, "resolution_seconds", "resolution_business_seconds", "replies", "one_touch"],
            ),
            models.Index(fields=["group", "created_at"], name="fact_group_created"),
            models.Index(fields=["state", "group"], name="fact_state_group"),
        ]

    def __str__(self) -> str:
        return f"Facts of #{self.number}"


class ActivityKind(models.TextChoices):
    REPLY = "reply", "Public reply"
    NOTE = "note", "Internal note"
    SOLVE = "solve", "Solved"
    REOPEN = "reopen", "Reopened"
    CHAT = "chat", "Chat accepted"


class Activity(models.Model):
    fact = models.ForeignKey(TicketFact, on_delete=models.CASCADE, related_name="activities")
    kind = models.CharField(max_length=8, choices=ActivityKind.choices)
    # Who did it: the agent (null for a customer's reopen or the system).
    agent = _ref(settings.AUTH_USER_MODEL)
    at = models.DateTimeField()
    time_spent = models.PositiveIntegerField(default=0)  # minutes logged on this entry

    class Meta:
        verbose_name_plural = "activities"
        indexes = [
            models.Index(fields=["kind", "at"], name="activity_kind_at"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} on {self.fact_id} at {self.at:%Y-%m-%d %H:%M}"


class BacklogDay(models.Model):
    """Open tickets at the end of `day` (site time zone) with these attributes."""

    day = models.DateField()
    state = models.CharField(max_length=10)
    group = _ref(Group)
    channel = models.CharField(max_length=10)
    priority = models.PositiveSmallIntegerField()
    category = _ref(Category)
    count = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["day"], name="backlog_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.state}: {self.count}"


class BacklogSlice(models.Model):
    """Open tickets at the end of `day` (site time zone) per status category and group under one filter
    value: an assignee ("agent", its id), an organization (its id), a tag (its id) or a custom field
    option ("field", "key=value"). Kept by reports/backlog.py as BacklogDay is; the row of kind
    "rebuilt" marks that the rebuild has written them (until then reports read the history)."""

    day = models.DateField()
    state = models.CharField(max_length=10)
    group = _ref(Group)
    kind = models.CharField(max_length=12)
    value = models.CharField(max_length=200)
    count = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["kind", "value", "day"], name="backlog_slice_value_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.kind}={self.value} {self.state}: {self.count}"


class ReportDaily(models.Model):
    """The facts rolled up per day (site time zone) and grain: what the metric reports add up.

    A grain names the dimensions a row is keyed by ("" all tickets, "group", "group+assignee", …;
    `reports.rollup.GRAINS`); the dimensions outside the grain are null, a null inside it means "none"
    (no group, nobody assigned). Ticket grains count tickets by the day they were created (created,
    SLA outcomes), last solved (solved, one-touch, replies of those) and reopened; actor grains
    count agent activity (replies, notes, chats, minutes logged) by the day and the agent who acted.
    Kept by `reports.rollup.apply` in the facts' own transaction; `sportello reports rebuild` redoes it.
    """

    day = models.DateField()
    grain = models.CharField(max_length=40)
    group = _ref(Group)
    assignee = _ref(settings.AUTH_USER_MODEL)
    actor = _ref(settings.AUTH_USER_MODEL)
    channel = models.CharField(max_length=10, null=True, blank=True)
    priority = models.PositiveSmallIntegerField(null=True, blank=True)
    category = _ref(Category)
    sla_policy = _ref(Policy)
    tag = _ref(Tag)  # tag grains: a ticket counts under each of its tags
    organization = _ref(Organization)  # the organization of the ticket's customer
    # Field grains: an option of a ticket custom field, "key=value" (a ticket counts under each).
    field_value = models.CharField(max_length=200, null=True, blank=True)
    created = models.IntegerField(default=0)
    solved = models.IntegerField(default=0)
    reopened = models.IntegerField(default=0)
    one_touch = models.IntegerField(default=0)  # of the solved
    solved_replies = models.IntegerField(default=0)  # public replies of the solved, summed
    first_response_met = models.IntegerField(default=0)  # SLA outcomes of the created
    first_response_breached = models.IntegerField(default=0)
    next_response_met = models.IntegerField(default=0)
    next_response_breached = models.IntegerField(default=0)
    resolution_met = models.IntegerField(default=0)
    resolution_breached = models.IntegerField(default=0)
    replies = models.IntegerField(default=0)  # actor grains: activity of that day
    notes = models.IntegerField(default=0)
    chats = models.IntegerField(default=0)
    handle_minutes = models.IntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["grain", "day"], name="daily_grain_day"),
            # One organization's or one option's rows, not every row of their grain in the period.
            models.Index(
                fields=["organization", "grain", "day"],
                name="daily_organization",
                condition=models.Q(organization__isnull=False),
            ),
            models.Index(
                fields=["field_value", "grain", "day"],
                name="daily_field_value",
                condition=models.Q(field_value__isnull=False),
            ),
        ]
        # One row per key, a null equal to a null: `reports.rollup.apply` adds to the rows in one
        # upsert on PostgreSQL (SQLite has no NULLS NOT DISTINCT: it goes without, read and rewrite).
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "day",
                    "grain",
                    "group",
                    "assignee",
                    "actor",
                    "channel",
                    "priority",
                    "category",
                    "sla_policy",
                    "tag",
                    "organization",
                    "field_value",
                ],
                name="daily_key",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.grain or 'all'}"


class ResponseHistogram(models.Model):
    """How many tickets took how long, per day (site time zone), grain and duration: the medians and
    90th percentiles of the response-times report without sorting the facts.

    `measure` is one of `reports.rollup.HISTOGRAM_MEASURES` (first response and resolution, business
    and calendar seconds); first responses count on the day the ticket was created, resolutions on
    the day of its last solve. `bucket` indexes `reports.rollup.EDGES`: one bucket per second below
    64 s (exact), then buckets 4% wide, so a percentile read from them is within 2% of the exact one.
    The dimensions outside the grain are 0 (or ""), and so is "none" inside it (no group, nobody
    assigned): the key holds no null, so a delta is one upsert. Kept with `ReportDaily`, in the same
    transaction (`reports.rollup.apply`); `sportello reports rebuild` redoes it.
    """

    day = models.DateField()
    grain = models.CharField(max_length=40)
    group_id = models.BigIntegerField(default=0)
    assignee_id = models.BigIntegerField(default=0)
    channel = models.CharField(max_length=10, default="")
    priority = models.PositiveSmallIntegerField(default=0)
    category_id = models.BigIntegerField(default=0)
    # The tag, organization and field grains (a ticket counts under each of its tags and options,
    # under its customer's organization, in none of them without one), as in `ReportDaily`.
    tag_id = models.BigIntegerField(default=0)
    organization_id = models.BigIntegerField(default=0)
    field_value = models.CharField(max_length=200, default="")
    measure = models.PositiveSmallIntegerField()
    bucket = models.PositiveSmallIntegerField()
    tickets = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "grain", "day", "group_id", "assignee_id", "channel", "priority", "category_id", "tag_id",
                    "organization_id", "field_value", "measure", "bucket",
                ],
                name="histogram_key",
            )
        ]  # fmt: skip
        indexes = [
            # The rows an update brought to zero, deleted right after it (almost always none).
            models.Index(fields=["day"], name="histogram_emptied", condition=models.Q(tickets=0)),
            # Covering (PostgreSQL): a report's read, a grain over a range of days, stays in the index.
            models.Index(
                fields=["grain", "day"],
                name="histogram_read",
                include=[
                    "group_id",
                    "assignee_id",
                    "channel",
                    "priority",
                    "category_id",
                    "measure",
                    "bucket",
                    "tickets",
                ],
            ),
            # One tag's, organization's or option's rows (covering), not every row of their grain.
            models.Index(
                fields=["tag_id", "grain", "day"],
                name="histogram_tag",
                condition=models.Q(tag_id__gt=0),
                include=["group_id", "assignee_id", "measure", "bucket", "tickets"],
            ),
            models.Index(
                fields=["organization_id", "grain", "day"],
                name="histogram_organization",
                condition=models.Q(organization_id__gt=0),
                include=["group_id", "assignee_id", "measure", "bucket", "tickets"],
            ),
            models.Index(
                fields=["field_value", "grain", "day"],
                name="histogram_field_value",
                condition=models.Q(field_value__gt=""),
                include=["group_id", "assignee_id", "measure", "bucket", "tickets"],
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.grain or 'all'} measure {self.measure} bucket {self.bucket}: {self.tickets}"


class TicketCount(models.Model):
    """How many tickets are in each status category, per group, assignee (0: none), channel and
    priority, merged ones left out: the live dashboard's open, unassigned and per-agent figures,
    and the agents report's open tickets under a channel or priority filter, exact at any size.

    Kept from the facts, in the transaction that writes them (`reports.rollup.add_counts`, under
    the roll-up's lock), and taken off when a ticket's facts are deleted with it; `sportello reports
    rebuild` recounts them. As current as the facts: the outbox listener's second or so behind.
    """

    state = models.CharField(max_length=10)
    group_id = models.BigIntegerField(default=0)
    assignee_id = models.BigIntegerField(default=0)
    channel = models.CharField(max_length=10, default="")
    priority = models.PositiveSmallIntegerField(default=0)
    tickets = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["state", "group_id", "assignee_id", "channel", "priority"], name="ticket_count_key"
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.state} group {self.group_id} assignee {self.assignee_id} {self.channel} "
            f"priority {self.priority}: {self.tickets}"
        )


class RollupState(models.Model):
    """One row once `ReportDaily` was built: the site time zone its days are in. Reports read the
    roll-up only while it exists and the zone is still the site's and the reader's."""

    time_zone = models.CharField(max_length=64)
    built_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Roll-up in {self.time_zone}, built {self.built_at:%Y-%m-%d %H:%M}"


class AgentAvailability(models.Model):
    """An agent's availability (online, away, offline) from `at` on, as the reports' sampler saw it
    (reports/availability.py, every minute): the agents report's online time."""

    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    availability = models.CharField(max_length=10)
    at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "agent availabilities"
        indexes = [models.Index(fields=["agent", "at"], name="availability_agent_at")]

    def __str__(self) -> str:
        return f"{self.agent_id} {self.availability} from {self.at:%Y-%m-%d %H:%M}"


class Frequency(models.TextChoices):
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"


class ReportSubscription(models.Model):
    """An agent's standing order for a report by mail (reports/subscriptions.py sends it).

    `query` is the report page's query string without its period (filters and granularity): each
    mail covers the last whole week (sent Monday 07:00 in the agent's time zone) or the previous
    month (sent on the 1st). `last_period` is the first day of the last period queued for mail,
    written in the same transaction as its outbox row, so a period is never queued twice.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="report_subscriptions")
    report = models.CharField(max_length=50)  # a slug of frame.REPORTS
    query = models.CharField(max_length=1000, blank=True)
    frequency = models.CharField(max_length=8, choices=Frequency.choices)
    last_period = models.DateField(null=True, blank=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "report", "query", "frequency"], name="report_subscription_once")
        ]

    def __str__(self) -> str:
        return f"{self.report} {self.frequency} for {self.user_id}"
