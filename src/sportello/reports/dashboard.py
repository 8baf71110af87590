"""The live dashboard for team leads: what is happening now, in a constant handful of indexed queries.

`dashboard(user)` answers, for the tickets `user` may see (tickets/access.py: every ticket, or
only their groups' when restricted):

- open: tickets in a "new" or "open" status (the inbox's "All open" view), merged ones left out;
- unassigned: of those, the ones nobody holds (the inbox's "Unassigned" view);
- breaching: tickets whose running SLA clock falls due within the hour (the inbox's SLA filter
  "Breaching within 1 h"), and breached: those already past it;
- waiting chats: conversations waiting for an agent;
- agents online, each with their load: the tickets in a "new" or "open" status assigned to them
  (what automatic assignment weighs, automation/assignment.py), within the reader's sight;
- created today and solved today, "today" in the reader's time zone (solved: tickets whose last
  solve was today and that are still solved or closed, from the report facts).

Open, unassigned and each agent's load are exact at any size: sums of the kept counts of tickets
per status category, group and assignee (`TicketCount`: one row per status category, group,
assignee, channel and priority that has tickets, a few thousand on a large desk, kept from the report
facts in their transaction: as current as the facts, the outbox listener's second or so behind).
The other figures are short index ranges in time, counted up to a cap: the SLA figures a range of
`sla_ticket_next_due`; created a range of `ticket_created`; solved a range of the report facts'
`fact_solved`. Each stops after CAP + 1 rows (a figure past it shows as "5000+"; in practice the
past-due clocks of a neglected desk), so an answer costs the same at 1M tickets as at 1,000. All
the figures are one statement; with the agents online and (for a restricted reader) their groups,
two or three queries in all, whatever the number of tickets, agents or groups.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from sportello.accounts.models import Availability, Role, User
from sportello.chat.models import Conversation, ConversationState
from sportello.reports.models import TicketCount, TicketFact
from sportello.sla.models import TicketSLA
from sportello.tickets.models import StatusCategory, Ticket

# The inbox's "All open" and "Unassigned" states (tickets/queries.py OPEN_STATES).
OPEN_STATES = (StatusCategory.NEW.value, StatusCategory.OPEN.value)
SOLVED_STATES = (StatusCategory.SOLVED.value, StatusCategory.CLOSED.value)
# Who appears among the agents online (the system actor never does).
AGENT_ROLES = (Role.ADMIN, Role.AGENT, Role.LIGHT_AGENT)
SLA_SOON = timedelta(hours=1)
# The figures counted from an index range in time stop at a cap and show as "5000+" past it:
# counting stops after cap + 1 rows, where an exact count of, say, 100,000 past-due clocks reads
# them all. Open, unassigned and the loads are sums of TicketCount, exact at any size.
CAP = 5_000
EXACT = 2**62  # the "cap" of the figures summed from TicketCount: never reached


@dataclass
class AgentOnline:
    id: int
    name: str
    load: int  # tickets new or open assigned to them, among those the reader sees


@dataclass
class Dashboard:
    open: int
    unassigned: int
    breaching: int  # an SLA target due within the hour
    breached: int  # an SLA target already past due, the clock still running
    waiting_chats: int
    created_today: int
    solved_today: int
    agents: list[AgentOnline] = field(default_factory=list)
    restricted: bool = False  # the figures cover only the reader's groups
    time_zone: str = "UTC"
    at: datetime = field(default_factory=timezone.now)

    @property
    def agents_online(self) -> int:
        return len(self.agents)

    @property
    def capped(self) -> list[str]:
        """The names of the figures past their cap (an agent's load: "agents")."""
        names = ["open", "unassigned", "breaching", "breached", "waiting_chats", "created_today", "solved_today"]
        found = [name for name in names if isinstance(value := getattr(self, name), Figure) and value.capped]
        if any(isinstance(agent.load, Figure) and agent.load.capped for agent in self.agents):
            found.append("agents")
        return found


def _zone(user: User) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(user.time_zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _start_of_day(now: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
    local = now.astimezone(zone)
    midnight = datetime(local.year, local.month, local.day, tzinfo=zone)
    # A day that starts in a DST gap: the first instant that exists (round trip through UTC).
    return midnight.astimezone(zoneinfo.ZoneInfo("UTC"))


class Figure(int):
    """A figure counted up to a cap: `capped` says there are more (shown as "5000+")."""

    cap: int = 0

    def __new__(cls, value: int, cap: int) -> Figure:
        number = super().__new__(cls, value)
        number.cap = cap
        return number

    @property
    def capped(self) -> bool:
        return self > self.cap

    def __str__(self) -> str:
        return f"{self.cap}+" if self.capped else int.__str__(self)


def _capped_counts(
    queries: dict[str, QuerySet[Any]], cap: dict[str, int], sums: dict[str, QuerySet[TicketCount]]
) -> dict[str, Figure]:
    """Each query's count up to its cap (cap + 1 means "more"), and each of `sums`' tickets summed
    (exact), all in one statement: each count is a subquery that stops after cap + 1 rows of its
    index range, however many rows match; each sum reads a few rows of TicketCount."""
    parts: list[str] = []
    params: list[Any] = []
    names = list(queries)
    for index, name in enumerate(names):
        query = queries[name]
        if query.query.is_empty():
            parts.append("0")
            continue
        sql, query_params = query.order_by().values("pk")[: cap[name] + 1].query.sql_with_params()
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS figure_{index})")
        params.extend(query_params)
    for index, name in enumerate(sums):
        sql, query_params = sums[name].order_by().values("tickets").query.sql_with_params()
        parts.append(f"(SELECT COALESCE(SUM(tickets), 0) FROM ({sql}) AS summed_{index})")
        params.extend(query_params)
        cap[name] = EXACT
    names += list(sums)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        row = cursor.fetchone()
    return {name: Figure(int(value), cap[name]) for name, value in zip(names, row, strict=True)}


def dashboard(user: User, now: datetime | None = None) -> Dashboard:
    """The dashboard's figures for `user` (an agent; anyone else sees zeros), at `now`."""
    now = now or timezone.now()
    zone = _zone(user)
    zero = Figure(0, CAP)
    if not user.is_authenticated or not user.is_staff_member:
        return Dashboard(zero, zero, zero, zero, zero, zero, zero, time_zone=str(zone), at=now)
    restricted = bool(user.restricted_to_groups and not user.is_admin)
    groups: list[int] | None = list(user.support_groups.values_list("pk", flat=True)) if restricted else None

    def scoped(query: Any, prefix: str = "") -> Any:
        return query if groups is None else query.filter(**{f"{prefix}group_id__in": groups})

    online = User.objects.filter(availability=Availability.ONLINE, is_active=True, role__in=AGENT_ROLES)
    if groups is not None:
        online = online.filter(support_groups__in=groups).distinct()
    people = list(online.order_by("first_name", "last_name", "username", "pk"))

    today = _start_of_day(now, zone)
    tickets = scoped(TicketCount.objects.filter(state__in=OPEN_STATES))
    clocks = scoped(TicketSLA.objects.filter(ticket__merged_into__isnull=True), "ticket__")
    sums = {"open": tickets, "unassigned": tickets.filter(assignee_id=0)}
    queries: dict[str, QuerySet[Any]] = {
        "breaching": clocks.filter(next_due__gte=now, next_due__lt=now + SLA_SOON),
        "breached": clocks.filter(next_due__lt=now),
        "waiting": scoped(Conversation.objects.filter(state=ConversationState.WAITING), "ticket__"),
        "created": scoped(Ticket.objects.filter(created_at__gte=today, created_at__lte=now)),
        "solved": scoped(
            TicketFact.objects.filter(solved_at__gte=today, solved_at__lte=now, state__in=SOLVED_STATES, merged=False)
        ),
    }
    caps = dict.fromkeys(queries, CAP)
    for person in people:
        sums[f"agent-{person.pk}"] = tickets.filter(assignee_id=person.pk)
    counts = _capped_counts(queries, caps, sums)
    agents = sorted(
        (AgentOnline(id=p.pk, name=p.display_name, load=counts[f"agent-{p.pk}"]) for p in people),
        key=lambda a: (-a.load, a.name.casefold()),
    )
    return Dashboard(
        open=counts["open"],
        unassigned=counts["unassigned"],
        breaching=counts["breaching"],
        breached=counts["breached"],
        waiting_chats=counts["waiting"],
        created_today=counts["created"],
        solved_today=counts["solved"],
        agents=agents,
        restricted=restricted,
        time_zone=str(zone),
        at=now,
    )
