"""Automatic assignment: a ticket that enters a group without an assignee gets one of the group's agents.

Each group's admin picks a method (`GroupAssignment`): round-robin, fewest open tickets, or best
skill match. Only active agents and admins who are members of the group and marked online are
chosen, and never one at capacity.

- **Open load** is the number of an agent's tickets in the categories *new* and *open*, in every
  group. Pending and on-hold tickets do not count: they wait for the customer or for someone
  else, and the agent has nothing to do on them. When the customer answers, the ticket opens
  again and counts again, so an agent can be above capacity for a while; capacity only stops new
  assignments.
- **Capacity** is the agent's own `max_open_tickets` when set, else the group's default; empty
  means no limit. An agent in two groups has one load, counted across both.
- **Round-robin** goes around the candidates in id order, starting after the group's last agent,
  skipping those at capacity. **Fewest open tickets** picks the least loaded, ties broken by the
  same rotation. **Skills** picks the agent who speaks the ticket's language and has most of the
  skills its category and tags need (then the higher levels), then the least loaded, then the
  rotation. With no agent matching, the best of the rest is chosen: a ticket waiting for a
  perfect match that is offline helps nobody.

Assignment runs when a ticket is created or its group changes (domain events), and every
minute for tickets still waiting (nobody was online, or everyone was full). It goes through
`update_ticket` with the automation's system user, so history says "Automation".

An agent who unassigns a ticket in a group with automatic assignment hands it back to the group:
the next sweep assigns it again (possibly to the same agent, if they are the least loaded).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import EllipsisType
from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from sportello.accounts.models import Availability, Group, Role, User
from sportello.automation.models import AgentProfile, AgentSkill, AssignmentMethod, GroupAssignment, Skill
from sportello.core import events
from sportello.core.errors import InvalidInput
from sportello.tickets.models import ACTIVE_CATEGORIES, Category, StatusCategory, Tag, Ticket
from sportello.tickets.services import TicketChanges, update_ticket

log = logging.getLogger("sportello.assignment")

# The states that make up an agent's open load (see the module's docstring for why not pending).
LOAD_STATES = (StatusCategory.NEW, StatusCategory.OPEN)
ASSIGNABLE_ROLES = (Role.AGENT, Role.ADMIN)
SWEEP_LIMIT = 500
MAX_LEVEL = 5


# --- Choosing ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Needs:
    """What a ticket asks of its agent: skills (by id) from its category and tags, and a language."""

    skills: frozenset[int] = frozenset()
    language: str = ""


@dataclass(frozen=True)
class Candidate:
    """An online member of the group, with what the choice needs to know of them."""

    agent_id: int
    load: int
    capacity: int | None
    skills: dict[int, int] = field(default_factory=dict)  # skill id → level
    languages: frozenset[str] = frozenset()

    @property
    def has_room(self) -> bool:
        return self.capacity is None or self.load < self.capacity

    def match(self, needs: Needs) -> tuple[int, int, int]:
        """How well the agent fits: speaks the language, how many needed skills, their levels."""
        had = [self.skills[skill] for skill in needs.skills if skill in self.skills]
        speaks = bool(needs.language) and primary_language(needs.language) in self.languages
        return (int(speaks), len(had), sum(had))


def primary_language(code: str) -> str:
    """ "de-AT" → "de": an agent who speaks German reads Austrian customers too."""
    return code.strip().lower().replace("_", "-").split("-")[0]


def choose_agent(method: str, candidates: Sequence[Candidate], needs: Needs, last_agent_id: int | None) -> int | None:
    """The agent to assign, by `method`, among `candidates` with room; None when all are full."""
    # Round-robin order: the agents after the last one chosen first, then from the start again.
    last = last_agent_id or 0
    rotation = sorted((c for c in candidates if c.has_room), key=lambda c: (c.agent_id <= last, c.agent_id))
    if not rotation:
        return None
    turn = {c.agent_id: position for position, c in enumerate(rotation)}
    if method == AssignmentMethod.ROUND_ROBIN:
        return rotation[0].agent_id
    if method == AssignmentMethod.LEAST_LOAD:
        return min(rotation, key=lambda c: (c.load, turn[c.agent_id])).agent_id
    if method == AssignmentMethod.SKILLS:
        best = max(c.match(needs) for c in rotation)
        matching = [c for c in rotation if c.match(needs) == best]
        return min(matching, key=lambda c: (c.load, turn[c.agent_id])).agent_id
    return None


def needs_of(ticket: Ticket) -> Needs:
    by_category = Q(categories=ticket.category_id) if ticket.category_id else Q(pk__in=[])
    skills = Skill.objects.filter(by_category | Q(tags__tickets=ticket)).values_list("pk", flat=True)
    return Needs(frozenset(skills), primary_language(ticket.language))


def open_loads(agent_ids: Iterable[int]) -> dict[int, int]:
    rows = (
        Ticket.objects.filter(assignee_id__in=list(agent_ids), state__in=LOAD_STATES)
        .values("assignee_id")
        .annotate(n=Count("id"))
    )
    return {row["assignee_id"]: row["n"] for row in rows}


def _candidates(agents: Sequence[User], settings: GroupAssignment, *, with_skills: bool) -> list[Candidate]:
    ids = [agent.pk for agent in agents]
    loads = open_loads(ids)
    profiles = {p.agent_id: p for p in AgentProfile.objects.filter(agent_id__in=ids)}
    skills: dict[int, dict[int, int]] = defaultdict(dict)
    if with_skills:
        for row in AgentSkill.objects.filter(agent_id__in=ids).values("agent_id", "skill_id", "level"):
            skills[row["agent_id"]][row["skill_id"]] = row["level"] or 1
    result = []
    for agent in agents:
        profile = profiles.get(agent.pk)
        own = profile.max_open_tickets if profile else None
        languages = {primary_language(code) for code in profile.languages} if profile else set()
        result.append(
            Candidate(
                agent_id=agent.pk,
                load=loads.get(agent.pk, 0),
                capacity=own if own is not None else settings.default_capacity,
                skills=skills[agent.pk],
                languages=frozenset(languages),
            )
        )
    return result


# --- Assigning --------------------------------------------------------------------------------------


def _waiting(ticket: Ticket | None, group_id: int | None = None) -> bool:
    """Still a ticket for automatic assignment: in a group, nobody's, active, not merged."""
    return (
        ticket is not None
        and ticket.group_id is not None
        and (group_id is None or ticket.group_id == group_id)
        and ticket.assignee_id is None
        and ticket.state in ACTIVE_CATEGORIES
        and ticket.merged_into_id is None
    )


def auto_assign_ticket(ticket_id: int) -> User | None:
    """Assign the ticket to one of its group's available agents; return them, or None.

    1. Lock the group's `GroupAssignment` row: assignments in one group happen one at a time.
    2. Lock the rows of the group's online agents, in id order. Capacity spans groups, and two
       groups may share agents; locking the agents themselves (always in the same order, so two
       groups cannot deadlock) means no other worker is counting their load at the same time.
    3. Lock the ticket and check it is still waiting (a person may have assigned it meanwhile).
    4. Count the agents' open tickets. Under PostgreSQL's READ COMMITTED each statement sees what
       committed before it started, and whoever held the locks before us committed before
       releasing them: a ticket just given to an agent is counted, so two workers can never both
       see "one slot left".
    5. Choose, assign through `update_ticket` as the automation's user, move the pointer.
    """
    from sportello.automation.actions import system_user

    ticket = Ticket.objects.filter(pk=ticket_id).first()
    if not _waiting(ticket):
        return None
    assert ticket is not None and ticket.group_id is not None
    group_id = ticket.group_id
    with transaction.atomic():
        settings = (
            GroupAssignment.objects.select_for_update()
            .filter(group_id=group_id)
            .exclude(method=AssignmentMethod.NONE)
            .first()
        )
        if settings is None:
            return None
        agents = list(
            User.objects.select_for_update(of=("self",), no_key=True)
            .filter(
                support_groups=group_id,
                availability=Availability.ONLINE,
                is_active=True,
                role__in=ASSIGNABLE_ROLES,
            )
            .order_by("pk")
        )
        ticket = Ticket.objects.select_for_update(of=("self",)).filter(pk=ticket_id).first()
        if not agents or not _waiting(ticket, group_id):
            return None
        assert ticket is not None
        method = settings.method
        needs = needs_of(ticket) if method == AssignmentMethod.SKILLS else Needs()
        candidates = _candidates(agents, settings, with_skills=method == AssignmentMethod.SKILLS)
        chosen = choose_agent(method, candidates, needs, settings.last_agent_id)
        if chosen is None:
            log.info("ticket #%s waits: every online agent of group %s is at capacity", ticket.number, group_id)
            return None
        agent = next(a for a in agents if a.pk == chosen)
        update_ticket(ticket, system_user(), TicketChanges(assignee=agent))
        settings.last_agent = agent
        settings.save(update_fields=["last_agent"])
    return agent


def assign_waiting_tickets(limit: int = SWEEP_LIMIT) -> int:
    """The scheduler's retry: assign tickets left waiting; return how many got an agent.

    Oldest first; once a group has nobody with room, its other tickets wait for the next run.
    """
    groups = GroupAssignment.objects.exclude(method=AssignmentMethod.NONE).values("group_id")
    waiting = (
        Ticket.objects.filter(
            group_id__in=groups, assignee__isnull=True, state__in=ACTIVE_CATEGORIES, merged_into__isnull=True
        )
        .order_by("created_at", "id")
        .values_list("pk", "group_id")[:limit]
    )
    full: set[int] = set()
    assigned = 0
    for ticket_id, group_id in waiting:
        if group_id in full:
            continue
        if auto_assign_ticket(ticket_id) is None:
            full.add(group_id)
        else:
            assigned += 1
    return assigned


def on_event(event: events.Event) -> None:
    """The listener: a ticket was created, or moved to another group. No query while no group
    hands out its tickets (`some_group_assigns`)."""
    if (
        event.name == events.TICKET_CREATED
        or (event.name == events.TICKET_UPDATED and "group" in event.data.get("fields", ()))
    ) and some_group_assigns():
        auto_assign_ticket(event.ticket_id)


# Whether some group hands out its tickets, per process: read again when the version in the cache
# (bumped by every GroupAssignment save and delete) changed, and at least every ASSIGNMENT_RECHECK
# seconds (the embedded default's cache is per process; a queryset update saves no model).
ASSIGNMENT_RECHECK = 5.0
_assigning: dict[str, Any] = {"version": None, "read_at": float("-inf"), "some": True}


def some_group_assigns() -> bool:
    import time

    from django.core.cache import cache

    from sportello.automation.models import ASSIGNMENT_VERSION_KEY, bump_assignment_version

    version = cache.get(ASSIGNMENT_VERSION_KEY)
    now = time.monotonic()
    if version is None or version != _assigning["version"] or now - _assigning["read_at"] > ASSIGNMENT_RECHECK:
        if version is None:
            version = bump_assignment_version()
        _assigning["some"] = GroupAssignment.objects.exclude(method=AssignmentMethod.NONE).exists()
        _assigning["version"], _assigning["read_at"] = version, now
    return bool(_assigning["some"])


# --- Settings (admins) -------------------------------------------------------------------------------


def configure_group_assignment(
    group: Group, *, method: str | None = None, default_capacity: int | EllipsisType | None = ...
) -> GroupAssignment:
    """Set a group's method and default capacity (`None`: no limit; left out: unchanged)."""
    if method is not None and method not in AssignmentMethod.values:
        raise InvalidInput(f"Unknown method {method!r}; one of {', '.join(AssignmentMethod.values)}", field="method")
    with transaction.atomic():
        settings, _ = GroupAssignment.objects.select_for_update().get_or_create(group=group)
        if method is not None:
            settings.method = method
        if not isinstance(default_capacity, EllipsisType):
            settings.default_capacity = default_capacity
        settings.updated_at = timezone.now()
        settings.save()
    # Tickets already waiting in the group are picked up by the next sweep (within a minute).
    return settings


def save_skill(
    skill: Skill, *, name: str | None = None, categories: list[int] | None = None, tags: list[str] | None = None
) -> Skill:
    """Create or change a skill; `categories` (ids) and `tags` (names) replace the lists given."""
    if name is not None:
        name = name.strip()
        if not name:
            raise InvalidInput("The name cannot be empty", field="name")
        if Skill.objects.filter(name__iexact=name).exclude(pk=skill.pk).exists():
            raise InvalidInput(f"There is already a skill named {name!r}", field="name")
        skill.name = name
    found_categories = _categories(categories) if categories is not None else None
    with transaction.atomic():
        skill.save()
        if found_categories is not None:
            skill.categories.set(found_categories)
        if tags is not None:
            skill.tags.set(_tags(tags))
    return skill


def _categories(ids: list[int]) -> list[Category]:
    found = list(Category.objects.filter(pk__in=ids))
    missing = sorted(set(ids) - {c.pk for c in found})
    if missing:
        raise InvalidInput(f"No category with id {missing[0]}", field="categories")
    return found


def _tags(names: list[str]) -> list[Tag]:
    from sportello.tickets.intake import _tags as tags_by_name

    return tags_by_name(names)


def delete_skill(skill: Skill) -> None:
    skill.delete()


def set_skill_holders(skill: Skill, levels: Mapping[User, int | None], *, among: Sequence[User]) -> None:
    """Which of the agents `among` have the skill, at what level (None: basic, as 1): those in
    `levels` have it, the others of `among` lose it; agents outside `among` keep theirs. Each row
    changed is saved or deleted on its own, so the audit trail records each agent's skills once."""
    for agent in [*among, *levels]:
        if agent.role not in ASSIGNABLE_ROLES:
            raise InvalidInput(
                f"{agent.display_name} is not an agent: only agents and admins have skills", field="agents"
            )
    for agent, level in levels.items():
        if level is not None and not 1 <= level <= MAX_LEVEL:
            raise InvalidInput(f"The level of {agent.display_name} must be 1 to {MAX_LEVEL}", field="agents")
    wanted = {agent.pk: level for agent, level in levels.items()}
    everyone = {agent.pk: agent for agent in [*among, *levels]}
    with transaction.atomic():
        current = {row.agent_id: row for row in AgentSkill.objects.filter(skill=skill, agent_id__in=list(everyone))}
        for agent in everyone.values():
            row = current.get(agent.pk)
            if agent.pk not in wanted:
                if row is not None:
                    row.delete()
            elif row is None:
                AgentSkill.objects.create(agent=agent, skill=skill, level=wanted[agent.pk])
            elif row.level != wanted[agent.pk]:
                row.level = wanted[agent.pk]
                row.save(update_fields=["level"])


def set_agent_profile(
    agent: User,
    *,
    skills: Sequence[tuple[Skill, int | None]] | None = None,
    languages: list[str] | None = None,
    max_open_tickets: int | EllipsisType | None = ...,
) -> AgentProfile:
    """An agent's skills (replaced whole, with levels), languages and own capacity."""
    if agent.role not in ASSIGNABLE_ROLES:
        raise InvalidInput("Only agents and admins can be given skills and a capacity", field="agent")
    if skills is not None:
        if len({skill.pk for skill, _ in skills}) != len(skills):
            raise InvalidInput("A skill is listed twice", field="skills")
        for skill, level in skills:
            if level is not None and not 1 <= level <= MAX_LEVEL:
                raise InvalidInput(f"The level of {skill.name} must be 1 to {MAX_LEVEL}", field="skills")
    with transaction.atomic():
        profile, _ = AgentProfile.objects.select_for_update().get_or_create(agent=agent)
        if languages is not None:
            codes = [code.strip().lower().replace("_", "-") for code in languages if code.strip()]
            profile.languages = list(dict.fromkeys(codes))
        if not isinstance(max_open_tickets, EllipsisType):
            profile.max_open_tickets = max_open_tickets
        profile.save()
        if skills is not None:
            _replace_skills(agent, skills)
    return profile


def _replace_skills(agent: User, skills: Sequence[tuple[Skill, int | None]]) -> None:
    """Only the rows that change, each saved or deleted on its own: the audit trail sees them
    (and records the agent's skills once, as they were and as they are)."""
    wanted = {skill.pk: (skill, level) for skill, level in skills}
    current = {row.skill_id: row for row in AgentSkill.objects.filter(agent=agent)}
    gone = [row.pk for skill_id, row in current.items() if skill_id not in wanted]
    if gone:
        AgentSkill.objects.filter(pk__in=gone).delete()
    for skill_id, (skill, level) in wanted.items():
        row = current.get(skill_id)
        if row is None:
            AgentSkill.objects.create(agent=agent, skill=skill, level=level)
        elif row.level != level:
            row.level = level
            row.save(update_fields=["level"])


# --- Load (fair distribution, visible) -----------------------------------------------------------------


@dataclass
class AgentLoad:
    id: int
    name: str
    availability: str
    open_tickets: int  # in every group
    open_in_group: int
    capacity: int | None

    @property
    def full(self) -> bool:
        return self.capacity is not None and self.open_tickets >= self.capacity


@dataclass
class GroupLoad:
    id: int
    name: str
    tier: int
    method: str
    default_capacity: int | None
    waiting: int  # unassigned active tickets in the group
    agents: list[AgentLoad]


def load_report() -> list[GroupLoad]:
    """Every group with its agents' open tickets, capacity and availability; a fixed number of queries."""
    groups = list(Group.objects.select_related("assignment").prefetch_related("members").order_by("tier", "name"))
    member_ids = {m.pk for g in groups for m in g.members.all()}
    per_group: dict[tuple[int, int | None], int] = {}
    totals: dict[int, int] = defaultdict(int)
    rows = (
        Ticket.objects.filter(assignee_id__in=member_ids, state__in=LOAD_STATES)
        .values("assignee_id", "group_id")
        .annotate(n=Count("id"))
    )
    for row in rows:
        per_group[(row["assignee_id"], row["group_id"])] = row["n"]
        totals[row["assignee_id"]] += row["n"]
    waiting = dict(
        Ticket.objects.filter(assignee__isnull=True, state__in=ACTIVE_CATEGORIES, merged_into__isnull=True)
        .exclude(group__isnull=True)
        .values_list("group_id")
        .annotate(n=Count("id"))
    )
    own = dict(AgentProfile.objects.filter(agent_id__in=member_ids).values_list("agent_id", "max_open_tickets"))
    report = []
    for group in groups:
        settings: GroupAssignment | None = getattr(group, "assignment", None)
        default = settings.default_capacity if settings else None
        agents = [
            AgentLoad(
                id=member.pk,
                name=member.display_name,
                availability=member.availability,
                open_tickets=totals[member.pk],
                open_in_group=per_group.get((member.pk, group.pk), 0),
                capacity=own[member.pk] if own.get(member.pk) is not None else default,
            )
            for member in sorted(group.members.all(), key=lambda m: m.display_name.casefold())
            if member.is_active and member.role in ASSIGNABLE_ROLES
        ]
        report.append(
            GroupLoad(
                id=group.pk,
                name=group.name,
                tier=group.tier,
                method=settings.method if settings else AssignmentMethod.NONE,
                default_capacity=default,
                waiting=waiting.get(group.pk, 0),
                agents=agents,
            )
        )
    return report
