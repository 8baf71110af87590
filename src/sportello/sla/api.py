"""SLA in the REST API: calendars and policies (agents read, admins write), and ticket escalation.

Each handler parses a schema, goes through an access gate, calls one service and renders a schema.
"""

from __future__ import annotations

from datetime import date, time
from typing import Annotated, Any, Literal

from django.db import transaction
from django.http import HttpRequest
from ninja import Path, Router, Schema, Status
from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

from sportello.accounts.auth import MAX_DB_INT, Id, InputSchema, Version, caller, errors, text
from sportello.accounts.models import Group
from sportello.core.errors import InvalidInput, NotFound
from sportello.core.jsonbody import Flag, NotBoolean
from sportello.sla import services
from sportello.sla.models import Calendar, Policy
from sportello.sla.preview import preview_policy
from sportello.sla.schemas import TicketSlaOut, sla_state
from sportello.tickets.access import require_admin, require_agent, ticket_for_agent
from sportello.tickets.api import Number, TicketDetailOut
from sportello.tickets.escalation import deescalate_ticket, escalate_ticket
from sportello.tickets.models import Channel

router = Router(tags=["sla"])

ObjectId = Annotated[int, Path(ge=1, le=MAX_DB_INT)]
Minutes = Annotated[int, Field(ge=1, le=10 * 365 * 24 * 60), NotBoolean]
PriorityValue = Annotated[Literal[1, 2, 3, 4], NotBoolean]


def _time_text(value: Any) -> Any:
    if not isinstance(value, str | time):  # pydantic would read a number as seconds since midnight
        raise ValueError("a time of day such as 09:00")
    return value


def _wall_clock(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("a time of day in the calendar's time zone, without an offset")
    return value


# A time of day on the calendar's clock ("09:00", "17:30:00"). OpenAPI's `format: time` means an
# RFC 3339 time with a UTC offset, which is not what an opening hour is; so the document gives the
# pattern, and an offset is refused rather than silently dropped.
WallClock = Annotated[
    time,
    BeforeValidator(_time_text),
    AfterValidator(_wall_clock),
    WithJsonSchema({"type": "string", "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$"}),
]
ChannelValue = Literal[tuple(Channel.values)]  # type: ignore[valid-type]


# --- Schemas ----------------------------------------------------------------------------------------


class IntervalSchema(Schema):
    weekday: Annotated[int, Field(ge=0, le=6), NotBoolean] = Field(description="0 = Monday")
    start: WallClock = Field(examples=["09:00"])
    end: WallClock = Field(description="00:00 means midnight (the end of the day)", examples=["18:00"])


class HolidaySchema(Schema):
    date: date
    name: text(100) = ""  # type: ignore[valid-type]
    yearly: Flag = False


class CalendarOut(Schema):
    id: int
    name: str
    time_zone: str
    holiday_countries: str
    intervals: list[IntervalSchema]
    holidays: list[HolidaySchema]

    @staticmethod
    def resolve_intervals(obj: Calendar) -> list[Any]:
        return list(obj.intervals.all())

    @staticmethod
    def resolve_holidays(obj: Calendar) -> list[Any]:
        return list(obj.holidays.all())


class CalendarIn(InputSchema):
    name: text(100, min_length=1)  # type: ignore[valid-type]
    time_zone: text(64, min_length=1) = "UTC"  # type: ignore[valid-type]
    holiday_countries: text(200) = Field("", description="e.g. 'IT, DE-BY'")  # type: ignore[valid-type]
    intervals: list[IntervalSchema] = Field([], max_length=200)
    holidays: list[HolidaySchema] = Field([], max_length=1000)


class CalendarUpdateIn(InputSchema):
    name: text(100, min_length=1) | None = None  # type: ignore[valid-type]
    time_zone: text(64, min_length=1) | None = None  # type: ignore[valid-type]
    holiday_countries: text(200) | None = None  # type: ignore[valid-type]
    intervals: list[IntervalSchema] | None = Field(None, max_length=200, description="replaces the intervals")
    holidays: list[HolidaySchema] | None = Field(None, max_length=1000, description="replaces the holidays")


class TargetSchema(Schema):
    priority: PriorityValue
    first_response_minutes: Minutes | None = None
    next_response_minutes: Minutes | None = None
    resolution_minutes: Minutes | None = None


class PolicyOut(Schema):
    id: int
    name: str
    position: int
    active: bool
    calendar: int | None = Field(None, alias="calendar_id")
    priorities: list[int]
    channels: list[str]
    tiers: list[int]
    groups: list[int]
    organizations: list[int]
    tags: list[str]
    warning_minutes: int
    targets: list[TargetSchema]

    @staticmethod
    def resolve_groups(obj: Policy) -> list[int]:
        return [group.pk for group in obj.groups.all()]

    @staticmethod
    def resolve_organizations(obj: Policy) -> list[int]:
        return [organization.pk for organization in obj.organizations.all()]

    @staticmethod
    def resolve_tags(obj: Policy) -> list[str]:
        return [tag.name for tag in obj.tags.all()]

    @staticmethod
    def resolve_targets(obj: Policy) -> list[Any]:
        return list(obj.targets.all())


class PolicyIn(InputSchema):
    name: text(100, min_length=1)  # type: ignore[valid-type]
    position: Annotated[int, Field(ge=0, le=2**31 - 1), NotBoolean] = 100
    active: Flag = True
    calendar: Id | None = Field(None, description="a calendar id; empty: around the clock")
    priorities: list[PriorityValue] = []
    channels: list[ChannelValue] = []  # type: ignore[valid-type]
    tiers: list[Annotated[int, Field(ge=1, le=9), NotBoolean]] = []
    groups: list[Id] = []
    organizations: list[Id] = []
    tags: list[text(50)] = []  # type: ignore[valid-type]
    warning_minutes: Annotated[int, Field(ge=0, le=100_000), NotBoolean] = 60
    targets: list[TargetSchema] = Field([], max_length=4)
    confirm_all_tickets: Flag = Field(
        False,
        description=(
            "true to save an active policy with no conditions, which applies to every ticket no policy above it "
            "takes; without it such a policy is refused (422)"
        ),
    )


class PolicyUpdateIn(InputSchema):
    name: text(100, min_length=1) | None = None  # type: ignore[valid-type]
    position: Annotated[int, Field(ge=0, le=2**31 - 1), NotBoolean] | None = None
    active: Flag | None = None
    calendar: Id | None = None
    priorities: list[PriorityValue] | None = None
    channels: list[ChannelValue] | None = None  # type: ignore[valid-type]
    tiers: list[Annotated[int, Field(ge=1, le=9), NotBoolean]] | None = None
    groups: list[Id] | None = None
    organizations: list[Id] | None = None
    tags: list[text(50)] | None = None  # type: ignore[valid-type]
    warning_minutes: Annotated[int, Field(ge=0, le=100_000), NotBoolean] | None = None
    targets: list[TargetSchema] | None = Field(None, max_length=4)
    confirm_all_tickets: Flag = Field(
        False,
        description=(
            "true to save an active policy with no conditions, which applies to every ticket no policy above it "
            "takes; without it such a policy is refused (422)"
        ),
    )


class EscalateIn(InputSchema):
    note: text(5000, min_length=1) = Field(description="the hand-off note (an internal note)")  # type: ignore[valid-type]
    group: Id | None = Field(None, description="a group of a higher (lower) tier; default: the next tier's first")
    expected_version: Version | None = None


# --- Helpers ------------------------------------------------------------------------------------------


def _calendar(calendar_id: int) -> Calendar:
    found = Calendar.objects.prefetch_related("intervals", "holidays").filter(pk=calendar_id).first()
    if found is None:
        raise NotFound(f"No calendar {calendar_id}")
    return found


def _policy(policy_id: int) -> Policy:
    found = Policy.objects.prefetch_related("groups", "organizations", "tags", "targets").filter(pk=policy_id).first()
    if found is None:
        raise NotFound(f"No policy {policy_id}")
    return found


def _calendar_writes(data: CalendarIn | CalendarUpdateIn) -> dict[str, Any]:
    given = data.model_fields_set if isinstance(data, CalendarUpdateIn) else set(CalendarIn.model_fields)
    fields = {
        name: getattr(data, name)
        for name in ("name", "time_zone", "holiday_countries")
        if name in given and getattr(data, name) is not None
    }
    intervals = holidays = None
    if "intervals" in given and data.intervals is not None:
        intervals = [services.IntervalIn(i.weekday, i.start, i.end) for i in data.intervals]
    if "holidays" in given and data.holidays is not None:
        holidays = [services.HolidayIn(h.date, h.name, h.yearly) for h in data.holidays]
    return {"fields": fields, "intervals": intervals, "holidays": holidays}


def _policy_writes(data: PolicyIn | PolicyUpdateIn) -> dict[str, Any]:
    given = data.model_fields_set if isinstance(data, PolicyUpdateIn) else set(PolicyIn.model_fields)
    fields: dict[str, Any] = {}
    for name in ("name", "position", "active", "priorities", "channels", "tiers", "warning_minutes"):
        if name in given and getattr(data, name) is not None:
            fields[name] = getattr(data, name)
    if "calendar" in given:
        calendar = Calendar.objects.filter(pk=data.calendar).first() if data.calendar else None
        if data.calendar and calendar is None:
            raise InvalidInput(f"No calendar with id {data.calendar}", field="calendar")
        fields["calendar"] = calendar
    targets = (
        [services.TargetIn(**t.model_dump()) for t in data.targets]
        if "targets" in given and data.targets is not None
        else None
    )
    relations = {name: getattr(data, name) if name in given else None for name in ("groups", "organizations", "tags")}
    return {"fields": fields, "targets": targets, **relations}


def _save_policy(policy: Policy, data: PolicyIn | PolicyUpdateIn) -> Policy:
    """Save through the service; a change that leaves the policy active with no conditions (so it
    takes every ticket no policy above it takes) is rolled back unless `confirm_all_tickets` is
    true, as the settings page asks before saving one. Editing a policy that already took every
    ticket, without changing that, needs no confirmation."""
    already = policy.pk is not None and services.takes_every_ticket(policy)
    with transaction.atomic():
        saved = services.save_policy(policy, **_policy_writes(data))
        if not already and not data.confirm_all_tickets and services.takes_every_ticket(saved):
            taken = preview_policy(services.Conditions.of(_policy(saved.pk)), saved.position, saved.pk).taken
            raise InvalidInput(
                f"This policy has no conditions: it would apply to every ticket no policy above it takes "
                f'({taken} open ticket(s) today). Add a condition, or send "confirm_all_tickets": true '
                f"to save it anyway",
                field="confirm_all_tickets",
            )
    return saved


# --- Calendars ----------------------------------------------------------------------------------------


@router.get("/sla/calendars", response={200: list[CalendarOut], **errors()})
def list_calendars(request: HttpRequest) -> Any:
    require_agent(caller(request))
    return Calendar.objects.prefetch_related("intervals", "holidays")


@router.post("/sla/calendars", response={201: CalendarOut, **errors(409, 422)})
def create_calendar(request: HttpRequest, data: CalendarIn) -> Any:
    """Admins only."""
    require_admin(caller(request))
    calendar = services.save_calendar(Calendar(), **_calendar_writes(data))
    return Status(201, _calendar(calendar.pk))


@router.get("/sla/calendars/{calendar_id}", response={200: CalendarOut, **errors(404)})
def get_calendar(request: HttpRequest, calendar_id: ObjectId) -> Any:
    require_agent(caller(request))
    return _calendar(calendar_id)


@router.patch("/sla/calendars/{calendar_id}", response={200: CalendarOut, **errors(404, 409, 422)})
def update_calendar(request: HttpRequest, calendar_id: ObjectId, data: CalendarUpdateIn) -> Any:
    """Admins only; only the fields given change (intervals and holidays are replaced whole)."""
    require_admin(caller(request))
    services.save_calendar(_calendar(calendar_id), **_calendar_writes(data))
    return _calendar(calendar_id)


@router.delete("/sla/calendars/{calendar_id}", response={204: None, **errors(404, 409)})
def delete_calendar(request: HttpRequest, calendar_id: ObjectId) -> Any:
    """Admins only; a calendar a policy uses cannot be deleted (409)."""
    require_admin(caller(request))
    services.delete_calendar(_calendar(calendar_id))
    return Status(204, None)


# --- Policies -----------------------------------------------------------------------------------------


@router.get("/sla/policies", response={200: list[PolicyOut], **errors()})
def list_policies(request: HttpRequest) -> Any:
    """In the order they are tried: the first that matches a ticket applies."""
    require_agent(caller(request))
    return Policy.objects.prefetch_related("groups", "organizations", "tags", "targets").order_by("position", "id")


@router.post("/sla/policies", response={201: PolicyOut, **errors(409, 422)})
def create_policy(request: HttpRequest, data: PolicyIn) -> Any:
    """Admins only. A policy with no conditions takes every ticket no policy above it takes: saved
    active only with `confirm_all_tickets: true`."""
    require_admin(caller(request))
    policy = _save_policy(Policy(), data)
    return Status(201, _policy(policy.pk))


@router.get("/sla/policies/{policy_id}", response={200: PolicyOut, **errors(404)})
def get_policy(request: HttpRequest, policy_id: ObjectId) -> Any:
    require_agent(caller(request))
    return _policy(policy_id)


@router.patch("/sla/policies/{policy_id}", response={200: PolicyOut, **errors(404, 409, 422)})
def update_policy(request: HttpRequest, policy_id: ObjectId, data: PolicyUpdateIn) -> Any:
    """Admins only; only the fields given change (lists and targets are replaced whole)."""
    require_admin(caller(request))
    _save_policy(_policy(policy_id), data)
    return _policy(policy_id)


@router.delete("/sla/policies/{policy_id}", response={204: None, **errors(404)})
def delete_policy(request: HttpRequest, policy_id: ObjectId) -> Any:
    """Admins only."""
    require_admin(caller(request))
    services.delete_policy(_policy(policy_id))
    return Status(204, None)


# --- Ticket SLA state and escalation ------------------------------------------------------------------


@router.get("/tickets/{number}/sla", response={200: TicketSlaOut | None, **errors(404, 422)})
def get_ticket_sla(request: HttpRequest, number: Number) -> Any:
    """The ticket's SLA clocks: due times, time left, breached targets; null without a policy yet."""
    return sla_state(ticket_for_agent(caller(request), number))


@router.post("/tickets/{number}/escalate", response={200: TicketDetailOut, **errors(404, 409, 422)})
def escalate(request: HttpRequest, number: Number, data: EscalateIn) -> Any:
    """Move the ticket to a group of a higher tier, with a hand-off note."""
    ticket = ticket_for_agent(caller(request), number, write=True)
    group = _group(data.group)
    return escalate_ticket(ticket, caller(request), note=data.note, group=group, expected_version=data.expected_version)


@router.post("/tickets/{number}/deescalate", response={200: TicketDetailOut, **errors(404, 409, 422)})
def deescalate(request: HttpRequest, number: Number, data: EscalateIn) -> Any:
    """Move the ticket to a group of a lower tier, with a hand-off note."""
    ticket = ticket_for_agent(caller(request), number, write=True)
    group = _group(data.group)
    return deescalate_ticket(
        ticket, caller(request), note=data.note, group=group, expected_version=data.expected_version
    )


def _group(group_id: int | None) -> Group | None:
    if group_id is None:
        return None
    found = Group.objects.filter(pk=group_id).first()
    if found is None:
        raise InvalidInput(f"No group with id {group_id}", field="group")
    return found
