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

Every figure is one indexed count or a count from the report facts (reports/models.py), never a
scan of the tickets: open and unassigned share one count over the ticket's state index; the SLA
figures are one range of `sla_ticket_next_due`; the loads one group-by over `ticket_assignee_state`
restricted to the agents online; created is one range of `ticket_created`, solved one of
`fact_solved`. Eight queries, whatever the number of tickets, agents or groups.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from sportello.accounts.models import Availability, Role, User
from sportello.chat.models import Conversation, ConversationState
from sportello.reports.models import TicketFact
from sportello.sla.models import TicketSLA
from sportello.tickets.models import StatusCategory, Ticket

# The inbox's "All open" and "Unassigned" states (tickets/queries.py OPEN_STATES).
OPEN_STATES = (StatusCategory.NEW.value, StatusCategory.OPEN.value)
SOLVED_STATES = (StatusCategory.SOLVED.value, StatusCategory.CLOSED.value)
# Who appears among the agents online (the system actor never does).
AGENT_ROLES = (Role.ADMIN, Role.AGENT, Role.LIGHT_AGENT)
SLA_SOON = timedelta(hours=1)


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
    def load(self) -> int:
        return sum(agent.load for agent in self.agents)


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


def dashboard(user: User, now: datetime | None = None) -> Dashboard:
    """The dashboard's figures for `user` (an agent; anyone else sees zeros), at `now`."""
    now = now or timezone.now()
    zone = _zone(user)
    if not user.is_authenticated or not user.is_staff_member:
        return Dashboard(0, 0, 0, 0, 0, 0, 0, time_zone=str(zone), at=now)
    restricted = bool(user.restricted_to_groups and not user.is_admin)
    groups: list[int] | None = list(user.support_groups.values_list("pk", flat=True)) if restricted else None

    def scoped(query: Any, prefix: str = "") -> Any:
        return query if groups is None else query.filter(**{f"{prefix}group_id__in": groups})

    tickets = scoped(Ticket.objects.filter(state__in=OPEN_STATES, merged_into__isnull=True))
    counts = tickets.aggregate(open=Count("pk"), unassigned=Count("pk", filter=Q(assignee__isnull=True)))

    clocks = scoped(
        TicketSLA.objects.filter(next_due__lt=now + SLA_SOON, ticket__merged_into__isnull=True), "ticket__"
    ).aggregate(breaching=Count("pk", filter=Q(next_due__gte=now)), breached=Count("pk", filter=Q(next_due__lt=now)))

    waiting = scoped(Conversation.objects.filter(state=ConversationState.WAITING), "ticket__").count()

    online = User.objects.filter(availability=Availability.ONLINE, is_active=True, role__in=AGENT_ROLES)
    if groups is not None:
        online = online.filter(support_groups__in=groups).distinct()
    people = list(online.order_by("first_name", "last_name", "username", "pk"))
    loads: dict[int, int] = {}
    if people:
        loads = dict(
            scoped(Ticket.objects.filter(assignee_id__in=[p.pk for p in people], state__in=OPEN_STATES))
            .values_list("assignee_id")
            .annotate(n=Count("pk"))
            .order_by()
        )
    agents = sorted(
        (AgentOnline(id=p.pk, name=p.display_name, load=loads.get(p.pk, 0)) for p in people),
        key=lambda a: (-a.load, a.name.casefold()),
    )

    today = _start_of_day(now, zone)
    created = scoped(Ticket.objects.filter(created_at__gte=today, created_at__lte=now)).count()
    solved = scoped(
        TicketFact.objects.filter(solved_at__gte=today, solved_at__lte=now, state__in=SOLVED_STATES, merged=False)
    ).count()

    return Dashboard(
        open=counts["open"],
        unassigned=counts["unassigned"],
        breaching=clocks["breaching"],
        breached=clocks["breached"],
        waiting_chats=waiting,
        created_today=created,
        solved_today=solved,
        agents=agents,
        restricted=restricted,
        time_zone=str(zone),
        at=now,
    )
