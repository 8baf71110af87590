"""Agents and groups in the REST API: who am I, the agents, the groups (admins edit groups)."""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Path, Router, Schema, Status
from pydantic import Field

from sportello.accounts.auth import MAX_DB_INT, Id, InputSchema, Text, caller, errors, text
from sportello.accounts.models import Group, Role, User
from sportello.accounts.services import save_group
from sportello.core.errors import NotFound
from sportello.tickets.access import require_admin, require_agent

router = Router(tags=["agents and groups"])

STAFF_ROLES = (Role.ADMIN, Role.AGENT, Role.LIGHT_AGENT)


class AgentOut(Schema):
    id: int
    username: str
    name: str
    email: str
    role: str
    availability: str
    restricted_to_groups: bool
    groups: list[int]

    @staticmethod
    def resolve_name(obj: User) -> str:
        return obj.display_name

    @staticmethod
    def resolve_groups(obj: User) -> list[int]:
        return [group.pk for group in obj.support_groups.all()]


class MeOut(AgentOut):
    can_reply: bool
    is_admin: bool


class GroupOut(Schema):
    id: int
    name: str
    description: str
    tier: int
    members: list[int]

    @staticmethod
    def resolve_members(obj: Group) -> list[int]:
        return [member.pk for member in obj.members.all()]


class GroupIn(InputSchema):
    name: text(100, min_length=1)  # type: ignore[valid-type]
    description: Text = ""
    tier: int = Field(1, ge=1, le=9)
    members: list[Id] = Field([], description="agent ids")


class GroupUpdateIn(InputSchema):
    name: text(100, min_length=1) | None = None  # type: ignore[valid-type]
    description: Text | None = None
    tier: int | None = Field(None, ge=1, le=9)
    members: list[Id] | None = Field(None, description="agent ids; replaces the members")


# --- Group writes -----------------------------------------------------------------------------------


# --- Operations ---------------------------------------------------------------------------------------


@router.get("/me", response={200: MeOut, **errors()})
def me(request: HttpRequest) -> Any:
    """The agent the token belongs to."""
    require_agent(caller(request))
    return caller(request)


@router.get("/agents", response={200: list[AgentOut], **errors()})
def list_agents(request: HttpRequest) -> Any:
    """Active agents, light agents and admins, with the ids of their groups."""
    require_agent(caller(request))
    agents = User.objects.filter(is_active=True, role__in=STAFF_ROLES).prefetch_related("support_groups")
    return agents.order_by("first_name", "username")


@router.get("/groups", response={200: list[GroupOut], **errors()})
def list_groups(request: HttpRequest) -> Any:
    require_agent(caller(request))
    return Group.objects.prefetch_related("members")


@router.post("/groups", response={201: GroupOut, **errors(409, 422)})
def create_group(request: HttpRequest, data: GroupIn) -> Any:
    """Admins only."""
    require_admin(caller(request))
    return Status(201, save_group(Group(), data.model_dump(exclude={"members"}), data.members))


@router.patch("/groups/{group_id}", response={200: GroupOut, **errors(404, 409, 422)})
def update_group(request: HttpRequest, group_id: Annotated[int, Path(ge=1, le=MAX_DB_INT)], data: GroupUpdateIn) -> Any:
    """Admins only; only the fields given change."""
    require_admin(caller(request))
    group = Group.objects.filter(pk=group_id).first()
    if group is None:
        raise NotFound(f"No group {group_id}")
    fields = {name: value for name, value in data.model_dump(exclude={"members"}).items() if value is not None}
    return save_group(group, fields, data.members)
