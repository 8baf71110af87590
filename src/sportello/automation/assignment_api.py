"""Automatic assignment in the REST API: the agents' load per group, each group's method and
capacity, skills (with the categories and tags that need them), and agents' skills, languages
and capacities. Agents read; admins write.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from django.http import HttpRequest
from ninja import Path, Router, Schema, Status
from pydantic import Field

from sportello.accounts.auth import MAX_DB_INT, Id, InputSchema, caller, errors, text
from sportello.accounts.models import Group, User
from sportello.automation import assignment
from sportello.automation.models import AgentProfile, AgentSkill, AssignmentMethod, GroupAssignment, Skill
from sportello.core.errors import InvalidInput, NotFound
from sportello.core.jsonbody import NotBoolean
from sportello.tickets.access import require_admin, require_agent

router = Router(tags=["assignment"])

ObjectId = Annotated[int, Path(ge=1, le=MAX_DB_INT)]
MethodValue = Literal["none", "round_robin", "least_load", "skills"]
# The schema follows the model (checked when the module loads, so a new method cannot be forgotten).
assert set(get_args(MethodValue)) == set(AssignmentMethod.values)
Capacity = Annotated[int, Field(ge=0, le=100_000), NotBoolean]
Level = Annotated[int, Field(ge=1, le=assignment.MAX_LEVEL), NotBoolean]
LanguageCode = Annotated[str, Field(pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$", max_length=10)]


# --- Schemas ---------------------------------------------------------------------------------------


class AgentLoadOut(Schema):
    id: int
    name: str
    availability: str
    open_tickets: int = Field(description="tickets new or open, in every group")
    open_in_group: int
    capacity: int | None = Field(description="null: no limit")
    full: bool


class GroupLoadOut(Schema):
    id: int
    name: str
    tier: int
    method: str
    default_capacity: int | None
    waiting: int = Field(description="unassigned active tickets in the group")
    agents: list[AgentLoadOut]


class GroupAssignmentOut(Schema):
    group: int
    name: str
    method: str
    default_capacity: int | None
    last_agent: int | None


class GroupAssignmentIn(InputSchema):
    method: MethodValue | None = None
    default_capacity: Capacity | None = Field(None, description="null: no limit")


class SkillOut(Schema):
    id: int
    name: str
    categories: list[int]
    tags: list[str]

    @staticmethod
    def resolve_categories(obj: Skill) -> list[int]:
        return [category.pk for category in obj.categories.all()]

    @staticmethod
    def resolve_tags(obj: Skill) -> list[str]:
        return [tag.name for tag in obj.tags.all()]


class SkillIn(InputSchema):
    name: text(80, min_length=1)  # type: ignore[valid-type]
    categories: list[Id] = Field([], max_length=500, description="tickets of these categories need the skill")
    tags: list[text(50, min_length=1)] = Field([], max_length=500, description="so do tickets with these tags")  # type: ignore[valid-type]


class SkillUpdateIn(InputSchema):
    name: text(80, min_length=1) | None = None  # type: ignore[valid-type]
    categories: list[Id] | None = Field(None, max_length=500, description="replaces the list")
    tags: list[text(50, min_length=1)] | None = Field(None, max_length=500, description="replaces the list")  # type: ignore[valid-type]


class AgentSkillSchema(Schema):
    skill: Id
    level: Level | None = None


class AgentProfileOut(Schema):
    agent: int
    name: str
    skills: list[AgentSkillSchema]
    languages: list[str]
    max_open_tickets: int | None


class AgentProfileIn(InputSchema):
    skills: list[AgentSkillSchema] | None = Field(None, max_length=200, description="replaces the list")
    languages: list[LanguageCode] | None = Field(None, max_length=50, description="e.g. ['it', 'de']")
    max_open_tickets: Capacity | None = Field(None, description="null: the group's default")


# --- Helpers ------------------------------------------------------------------------------------------


def _group(group_id: int) -> Group:
    found = Group.objects.select_related("assignment").filter(pk=group_id).first()
    if found is None:
        raise NotFound(f"No group {group_id}")
    return found


def _group_out(group: Group) -> dict[str, Any]:
    settings: GroupAssignment | None = getattr(group, "assignment", None)
    return {
        "group": group.pk,
        "name": group.name,
        "method": settings.method if settings else AssignmentMethod.NONE,
        "default_capacity": settings.default_capacity if settings else None,
        "last_agent": settings.last_agent_id if settings else None,
    }


def _skill(skill_id: int) -> Skill:
    found = Skill.objects.prefetch_related("categories", "tags").filter(pk=skill_id).first()
    if found is None:
        raise NotFound(f"No skill {skill_id}")
    return found


def _agent(agent_id: int) -> User:
    found = User.objects.filter(pk=agent_id, is_active=True, role__in=assignment.ASSIGNABLE_ROLES).first()
    if found is None:
        raise NotFound(f"No agent {agent_id}")
    return found


def _profiles(agents: list[User]) -> list[dict[str, Any]]:
    ids = [agent.pk for agent in agents]
    profiles = {p.agent_id: p for p in AgentProfile.objects.filter(agent_id__in=ids)}
    skills: dict[int, list[dict[str, Any]]] = {pk: [] for pk in ids}
    for row in (
        AgentSkill.objects.filter(agent_id__in=ids).order_by("skill__name").values("agent_id", "skill_id", "level")
    ):
        skills[row["agent_id"]].append({"skill": row["skill_id"], "level": row["level"]})
    return [
        {
            "agent": agent.pk,
            "name": agent.display_name,
            "skills": skills[agent.pk],
            "languages": profiles[agent.pk].languages if agent.pk in profiles else [],
            "max_open_tickets": profiles[agent.pk].max_open_tickets if agent.pk in profiles else None,
        }
        for agent in agents
    ]


# --- Load -----------------------------------------------------------------------------------------------


@router.get("/assignment/load", response={200: list[GroupLoadOut], **errors()})
def assignment_load(request: HttpRequest) -> Any:
    """Per group: its method and, per agent, availability, open tickets and capacity."""
    require_agent(caller(request))
    return assignment.load_report()


# --- Groups -----------------------------------------------------------------------------------------------


@router.get("/assignment/groups", response={200: list[GroupAssignmentOut], **errors()})
def list_group_assignments(request: HttpRequest) -> Any:
    require_agent(caller(request))
    return [_group_out(group) for group in Group.objects.select_related("assignment")]


@router.get("/assignment/groups/{group_id}", response={200: GroupAssignmentOut, **errors(404)})
def get_group_assignment(request: HttpRequest, group_id: ObjectId) -> Any:
    require_agent(caller(request))
    return _group_out(_group(group_id))


@router.patch("/assignment/groups/{group_id}", response={200: GroupAssignmentOut, **errors(404, 422)})
def update_group_assignment(request: HttpRequest, group_id: ObjectId, data: GroupAssignmentIn) -> Any:
    """Admins only; only the fields given change (`default_capacity: null` means no limit)."""
    require_admin(caller(request))
    given = data.model_fields_set
    capacity = data.default_capacity if "default_capacity" in given else ...
    assignment.configure_group_assignment(_group(group_id), method=data.method, default_capacity=capacity)
    return _group_out(_group(group_id))


# --- Skills -----------------------------------------------------------------------------------------------


@router.get("/assignment/skills", response={200: list[SkillOut], **errors()})
def list_skills(request: HttpRequest) -> Any:
    require_agent(caller(request))
    return Skill.objects.prefetch_related("categories", "tags")


@router.post("/assignment/skills", response={201: SkillOut, **errors(422)})
def create_skill(request: HttpRequest, data: SkillIn) -> Any:
    """Admins only."""
    require_admin(caller(request))
    skill = assignment.save_skill(Skill(), name=data.name, categories=data.categories, tags=data.tags)
    return Status(201, _skill(skill.pk))


@router.get("/assignment/skills/{skill_id}", response={200: SkillOut, **errors(404)})
def get_skill(request: HttpRequest, skill_id: ObjectId) -> Any:
    require_agent(caller(request))
    return _skill(skill_id)


@router.patch("/assignment/skills/{skill_id}", response={200: SkillOut, **errors(404, 422)})
def update_skill(request: HttpRequest, skill_id: ObjectId, data: SkillUpdateIn) -> Any:
    """Admins only; only the fields given change (the lists are replaced whole)."""
    require_admin(caller(request))
    assignment.save_skill(_skill(skill_id), name=data.name, categories=data.categories, tags=data.tags)
    return _skill(skill_id)


@router.delete("/assignment/skills/{skill_id}", response={204: None, **errors(404)})
def delete_skill(request: HttpRequest, skill_id: ObjectId) -> Any:
    """Admins only; agents lose the skill too."""
    require_admin(caller(request))
    assignment.delete_skill(_skill(skill_id))
    return Status(204, None)


# --- Agents -----------------------------------------------------------------------------------------------


@router.get("/assignment/agents", response={200: list[AgentProfileOut], **errors()})
def list_agent_profiles(request: HttpRequest) -> Any:
    """Every active agent and admin: skills with levels, languages, own capacity."""
    require_agent(caller(request))
    agents = User.objects.filter(is_active=True, role__in=assignment.ASSIGNABLE_ROLES).order_by("username")
    return _profiles(list(agents))


@router.get("/assignment/agents/{agent_id}", response={200: AgentProfileOut, **errors(404)})
def get_agent_profile(request: HttpRequest, agent_id: ObjectId) -> Any:
    require_agent(caller(request))
    return _profiles([_agent(agent_id)])[0]


@router.patch("/assignment/agents/{agent_id}", response={200: AgentProfileOut, **errors(404, 422)})
def update_agent_profile(request: HttpRequest, agent_id: ObjectId, data: AgentProfileIn) -> Any:
    """Admins only; only the fields given change (skills and languages are replaced whole)."""
    require_admin(caller(request))
    agent = _agent(agent_id)
    skills = None
    if data.skills is not None:
        found = Skill.objects.in_bulk([s.skill for s in data.skills])
        missing = [s.skill for s in data.skills if s.skill not in found]
        if missing:
            raise InvalidInput(f"No skill with id {missing[0]}", field="skills")
        skills = [(found[s.skill], s.level) for s in data.skills]
    capacity = data.max_open_tickets if "max_open_tickets" in data.model_fields_set else ...
    assignment.set_agent_profile(agent, skills=skills, languages=data.languages, max_open_tickets=capacity)
    return _profiles([agent])[0]
