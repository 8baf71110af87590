"""SLA use cases: which policy applies, each ticket's clocks, the breach sweep, admin writes.

The clocks of a ticket are one `TicketSLA` row, brought up to date by `sync_ticket_sla` whenever
a domain event says the ticket changed (created, message added, fields or status changed, merged).
`sync_ticket_sla` reads the ticket as it is now and reconciles, so it is idempotent and does not
care which event called it or in which order events arrive.

Clocks run from creation (first response, resolution) and from the first customer message that
waits for a reply after an agent's public reply (next response). They stand still while the
ticket's status category is pending, on hold, solved or closed; on resume each unmet due time moves
later by the business time that passed while paused. A public agent reply stops the response
clocks (a note does not); solving stops the resolution clock.
"""

from __future__ import annotations

import logging
import operator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial, reduce
from typing import Any, NamedTuple

from django.core.exceptions import ObjectDoesNotExist
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, Field, Max, Min, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from sportello.core import events
from sportello.core.errors import Conflict, InvalidInput
from sportello.core.ordering import move_among
from sportello.sla.business_time import ALWAYS, CalendarSpec, Timeline
from sportello.sla.models import Alert, Calendar, CalendarInterval, Holiday, Policy, Target, TicketSLA
from sportello.tickets.models import ACTIVE_CATEGORIES, Direction, Entry, StatusCategory, Ticket

log = logging.getLogger("sportello.sla")

PAUSED_STATES = frozenset(
    {StatusCategory.PENDING, StatusCategory.ON_HOLD, StatusCategory.SOLVED, StatusCategory.CLOSED}
)
DONE_STATES = frozenset({StatusCategory.SOLVED, StatusCategory.CLOSED})
TARGETS = ("first_response", "next_response", "resolution")
SWEEP_BATCH = 1000
RESYNC_BATCH = 2000

# Business hours as the clocks use them: a calendar, or its timeline when many tickets are recomputed.
Hours = CalendarSpec | Timeline


# --- Policies -----------------------------------------------------------------------------------------


class Facts(NamedTuple):
    """What policy conditions and clocks read of a ticket: from a `Ticket`, or one row of a batch."""

    pk: int
    version: int
    state: str
    merged_into_id: int | None
    priority: int
    channel: str
    group_id: int | None
    tier: int | None
    organization_id: int | None
    created_at: datetime
    first_response_at: datetime | None
    solved_at: datetime | None


# The ticket columns behind `Facts`, in order, for `values_list`.
FACT_COLUMNS = (
    "pk",
    "version",
    "state",
    "merged_into_id",
    "priority",
    "channel",
    "group_id",
    "group__tier",
    "customer__organization_id",
    "created_at",
    "first_response_at",
    "solved_at",
)


def ticket_facts(ticket: Ticket) -> Facts:
    return Facts(
        pk=ticket.pk,
        version=ticket.version,
        state=ticket.state,
        merged_into_id=ticket.merged_into_id,
        priority=ticket.priority,
        channel=ticket.channel,
        group_id=ticket.group_id,
        tier=ticket.group.tier if ticket.group is not None else None,
        organization_id=ticket.customer.organization_id,
        created_at=ticket.created_at,
        first_response_at=ticket.first_response_at,
        solved_at=ticket.solved_at,
    )


@dataclass(frozen=True)
class Conditions:
    """One policy's conditions as sets, read once when the policies are loaded."""

    policy: Policy
    priorities: frozenset[int]
    channels: frozenset[str]
    tiers: frozenset[int]
    groups: frozenset[int]
    organizations: frozenset[int]
    tags: frozenset[int]

    @classmethod
    def of(cls, policy: Policy) -> Conditions:
        return cls(
            policy=policy,
            priorities=frozenset(policy.priorities),
            channels=frozenset(policy.channels),
            tiers=frozenset(policy.tiers),
            groups=frozenset(group.pk for group in policy.groups.all()),
            organizations=frozenset(organization.pk for organization in policy.organizations.all()),
            tags=frozenset(tag.pk for tag in policy.tags.all()),
        )

    def match(self, ticket: Facts, tag_ids: set[int] | frozenset[int]) -> bool:
        """Every non-empty condition holds (each condition on its own line)."""
        if self.priorities and ticket.priority not in self.priorities:
            return False
        if self.channels and ticket.channel not in self.channels:
            return False
        if self.tiers and ticket.tier not in self.tiers:  # no group: no tier
            return False
        if self.groups and ticket.group_id not in self.groups:
            return False
        if self.organizations and ticket.organization_id not in self.organizations:
            return False
        return not (self.tags and not self.tags & tag_ids)

    def tickets(self) -> Q:
        """The same conditions as a filter on tickets."""
        found = Q()
        if self.priorities:
            found &= Q(priority__in=sorted(self.priorities))
        if self.channels:
            found &= Q(channel__in=sorted(self.channels))
        if self.tiers:
            found &= Q(group__tier__in=sorted(self.tiers))
        if self.groups:
            found &= Q(group_id__in=sorted(self.groups))
        if self.organizations:
            found &= Q(customer__organization_id__in=sorted(self.organizations))
        if self.tags:
            tagged = Ticket.tags.through.objects.filter(ticket_id=OuterRef("pk"), tag_id__in=sorted(self.tags))
            found &= Q(Exists(tagged))
        return found


@dataclass
class _Settings:
    key: tuple[Any, ...] | None = None
    policies: list[Policy] = field(default_factory=list)
    rules: list[Conditions] = field(default_factory=list)
    needs_tags: bool = False
    specs: dict[int, CalendarSpec] = field(default_factory=dict)


# Policies and calendars change rarely and are read on every ticket event: they are kept per process
# and read again when this process saved one (`_forget_settings`) or the database says they changed.
_settings = _Settings()
_generation = [0]


def _forget_settings() -> None:
    _generation[0] += 1


def _settings_key() -> tuple[Any, ...]:
    """What changes when a policy or calendar is added, removed or edited: one query per event."""
    parts = []
    for model in (Policy, Calendar):
        table = connection.ops.quote_name(model._meta.db_table)
        parts.append(f"SELECT COUNT(*), MAX(id), MAX(updated_at) FROM {table}")
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts))  # the values compare equal or not; types do not matter
        rows = cursor.fetchall()
    return (_generation[0], *(value for row in rows for value in row))


def _current() -> _Settings:
    key = _settings_key()
    if key != _settings.key:
        _settings.policies = list(
            Policy.objects.filter(active=True)
            .select_related("calendar")
            .prefetch_related("groups", "organizations", "tags", "targets")
            .order_by("position", "id")
        )
        _settings.rules = [Conditions.of(policy) for policy in _settings.policies]
        _settings.needs_tags = any(rule.tags for rule in _settings.rules)
        _settings.specs = {}
        _settings.key = key
    return _settings


def active_policies() -> list[Policy]:
    return _current().policies


def matching_policy(ticket: Ticket) -> Policy | None:
    settings = _current()
    tag_ids = set(ticket.tags.values_list("pk", flat=True)) if settings.needs_tags else set()
    return first_match(settings.rules, ticket_facts(ticket), tag_ids)


def first_match(rules: list[Conditions], ticket: Facts, tag_ids: set[int] | frozenset[int]) -> Policy | None:
    return next((rule.policy for rule in rules if rule.match(ticket, tag_ids)), None)


def target_for(policy: Policy | None, priority: int) -> Target | None:
    if policy is None:
        return None
    return next((target for target in policy.targets.all() if target.priority == priority), None)


def calendar_spec(calendar: Calendar | None) -> CalendarSpec:
    if calendar is None:
        return ALWAYS
    specs = _settings.specs
    if calendar.pk not in specs:
        specs[calendar.pk] = calendar.spec()
    return specs[calendar.pk]


# --- One ticket's clocks --------------------------------------------------------------------------------


def _minutes(target: Target | None, name: str) -> int | None:
    return getattr(target, f"{name}_minutes") if target is not None else None


def _add(start: datetime, minutes: int, extra_seconds: int, hours: Hours) -> datetime:
    return hours.add(start, timedelta(minutes=minutes, seconds=extra_seconds))


def _waiting_since(ticket: Ticket) -> datetime | None:
    """The first customer message after the last public agent reply; None before any reply."""
    if ticket.first_response_at is None:  # no public reply yet (set with the first one)
        return None
    public = Entry.objects.filter(ticket=ticket, internal=False)
    last_reply = public.filter(direction=Direction.OUTBOUND).aggregate(at=Max("created_at"))["at"]
    if last_reply is None:
        return None
    return public.filter(direction=Direction.INBOUND, created_at__gt=last_reply).aggregate(at=Min("created_at"))["at"]


def _last_reply_at(ticket: Ticket | Facts) -> datetime | None:
    found = Entry.objects.filter(ticket_id=ticket.pk, internal=False, direction=Direction.OUTBOUND).aggregate(
        at=Max("created_at")
    )
    return found["at"]


def sla_row(ticket: Ticket) -> TicketSLA | None:
    """The ticket's clocks if they were selected with it or exist; None when there are none yet."""
    try:
        found: TicketSLA = ticket.sla  # type: ignore[attr-defined]
    except ObjectDoesNotExist:
        return None
    return found


def sync_ticket_sla(ticket_id: int, now: datetime | None = None, *, force: bool = False) -> TicketSLA | None:
    """Bring one ticket's clocks up to date with the ticket as it is now (idempotent).

    Every change of a ticket bumps its version, and the events of one transaction are delivered
    after it commits: the first event computes the clocks for the ticket's final version and the
    others see that version done and return at once (`force` recomputes anyway: policy changes).

    1. Find the policy that applies and its targets for the ticket's priority.
    2. If the ticket was paused and runs again, move the unmet due times by the paused business time.
    3. If the policy or its targets changed, recompute the due times from the clocks' starts.
    4. Start or stop the next-response clock; mark targets met late as breached.
    5. Pause if the status says so; set `next_due` and `next_alert_at` for the lists and the sweep.
    """
    now = now or timezone.now()
    ticket = Ticket.objects.select_related("group", "customer", "status", "sla").filter(pk=ticket_id).first()
    if ticket is None:
        return None
    if not force and (done := sla_row(ticket)) is not None and done.ticket_version == ticket.version:
        return done
    policy = matching_policy(ticket)
    target = target_for(policy, ticket.priority)
    spec = calendar_spec(policy.calendar if policy else None)
    waiting_since = _waiting_since(ticket)
    if sla_row(ticket) is None and (created := _create_clocks(ticket, policy, target, spec, waiting_since, now)):
        return created
    with transaction.atomic():
        sla = TicketSLA.objects.select_for_update().get(pk=ticket.pk)
        _reconcile(sla, ticket, policy, target, spec, waiting_since, now)
        sla.save()
    return sla


def _reconcile(
    sla: TicketSLA,
    ticket: Ticket | Facts,
    policy: Policy | None,
    target: Target | None,
    hours: Hours,
    waiting_since: datetime | None,
    now: datetime,
    *,
    recompute: bool = False,
) -> None:
    """Steps 2 to 5 of `sync_ticket_sla` on existing clocks (also `resync_open_tickets`'s work).
    `recompute`: the due times are computed again even if the policy and its minutes are the same
    (its calendar's hours or holidays changed)."""
    paused = ticket.state in PAUSED_STATES or ticket.merged_into_id is not None
    if sla.paused_at is not None and not paused:
        _resume(sla, now, hours)
    wanted = {name: _minutes(target, name) for name in TARGETS}
    changed = (
        recompute
        or sla.policy_id != (policy.pk if policy else None)
        or any(getattr(sla, f"{name}_minutes") != minutes for name, minutes in wanted.items())
    )
    sla.policy = policy
    sla.warning_minutes = policy.warning_minutes if policy else 60
    for name, minutes in wanted.items():
        setattr(sla, f"{name}_minutes", minutes)
    if changed:
        _recompute(sla, ticket, hours)
    _next_response_cycle(sla, ticket, waiting_since, hours)
    _mark_met_late(sla, ticket)
    if paused and sla.paused_at is None:
        sla.paused_at = now
    _schedule(sla, ticket)
    sla.ticket_version = ticket.version
    sla.updated_at = now


def _create_clocks(
    ticket: Ticket,
    policy: Policy | None,
    target: Target | None,
    spec: CalendarSpec,
    waiting_since: datetime | None,
    now: datetime,
) -> TicketSLA | None:
    """The first clocks of a ticket, computed and inserted at once (the common case: a new ticket).

    None when another sync inserted them first; the caller then updates them under a row lock.
    """
    sla = _new_clocks(ticket, policy, target, spec, waiting_since, now)
    sla.ticket = ticket
    try:
        with transaction.atomic():
            sla.save(force_insert=True)
    except IntegrityError:  # created meanwhile by a concurrent sync
        return None
    return sla


def _resume(sla: TicketSLA, now: datetime, hours: Hours) -> None:
    """Clocks run again: each due time still ahead of the pause moves later by the time paused."""
    paused_at = sla.paused_at
    assert paused_at is not None
    paused = hours.between(paused_at, now)
    sla.paused_seconds += int(paused.total_seconds())
    for name in TARGETS:
        due: datetime | None = getattr(sla, f"{name}_due")
        if due is None or due <= paused_at:  # no target, or already breached before the pause
            continue
        clock_start = paused_at
        if name == "next_response" and sla.next_response_started_at:
            clock_start = max(paused_at, sla.next_response_started_at)
        remaining = hours.between(clock_start, due)
        setattr(sla, f"{name}_due", hours.add(now, remaining))
    if sla.next_response_started_at is not None:
        since = max(paused_at, sla.next_response_started_at)
        sla.next_response_paused_seconds += max(0, int(hours.between(since, now).total_seconds()))
    sla.paused_at = None


def _recompute(sla: TicketSLA, ticket: Ticket | Facts, hours: Hours) -> None:
    """Due times from the clocks' starts plus the targets plus the time paused so far."""
    starts: dict[str, tuple[datetime | None, int]] = {
        "first_response": (ticket.created_at, sla.paused_seconds),
        "next_response": (sla.next_response_started_at, sla.next_response_paused_seconds),
        "resolution": (ticket.created_at, sla.paused_seconds),
    }
    for name in TARGETS:
        minutes = getattr(sla, f"{name}_minutes")
        start, paused = starts[name]
        due = _add(start, minutes, paused, hours) if minutes is not None and start is not None else None
        if due != getattr(sla, f"{name}_due"):
            setattr(sla, f"{name}_due", due)
            setattr(sla, f"{name}_alert", Alert.NONE)


def _next_response_cycle(sla: TicketSLA, ticket: Ticket | Facts, waiting_since: datetime | None, hours: Hours) -> None:
    if waiting_since == sla.next_response_started_at:
        return
    if sla.next_response_started_at is not None and sla.next_response_due is not None:
        replied = _last_reply_at(ticket)
        if replied is not None and replied > sla.next_response_due:
            sla.next_response_breached = True
    sla.next_response_started_at = waiting_since
    sla.next_response_paused_seconds = 0
    sla.next_response_alert = Alert.NONE
    minutes = sla.next_response_minutes
    sla.next_response_due = (
        _add(waiting_since, minutes, 0, hours) if waiting_since is not None and minutes is not None else None
    )


def _mark_met_late(sla: TicketSLA, ticket: Ticket | Facts) -> None:
    if ticket.first_response_at and sla.first_response_due and ticket.first_response_at > sla.first_response_due:
        sla.first_response_breached = True
    if ticket.solved_at and sla.resolution_due and ticket.solved_at > sla.resolution_due:
        sla.resolution_breached = True


def unmet_dues(sla: TicketSLA, ticket: Ticket | Facts) -> dict[str, datetime]:
    """The due times of the targets still to be met, whether or not the clocks run."""
    dues: dict[str, datetime] = {}
    if sla.first_response_due and ticket.first_response_at is None:
        dues["first_response"] = sla.first_response_due
    if sla.next_response_due and sla.next_response_started_at is not None:
        dues["next_response"] = sla.next_response_due
    if sla.resolution_due and ticket.state not in DONE_STATES:
        dues["resolution"] = sla.resolution_due
    return dues


def _schedule(sla: TicketSLA, ticket: Ticket | Facts) -> None:
    if sla.paused_at is not None:
        sla.next_due = sla.next_alert_at = None
        return
    dues = unmet_dues(sla, ticket)
    sla.next_due = min(dues.values(), default=None)
    warning = timedelta(minutes=sla.warning_minutes)
    alerts = []
    for name, due in dues.items():
        level = getattr(sla, f"{name}_alert")
        if level == Alert.NONE:
            alerts.append(due - warning)
        elif level == Alert.WARNED:
            alerts.append(due)
    sla.next_alert_at = min(alerts, default=None)


# --- The sweep -----------------------------------------------------------------------------------------


def sweep_sla(now: datetime | None = None) -> int:
    """Publish due SLA warnings and breaches; return how many were published.

    1. One indexed range query finds the tickets whose next alert is due, at most `SWEEP_BATCH`
       (the next run takes the rest): with nothing due, that is all.
    2. In one transaction their clocks are locked, skipping rows another sweep or a ticket's sync
       holds (the next run sees them), and kept only if still due: PostgreSQL re-checks the
       condition on a row changed meanwhile, so a row another sweep handled drops out.
    3. Each target's warning or breach is published once (its alert level records it), the next
       alerts are scheduled, and the changed clocks are written in one statement. The events go
       out when the transaction commits.
    """
    now = now or timezone.now()
    due = list(
        TicketSLA.objects.filter(next_alert_at__lte=now)
        .order_by("next_alert_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    if not due:
        return 0
    published = 0
    with transaction.atomic():
        rows = list(
            TicketSLA.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related("ticket")
            .filter(pk__in=due, next_alert_at__lte=now)
        )
        for sla in rows:
            published += _alert(sla, now)
        _write_clocks(rows)
    return published


def _alert(sla: TicketSLA, now: datetime) -> int:
    ticket = sla.ticket
    published = 0
    warning = timedelta(minutes=sla.warning_minutes)
    for name, due in unmet_dues(sla, ticket).items():
        level = getattr(sla, f"{name}_alert")
        if now >= due and level < Alert.BREACHED:
            setattr(sla, f"{name}_alert", Alert.BREACHED)
            setattr(sla, f"{name}_breached", True)
            event = events.SLA_BREACHED
        elif now >= due - warning and level < Alert.WARNED:
            setattr(sla, f"{name}_alert", Alert.WARNED)
            event = events.SLA_WARNING
        else:
            continue
        events.publish(events.Event(event, ticket.pk, data={"target": name, "due": due.isoformat()}))
        published += 1
    _schedule(sla, ticket)
    return published


# --- What the screens show -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Clock:
    target: str  # first_response, next_response, resolution
    label: str
    due: datetime
    seconds_left: int  # wall-clock; negative when overdue
    level: str  # ok, warning, breached, paused


LABELS = {"first_response": "First response", "next_response": "Next response", "resolution": "Resolution"}


def clocks(sla: TicketSLA | None, ticket: Ticket, now: datetime | None = None) -> list[Clock]:
    """The ticket's running (or paused) targets, soonest first, with their colour level."""
    if sla is None:
        return []
    now = now or timezone.now()
    warning = timedelta(minutes=sla.warning_minutes)
    found = []
    for name, due in unmet_dues(sla, ticket).items():
        left = due - now
        if sla.paused_at is not None:
            left = due - sla.paused_at
            level = "paused"
        elif left <= timedelta(0):
            level = "breached"
        elif left <= warning:
            level = "warning"
        else:
            level = "ok"
        found.append(Clock(name, LABELS[name], due, int(left.total_seconds()), level))
    return sorted(found, key=lambda clock: clock.due)


def breached_targets(sla: TicketSLA | None) -> list[str]:
    if sla is None:
        return []
    return [name for name in TARGETS if getattr(sla, f"{name}_breached")]


# --- Recomputing many tickets after a policy or calendar changed ------------------------------------------


@dataclass
class ResyncProgress:
    tickets: int = 0  # open tickets looked at
    changed: int = 0  # clocks written
    last: int = 0  # the highest ticket id done: where a later run resumes
    done: bool = False


def resync_open_tickets(
    policy_id: int | None = None,
    calendar_id: int | None = None,
    *,
    after: int = 0,
    batches: int | None = None,
    batch: int | None = None,
) -> ResyncProgress:
    """Recompute the clocks of the open tickets that a change of a policy or calendar may move
    (every open ticket when neither is given), a batch of tickets at a time, in ticket id order.

    1. Read the next batch of affected open tickets after `after`: only the columns the policy
       conditions and the clocks use, and the batch's tags when some policy has tag conditions.
    2. Lock the batch's clocks. Clocks computed from the ticket's current version are reconciled
       here with the same steps as `sync_ticket_sla` (`_reconcile`); their waiting customer
       message is the one stored, which is current since no event of the ticket is pending. Due
       times come from one `Timeline` per calendar, a binary search each.
    3. Write the clocks that changed in one statement. Stale or missing clocks (an event not yet
       handled) go through `sync_ticket_sla` after the batch commits.
    4. Go on until no ticket is left or `batches` batches are done; `after=progress.last` resumes.

    The queries per batch do not grow with its size. A concurrent `sync_ticket_sla` of a ticket in
    the batch waits for the batch's row locks and then reconciles from what the batch wrote.
    """
    scope = _affected_tickets(policy_id, calendar_id)
    settings = _current()
    timelines: dict[int | None, Timeline] = {}
    progress = ResyncProgress(last=after)
    while batches is None or batches > 0:
        facts = [
            Facts(*row)
            for row in Ticket.objects.filter(scope, state__in=ACTIVE_CATEGORIES, pk__gt=progress.last)
            .order_by("pk")
            .values_list(*FACT_COLUMNS)[: batch or RESYNC_BATCH]
        ]
        if not facts:
            progress.done = True
            break
        stale = _resync_batch(facts, settings, timelines, progress, policy_id=policy_id, calendar_id=calendar_id)
        for ticket_id in stale:
            sync_ticket_sla(ticket_id, force=True)
        progress.tickets += len(facts)
        progress.last = facts[-1].pk
        batches = None if batches is None else batches - 1
    return progress


def _affected_tickets(policy_id: int | None, calendar_id: int | None) -> Q:
    """Tickets whose clocks the change may move (a superset). A changed policy: the tickets it
    applied to, those its conditions match now, and those with no policy or no clocks; any other
    ticket keeps the policy that applied before. A changed calendar: the tickets of its policies."""
    if policy_id is None and calendar_id is None:
        return Q()
    parts = []
    if calendar_id is not None:
        parts.append(Q(sla__policy__calendar_id=calendar_id))
    if policy_id is not None:
        parts += [Q(sla__isnull=True), Q(sla__policy__isnull=True), Q(sla__policy_id=policy_id)]
        policy = Policy.objects.filter(pk=policy_id, active=True).prefetch_related("groups", "organizations", "tags")
        for found in policy:
            matches = Conditions.of(found).tickets()
            if not matches:  # no conditions: every ticket
                return Q()
            parts.append(matches)
    return reduce(operator.or_, parts)


def _resync_batch(
    facts: list[Facts],
    settings: _Settings,
    timelines: dict[int | None, Timeline],
    progress: ResyncProgress,
    *,
    policy_id: int | None = None,
    calendar_id: int | None = None,
) -> list[int]:
    """Reconcile one batch's current clocks and write those that changed; return the stale ones.
    The due times of the tickets under the changed policy or calendar are computed again: new
    opening hours or holidays move them though the policy and its minutes stay the same."""
    ids = [ticket.pk for ticket in facts]
    tags: dict[int, set[int]] = {}
    if settings.needs_tags:
        for ticket_id, tag_id in Ticket.tags.through.objects.filter(ticket_id__in=ids).values_list(
            "ticket_id", "tag_id"
        ):
            tags.setdefault(ticket_id, set()).add(tag_id)
    changed_calendar = calendar_id
    stale = []
    with transaction.atomic():
        now = timezone.now()
        rows = TicketSLA.objects.select_for_update().filter(pk__in=ids).in_bulk()
        changed = []
        for ticket in facts:
            sla = rows.get(ticket.pk)
            if sla is None or sla.ticket_version != ticket.version:
                stale.append(ticket.pk)
                continue
            before = _stored(sla)
            policy = first_match(settings.rules, ticket, tags.get(ticket.pk, frozenset()))
            calendar_id = policy.calendar_id if policy else None
            if calendar_id not in timelines:
                timelines[calendar_id] = Timeline(calendar_spec(policy.calendar if policy else None))
            target = target_for(policy, ticket.priority)
            recompute = policy is not None and (
                policy.pk == policy_id or (changed_calendar is not None and policy.calendar_id == changed_calendar)
            )
            _reconcile(
                sla,
                ticket,
                policy,
                target,
                timelines[calendar_id],
                sla.next_response_started_at,
                now,
                recompute=recompute,
            )
            if _stored(sla) != before:
                changed.append(sla)
        _write_clocks(changed)
    progress.changed += len(changed)
    return stale


# What a recompute may change: every column of the clocks but the ticket and its version.
_WRITTEN: list[Field[Any, Any]] = [
    field for field in TicketSLA._meta.concrete_fields if field.name not in ("ticket", "ticket_version", "updated_at")
]


def _stored(sla: TicketSLA) -> tuple[Any, ...]:
    return tuple(getattr(sla, field.attname) for field in _WRITTEN)


def _column(field: Field[Any, Any]) -> str:
    assert field.column is not None
    return connection.ops.quote_name(field.column)


def _write_clocks(rows: list[TicketSLA], *, versions: bool = False) -> None:
    """One UPDATE for many rows (with the ticket version they were computed from: `versions`).
    On PostgreSQL the new values travel as one array per column and
    are joined by ticket id (`unnest`): `bulk_update`'s CASE per row costs a scan of the whole CASE
    for every row, quadratic in the batch size."""
    if not rows:
        return
    fields = [*_WRITTEN, TicketSLA._meta.get_field("updated_at")]
    if versions:
        fields.append(TicketSLA._meta.get_field("ticket_version"))
    if connection.vendor != "postgresql":
        TicketSLA.objects.bulk_update(rows, [field.name for field in fields], batch_size=250)
        return
    key = TicketSLA._meta.pk
    assert key is not None
    columns = [key, *fields]
    arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in columns)
    names = ", ".join(_column(field) for field in columns)
    sets = ", ".join(f"{_column(field)} = v.{_column(field)}" for field in fields)
    sql = (
        f"UPDATE {connection.ops.quote_name(TicketSLA._meta.db_table)} AS t SET {sets} "
        f"FROM unnest({arrays}) AS v({names}) WHERE t.{_column(key)} = v.{_column(key)}"
    )
    # The attributes are what psycopg adapts as they are: ints, booleans, aware datetimes, None.
    params = [[getattr(row, field.attname) for row in rows] for field in columns]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def on_ticket_events(batch: list[events.Event]) -> None:
    """The listener, for a batch of events: bring the clocks of every ticket they name up to date.

    A constant number of statements whatever the batch's size: the policies' version, the
    tickets' facts with their clocks' version and waiting customer message (one query), the tags
    when some policy needs them, one INSERT for the tickets without clocks, and one locking read
    plus one UPDATE for the tickets whose clocks are stale. Tickets whose clocks are current
    cost nothing more. Idempotent, like `sync_ticket_sla`.
    """
    ids: set[int] = set()
    for event in batch:
        ids.add(event.ticket_id)
        source = event.data.get("source") if event.name == events.TICKETS_MERGED else None
        if isinstance(source, int):
            ids.add(source)
    if ids:
        sync_many(sorted(ids))


@events.batched(on_ticket_events)
def on_ticket_event(event: events.Event) -> None:
    on_ticket_events([event])


def sync_many(ticket_ids: list[int], now: datetime | None = None) -> None:
    """`sync_ticket_sla` for many tickets at once (see `on_ticket_events`)."""
    # Inside `waiting` below: the outer row is the customer's entry, whose ticket is the one asked.
    last_reply = (
        Entry.objects.filter(ticket_id=OuterRef("ticket_id"), internal=False, direction=Direction.OUTBOUND)
        .order_by()
        .values("ticket_id")
        .annotate(at=Max("created_at"))
        .values("at")
    )
    waiting = (
        Entry.objects.filter(
            ticket_id=OuterRef("pk"),
            internal=False,
            direction=Direction.INBOUND,
            created_at__gt=Subquery(last_reply),
        )
        .order_by()
        .values("ticket_id")
        .annotate(at=Min("created_at"))
        .values("at")
    )
    rows = list(
        Ticket.objects.filter(pk__in=ticket_ids)
        .annotate(waiting_since=Subquery(waiting))
        .values_list(*FACT_COLUMNS, "sla__ticket_version", "waiting_since")
    )
    todo = [(Facts(*row[: len(FACT_COLUMNS)]), row[-2], row[-1]) for row in rows if row[-2] != row[1]]
    if not todo:
        return
    settings = _current()
    tags: dict[int, set[int]] = {}
    if settings.needs_tags:
        for ticket_id, tag_id in Ticket.tags.through.objects.filter(
            ticket_id__in=[facts.pk for facts, _, _ in todo]
        ).values_list("ticket_id", "tag_id"):
            tags.setdefault(ticket_id, set()).add(tag_id)
    now = now or timezone.now()

    def rules_for(facts: Facts) -> tuple[Policy | None, Target | None, CalendarSpec]:
        policy = first_match(settings.rules, facts, tags.get(facts.pk, frozenset()))
        return policy, target_for(policy, facts.priority), calendar_spec(policy.calendar if policy else None)

    def waiting_of(facts: Facts, found: datetime | None) -> datetime | None:
        return found if facts.first_response_at is not None else None

    new = []
    for facts, version, found in todo:
        if version is None:
            policy, target, spec = rules_for(facts)
            new.append(_new_clocks(facts, policy, target, spec, waiting_of(facts, found), now))
    if new:
        try:
            with transaction.atomic():
                TicketSLA.objects.bulk_create(new)
        except IntegrityError:  # some were created meanwhile by a concurrent sync: one at a time
            for sla in new:
                sync_ticket_sla(sla.ticket_id)
    stale = {facts.pk: (facts, found) for facts, version, found in todo if version is not None}
    if not stale:
        return
    with transaction.atomic():
        changed = []
        for sla in TicketSLA.objects.select_for_update().filter(pk__in=list(stale)):
            facts, found = stale[sla.pk]
            if sla.ticket_version == facts.version:  # brought up to date meanwhile
                continue
            policy, target, spec = rules_for(facts)
            _reconcile(sla, facts, policy, target, spec, waiting_of(facts, found), now)
            changed.append(sla)
        _write_clocks(changed, versions=True)


def _new_clocks(
    facts: Ticket | Facts,
    policy: Policy | None,
    target: Target | None,
    hours: Hours,
    waiting_since: datetime | None,
    now: datetime,
) -> TicketSLA:
    """A ticket's first clocks, computed, not saved (for one ticket, `_create_clocks`, or a batch)."""
    sla = TicketSLA(ticket_id=facts.pk, policy=policy, warning_minutes=policy.warning_minutes if policy else 60)
    for name in TARGETS:
        setattr(sla, f"{name}_minutes", _minutes(target, name))
    _recompute(sla, facts, hours)
    _next_response_cycle(sla, facts, waiting_since, hours)
    _mark_met_late(sla, facts)
    if facts.state in PAUSED_STATES or facts.merged_into_id is not None:
        sla.paused_at = now
    _schedule(sla, facts)
    sla.ticket_version = facts.version
    sla.updated_at = now
    return sla


# --- Admin writes (API and admin site) -------------------------------------------------------------------


@dataclass
class IntervalIn:
    weekday: int
    start: Any  # datetime.time
    end: Any


@dataclass
class HolidayIn:
    date: Any  # datetime.date
    name: str = ""
    yearly: bool = False


def save_calendar(
    calendar: Calendar,
    fields: dict[str, Any],
    intervals: list[IntervalIn] | None = None,
    holidays: list[HolidayIn] | None = None,
) -> Calendar:
    """Create or change a calendar; given intervals and holidays replace the old ones. Open
    tickets' clocks are recomputed after commit."""
    for name, value in fields.items():
        setattr(calendar, name, value)
    try:
        from sportello.sla.models import parse_countries

        parse_countries(calendar.holiday_countries)
        CalendarSpec(time_zone=calendar.time_zone)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="holiday_countries" if "holiday" in str(exc) else "time_zone") from exc
    rows = [CalendarInterval(weekday=i.weekday, start=i.start, end=i.end) for i in intervals or []]
    for row in rows:
        start, end = row.minutes()
        if start >= end:
            raise InvalidInput(f"{row}: the interval must end after it starts (00:00 as end means midnight)")
    calendar.updated_at = timezone.now()
    try:
        with transaction.atomic():
            calendar.save()
            _forget_settings()
            if intervals is not None:
                calendar.intervals.all().delete()
                for row in rows:
                    row.calendar = calendar
                CalendarInterval.objects.bulk_create(rows)
            if holidays is not None:
                calendar.holidays.all().delete()
                Holiday.objects.bulk_create(
                    [Holiday(calendar=calendar, date=h.date, name=h.name, yearly=h.yearly) for h in holidays]
                )
            transaction.on_commit(partial(_schedule_resync, calendar_id=calendar.pk))
    except IntegrityError as exc:
        raise Conflict(f"A calendar named {calendar.name!r} already exists", field="name") from exc
    return calendar


@dataclass
class TargetIn:
    priority: int
    first_response_minutes: int | None = None
    next_response_minutes: int | None = None
    resolution_minutes: int | None = None


def save_policy(
    policy: Policy,
    fields: dict[str, Any],
    *,
    groups: list[int] | None = None,
    organizations: list[int] | None = None,
    tags: list[str] | None = None,
    targets: list[TargetIn] | None = None,
) -> Policy:
    """Create or change a policy; given relations and targets replace the old ones."""
    from sportello.accounts.models import Group
    from sportello.customers.models import Organization
    from sportello.tickets.intake import _tags

    for name, value in fields.items():
        setattr(policy, name, value)
    if targets is not None and len({t.priority for t in targets}) != len(targets):
        raise InvalidInput("One target per priority", field="targets")
    found_groups = list(Group.objects.filter(pk__in=groups or []))
    if groups is not None and len(found_groups) != len(set(groups)):
        raise InvalidInput("Unknown group in groups", field="groups")
    found_orgs = list(Organization.objects.filter(pk__in=organizations or []))
    if organizations is not None and len(found_orgs) != len(set(organizations)):
        raise InvalidInput("Unknown organization in organizations", field="organizations")
    policy.updated_at = timezone.now()
    try:
        with transaction.atomic():
            policy.save()
            _forget_settings()
            if groups is not None:
                policy.groups.set(found_groups)
            if organizations is not None:
                policy.organizations.set(found_orgs)
            if tags is not None:
                policy.tags.set(_tags(tags))
            if targets is not None:
                policy.targets.all().delete()
                Target.objects.bulk_create([Target(policy=policy, **vars(t)) for t in targets])
            transaction.on_commit(partial(_schedule_resync, policy_id=policy.pk))
    except IntegrityError as exc:
        raise Conflict(f"A policy named {policy.name!r} already exists", field="name") from exc
    return policy


def delete_policy(policy: Policy) -> None:
    policy_id = policy.pk
    with transaction.atomic():
        policy.delete()
        _forget_settings()
        transaction.on_commit(partial(_schedule_resync, policy_id=policy_id))


def takes_every_ticket(policy: Policy) -> bool:
    """Whether the policy, as stored, is active with no conditions: it applies to every ticket no
    policy above it takes (the settings page, the API and Django's admin ask before saving one)."""
    if not policy.active:
        return False
    stored = Policy.objects.prefetch_related("groups", "organizations", "tags").filter(pk=policy.pk).first()
    return stored is not None and stored.active and not Conditions.of(stored).tickets()


def move_policy(policy: Policy, *, up: bool) -> bool:
    """Move a policy one place up or down in the order policies are tried (positions become 10,
    20, 30…); each policy whose position changed is saved through `save_policy`, so its tickets
    are recomputed. False when it has no neighbour that way."""
    ordered = Policy.objects.order_by("position", "id")
    return move_among(ordered, policy, up=up, save=lambda row: save_policy(row, {"position": row.position}))


def delete_calendar(calendar: Calendar) -> None:
    if calendar.policies.exists():
        raise Conflict(f"Calendar {calendar.name!r} is used by a policy", field="calendar")
    calendar.delete()
    _forget_settings()


def _schedule_resync(policy_id: int | None = None, calendar_id: int | None = None) -> None:
    _forget_settings()
    from sportello.sla.tasks import resync_sla

    resync_sla.enqueue(policy_id, calendar_id)


def tickets_with_sla(tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    return tickets.select_related("sla")
