"""The inbox in the REST API: bulk changes to many tickets, and views (built-in and saved) with counts.

Each handler parses a schema, goes through an access gate, calls one service and renders a schema.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Path, Router, Schema
from pydantic import BeforeValidator, Field

from sportello.accounts.auth import MAX_DB_INT, Id, InputSchema, Moment, Text, Version, caller, errors, text
from sportello.accounts.models import Group, User
from sportello.core.errors import InvalidInput
from sportello.core.jsonbody import not_a_boolean
from sportello.inbox.models import SavedView, Sharing
from sportello.inbox.services import (
    BULK_MAX,
    BulkChanges,
    bulk_targets,
    bulk_update,
    delete_view,
    save_view,
    saved_filters,
    view_for_agent,
    views_for,
)
from sportello.tickets.access import require_agent
from sportello.tickets.models import Status
from sportello.tickets.queries import SLA_FILTERS, VIEWS, TicketFilter, view_counts

router = Router(tags=["inbox"])

ViewId = Annotated[int, Path(ge=1, le=MAX_DB_INT, description="The saved view's id")]
PriorityValue = Annotated[Literal[1, 2, 3, 4], BeforeValidator(not_a_boolean)]
Tag = text(50, min_length=1)


# --- Filters ------------------------------------------------------------------------------------------


class FilterIn(InputSchema):
    """A filter of the ticket list, as the inbox and `GET /tickets` take it; every part optional."""

    view: Literal[tuple(view.slug for view in VIEWS)] | None = Field(  # type: ignore[valid-type]
        None, description="a built-in view to start from"
    )
    state: list[Text] = Field([], description="status categories")
    status: list[Id] = Field([], description="status ids")
    group: list[Id] = []
    assignee: list[Annotated[int, Field(ge=0, le=MAX_DB_INT)]] = Field([], description="agent ids; 0 = unassigned")
    priority: list[PriorityValue] = []
    channel: list[Text] = []
    tag: list[Tag] = Field([], description="tickets with all of these tags")  # type: ignore[valid-type]
    customer: Id | None = None
    organization: Id | None = None
    sla: Literal[tuple(SLA_FILTERS)] | None = Field(  # type: ignore[valid-type]
        None, description="breaching within 1 h, or breached"
    )
    created_from: Moment | None = Field(None, description="created at or after")
    created_until: Moment | None = Field(None, description="created before")
    updated_from: Moment | None = Field(None, description="updated at or after")
    updated_until: Moment | None = Field(None, description="updated before")
    custom: dict[Text, text(300)] = Field(  # type: ignore[valid-type]
        {}, description="custom fields by key (GET /fields): part of a text, a choice, a number, a date, yes or no"
    )

    def ticket_filter(self) -> TicketFilter:
        return TicketFilter(**self.model_dump())


class FilterOut(Schema):
    view: str | None = None
    state: list[str] = []
    status: list[int] = []
    group: list[int] = []
    assignee: list[int] = []
    priority: list[int] = []
    channel: list[str] = []
    tag: list[str] = []
    customer: int | None = None
    organization: int | None = None
    sla: str | None = None
    created_from: datetime | None = None
    created_until: datetime | None = None
    updated_from: datetime | None = None
    updated_until: datetime | None = None
    custom: dict[str, str] = {}


# --- Bulk changes -------------------------------------------------------------------------------------


class BulkTicketIn(InputSchema):
    number: Id
    version: Version | None = Field(None, description="the version you saw; a ticket changed since is refused")


class BulkIn(InputSchema):
    """Which tickets (`tickets`, or every ticket `filter` matches) and one action: field changes,
    `merge_into`, `spam`, or `delete` (admins)."""

    tickets: list[BulkTicketIn] = Field([], max_length=BULK_MAX)
    filter: FilterIn | None = Field(None, description=f"instead of `tickets`: every match, at most {BULK_MAX}")
    status: Id | None = Field(None, description="status id")
    priority: PriorityValue | None = None
    group: Id | None = None
    clear_group: bool = False
    assignee: Id | None = Field(None, description="agent id")
    clear_assignee: bool = False
    add_tags: list[Tag] = Field([], max_length=20)  # type: ignore[valid-type]
    remove_tags: list[Tag] = Field([], max_length=20)  # type: ignore[valid-type]
    merge_into: Id | None = Field(None, description="merge every other chosen ticket into this number")
    spam: bool = Field(False, description="mark the tickets as spam (hidden from every view but Spam)")
    delete: bool = Field(False, description="delete the tickets for good (admins only)")

    def changes(self) -> BulkChanges:
        return BulkChanges(
            status=_row(Status, self.status, "status"),
            priority=self.priority,
            group=_row(Group, self.group, "group"),
            clear_group=self.clear_group,
            assignee=_row(User, self.assignee, "assignee"),
            clear_assignee=self.clear_assignee,
            add_tags=list(self.add_tags),
            remove_tags=list(self.remove_tags),
            merge_into=self.merge_into,
            spam=self.spam,
            delete=self.delete,
        )


def _row(model: Any, pk: int | None, name: str) -> Any:
    if pk is None:
        return None
    found = model._default_manager.filter(pk=pk).first()
    if found is None:
        raise InvalidInput(f"No {name} with id {pk}", field=name)
    return found


class RefusalOut(Schema):
    number: int
    reason: str


class BulkOut(Schema):
    updated: list[int] = Field(description="numbers of the tickets changed")
    unchanged: list[int] = Field(description="numbers of the tickets that were so already")
    refused: list[RefusalOut] = Field(description="tickets left as they were, each with the reason")


@router.post("/tickets/bulk", response={200: BulkOut, **errors(422)})
def bulk_update_tickets(request: HttpRequest, data: BulkIn) -> Any:
    """Change many tickets in one call, each in a transaction of its own; a ticket that cannot
    change (not found, changed since `version`, refused by a rule) is listed in `refused` with the
    reason, and the others still change."""
    user = caller(request)
    require_agent(user)
    if data.filter is not None and data.tickets:
        raise InvalidInput("Send either tickets or filter, not both", field="filter")
    if data.filter is not None:
        targets = bulk_targets(user, data.filter.ticket_filter())
    else:
        targets = [(t.number, t.version) for t in data.tickets]
    return bulk_update(user, targets, data.changes())


# --- Views --------------------------------------------------------------------------------------------


class BuiltinViewOut(Schema):
    slug: str
    title: str
    count: int = Field(description=f"tickets in the view; {1000 + 1} means more than 1000")


class SavedViewOut(Schema):
    id: int
    name: str
    sharing: str = Field(description="personal, group or everyone")
    group: int | None
    owner: int
    filter: FilterOut
    count: int | None = Field(None, description="tickets in the view; 1001 means more than 1000")

    @staticmethod
    def resolve_group(obj: SavedView) -> int | None:
        return obj.group_id

    @staticmethod
    def resolve_owner(obj: SavedView) -> int:
        return obj.owner_id


class ViewsOut(Schema):
    builtin: list[BuiltinViewOut]
    saved: list[SavedViewOut]


class SavedViewIn(InputSchema):
    name: text(80, min_length=1)  # type: ignore[valid-type]
    sharing: Literal[tuple(Sharing.values)] = Sharing.PERSONAL  # type: ignore[valid-type]
    group: Id | None = Field(None, description="the group it is shared with (sharing: group)")
    filter: FilterIn


@router.get("/views", response={200: ViewsOut, **errors()})
def list_views(request: HttpRequest) -> Any:
    """The built-in views and the saved views you see (yours, your groups', everyone's), each with
    its count, counted in one statement however many there are."""
    user = caller(request)
    require_agent(user)
    saved = list(views_for(user))
    counts = view_counts(user, saved_filters(saved))
    for view in saved:
        view.count = int(counts[view.count_key])  # type: ignore[attr-defined]
    return {
        "builtin": [{"slug": v.slug, "title": v.title, "count": int(counts[v.slug])} for v in VIEWS],
        "saved": saved,
    }


@router.post("/views", response={201: SavedViewOut, **errors(422)})
def create_view(request: HttpRequest, data: SavedViewIn) -> Any:
    """Save a filter as a view: personal, shared with a group you are in, or (admins) with everyone."""
    user = caller(request)
    require_agent(user)
    view = save_view(
        user,
        name=data.name,
        flt=data.filter.ticket_filter(),
        sharing=data.sharing,
        group=_row(Group, data.group, "group"),
    )
    return 201, view


@router.delete("/views/{view_id}", response={204: None, **errors(404, 422)})
def delete_view_(request: HttpRequest, view_id: ViewId) -> Any:
    """Delete a view: your own, or (admins) a shared one."""
    user = caller(request)
    require_agent(user)
    delete_view(user, view_for_agent(user, view_id))
    return 204, None
