"""Agents' online time: availability changes recorded as they are seen, summed per period.

Availability (online, away, offline) lives on the user and is changed by the chat console and the
socket's disconnect handling, which keep no history. `record_availability` (a scheduler job, every
minute) writes an `AgentAvailability` row for each agent whose availability differs from the last
one recorded, so online time is known from the day it runs on, to the minute. `online_seconds`
sums, per agent, the time in `online` within a span.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Max, Q
from django.utils import timezone

from sportello.accounts.models import Availability, Role, User
from sportello.reports.models import AgentAvailability

STAFF = (Role.ADMIN, Role.AGENT, Role.LIGHT_AGENT)


def record_availability(now: datetime | None = None) -> int:
    """Record the agents whose availability changed since their last row; returns how many."""
    now = now or timezone.now()
    current = dict(User.objects.filter(role__in=STAFF, is_active=True).values_list("pk", "availability"))
    latest = AgentAvailability.objects.values("agent_id").annotate(last=Max("at")).values_list("agent_id", "last")
    last_seen: dict[int, str] = {}
    pairs = Q()
    for agent, at in latest:
        pairs |= Q(agent_id=agent, at=at)
    if pairs:
        last_seen = dict(AgentAvailability.objects.filter(pairs).values_list("agent_id", "availability"))
    changed = [
        AgentAvailability(agent_id=agent, availability=state, at=now)
        for agent, state in current.items()
        if last_seen.get(agent) != state  # an agent seen for the first time: their state now
    ]
    # A deactivated (or demoted) agent still marked online is offline from now on.
    changed += [
        AgentAvailability(agent_id=agent, availability=Availability.OFFLINE, at=now)
        for agent, state in last_seen.items()
        if agent not in current and state != Availability.OFFLINE
    ]
    AgentAvailability.objects.bulk_create(changed)
    return len(changed)


def online_seconds(agent_ids: Iterable[int | None], since: datetime, until: datetime) -> dict[int, int]:
    """Seconds each agent was online within [since, until) (not after now), as recorded."""
    ids = [pk for pk in agent_ids if pk is not None]
    until = min(until, timezone.now())
    found: dict[int, int] = dict.fromkeys(ids, 0)
    if not ids or until <= since:
        return found
    # The state each agent was in at `since` (its last row before), then every change within.
    before = dict(
        AgentAvailability.objects.filter(agent_id__in=ids, at__lte=since)
        .values("agent_id")
        .annotate(last=Max("at"))
        .values_list("agent_id", "last")
    )
    starts = Q()
    for agent, at in before.items():
        starts |= Q(agent_id=agent, at=at)
    rows = AgentAvailability.objects.filter(agent_id__in=ids, at__gt=since, at__lt=until)
    if starts:
        rows = AgentAvailability.objects.filter(starts | Q(pk__in=rows.values("pk")))
    online_since: dict[int, datetime | None] = {}
    for agent, state, at in rows.order_by("agent_id", "at", "pk").values_list("agent_id", "availability", "at"):
        start = online_since.get(agent)
        if start is not None:
            found[agent] += int((max(at, since) - start).total_seconds())
        online_since[agent] = max(at, since) if state == Availability.ONLINE else None
    for agent, start in online_since.items():
        if start is not None:
            found[agent] += int((until - start).total_seconds())
    return found
