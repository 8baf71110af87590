"""Automation in the REST API: triggers and time rules (agents read, admins write), macros
(shared and personal; search and apply to a ticket), and the log of outgoing webhooks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from django.http import HttpRequest
from ninja import Path, Query, Router, Schema, Status
from pydantic import Field, WithJsonSchema

from sportello.accounts.auth import MAX_DB_INT, InputSchema, Version, caller, errors, text
from sportello.automation import services
from sportello.automation.actions import FIELD_ACTIONS, OTHER_ACTIONS
from sportello.automation.models import Macro, Match, TimeRule, Trigger, TriggerEvent, WebhookCall
from sportello.core.errors import NotFound
from sportello.core.jsonbody import Flag, NotBoolean
from sportello.tickets.access import require_admin, require_agent, ticket_for_agent

router = Router(tags=["automation"])

ObjectId = Annotated[int, Path(ge=1, le=MAX_DB_INT)]
EventValue = Literal[
    "ticket_created",
    "customer_replied",
    "agent_replied",
    "note_added",
    "status_changed",
    "assigned",
    "sla_warning",
    "sla_breached",
    "csat_bad",
]
MatchValue = Literal["all", "any"]
SinceValue = Literal["status_changed", "updated", "created"]
# The schemas follow the models (checked when the module loads, so a new choice cannot be forgotten).
assert set(get_args(EventValue)) == set(TriggerEvent.values)
assert set(get_args(MatchValue)) == set(Match.values) and set(get_args(SinceValue)) == set(TimeRule.Since.values)
Rules = list[dict[str, Any]]


def _actions(types: tuple[str, ...], *, min_items: int = 0) -> Any:
    """A list of actions, each an object naming its `type`: the document lists the types; the
    services check each type's own fields (and answer 422 naming the action)."""
    item = {"type": "object", "required": ["type"], "properties": {"type": {"type": "string", "enum": list(types)}}}
    schema = {"type": "array", "items": item} | ({"minItems": min_items} if min_items else {})
    return Annotated[Rules, WithJsonSchema(schema)]


RuleActions = _actions(FIELD_ACTIONS + OTHER_ACTIONS)  # triggers and time rules
NewRuleActions = _actions(FIELD_ACTIONS + OTHER_ACTIONS, min_items=1)
MacroActions = _actions(FIELD_ACTIONS)


# --- Schemas ---------------------------------------------------------------------------------------


class TriggerOut(Schema):
    id: int
    name: str
    event: str
    match: str
    conditions: Rules
    actions: Rules
    position: int
    active: bool


class TriggerIn(InputSchema):
    name: text(120, min_length=1)  # type: ignore[valid-type]
    event: EventValue
    match: MatchValue = "all"
    conditions: Rules = []
    actions: NewRuleActions = Field(min_length=1)  # type: ignore[valid-type]
    position: Annotated[int, Field(ge=0, le=100_000), NotBoolean] = 100
    active: Flag = True


class TriggerUpdateIn(InputSchema):
    name: text(120, min_length=1) | None = None  # type: ignore[valid-type]
    event: EventValue | None = None
    match: MatchValue | None = None
    conditions: Rules | None = None
    actions: RuleActions | None = None  # type: ignore[valid-type]
    position: Annotated[int, Field(ge=0, le=100_000), NotBoolean] | None = None
    active: Flag | None = None


class TimeRuleOut(Schema):
    id: int
    name: str
    since: str
    hours: int
    conditions: Rules
    actions: Rules
    position: int
    active: bool


class TimeRuleIn(InputSchema):
    name: text(120, min_length=1)  # type: ignore[valid-type]
    since: SinceValue = "status_changed"
    hours: Annotated[int, Field(ge=1, le=24 * 366), NotBoolean]
    conditions: Rules = []
    actions: NewRuleActions = Field(min_length=1)  # type: ignore[valid-type]
    position: Annotated[int, Field(ge=0, le=100_000), NotBoolean] = 100
    active: Flag = True


class TimeRuleUpdateIn(InputSchema):
    name: text(120, min_length=1) | None = None  # type: ignore[valid-type]
    since: SinceValue | None = None
    hours: Annotated[int, Field(ge=1, le=24 * 366), NotBoolean] | None = None
    conditions: Rules | None = None
    actions: RuleActions | None = None  # type: ignore[valid-type]
    position: Annotated[int, Field(ge=0, le=100_000), NotBoolean] | None = None
    active: Flag | None = None


class MacroOut(Schema):
    id: int
    name: str
    body: str
    actions: Rules
    shared: bool
    usage_count: int

    @staticmethod
    def resolve_shared(obj: Macro) -> bool:
        return obj.owner_id is None


class MacroIn(InputSchema):
    name: text(120, min_length=1)  # type: ignore[valid-type]
    body: text(20_000) = ""  # type: ignore[valid-type]
    actions: MacroActions = []  # type: ignore[valid-type]
    shared: Flag = False
    active: Flag = True


class MacroUpdateIn(InputSchema):
    name: text(120, min_length=1) | None = None  # type: ignore[valid-type]
    body: text(20_000) | None = None  # type: ignore[valid-type]
    actions: MacroActions | None = None  # type: ignore[valid-type]
    active: Flag | None = None


class ApplyMacroIn(InputSchema):
    ticket: Annotated[int, Field(ge=1, le=MAX_DB_INT, description="The ticket's reference number"), NotBoolean]
    version: Version | None = None


class MacroAppliedOut(Schema):
    text: str
    applied: list[str]
    version: int


class WebhookCallOut(Schema):
    id: int
    trigger_id: int | None
    url: str
    state: str
    attempts: int
    last_status: int | None
    last_error: str
    next_attempt_at: datetime | None
    created_at: datetime
    sent_at: datetime | None


def _get(model: type[Any], pk: int) -> Any:
    found = model.objects.filter(pk=pk).first()
    if found is None:
        raise NotFound(f"No {model._meta.verbose_name} {pk}")
    return found


# --- Triggers ----------------------------------------------------------------------------------------


@router.get("/automation/triggers", response={200: list[TriggerOut], **errors()})
def list_triggers(request: HttpRequest) -> Any:
    """In the order they run."""
    require_agent(caller(request))
    return Trigger.objects.order_by("position", "id")


@router.post("/automation/triggers", response={201: TriggerOut, **errors(422)})
def create_trigger(request: HttpRequest, data: TriggerIn) -> Any:
    """Admins only. Conditions: `{"field", "op", "value"}`; actions: `{"type", …}` (see docs/automation.md)."""
    user = caller(request)
    require_admin(user)
    return Status(201, services.save_trigger(user, data.dict()))


@router.get("/automation/triggers/{trigger_id}", response={200: TriggerOut, **errors(404)})
def get_trigger(request: HttpRequest, trigger_id: ObjectId) -> Any:
    require_agent(caller(request))
    return _get(Trigger, trigger_id)


@router.patch("/automation/triggers/{trigger_id}", response={200: TriggerOut, **errors(404, 422)})
def update_trigger(request: HttpRequest, trigger_id: ObjectId, data: TriggerUpdateIn) -> Any:
    user = caller(request)
    require_admin(user)
    return services.save_trigger(user, data.dict(exclude_none=True), _get(Trigger, trigger_id))


@router.delete("/automation/triggers/{trigger_id}", response={204: None, **errors(404)})
def delete_trigger(request: HttpRequest, trigger_id: ObjectId) -> Any:
    require_admin(caller(request))
    _get(Trigger, trigger_id).delete()
    return Status(204, None)


# --- Time rules --------------------------------------------------------------------------------------


@router.get("/automation/time-rules", response={200: list[TimeRuleOut], **errors()})
def list_time_rules(request: HttpRequest) -> Any:
    require_agent(caller(request))
    return TimeRule.objects.order_by("position", "id")


@router.post("/automation/time-rules", response={201: TimeRuleOut, **errors(422)})
def create_time_rule(request: HttpRequest, data: TimeRuleIn) -> Any:
    """Admins only."""
    user = caller(request)
    require_admin(user)
    return Status(201, services.save_time_rule(user, data.dict()))


@router.get("/automation/time-rules/{rule_id}", response={200: TimeRuleOut, **errors(404)})
def get_time_rule(request: HttpRequest, rule_id: ObjectId) -> Any:
    require_agent(caller(request))
    return _get(TimeRule, rule_id)


@router.patch("/automation/time-rules/{rule_id}", response={200: TimeRuleOut, **errors(404, 422)})
def update_time_rule(request: HttpRequest, rule_id: ObjectId, data: TimeRuleUpdateIn) -> Any:
    user = caller(request)
    require_admin(user)
    return services.save_time_rule(user, data.dict(exclude_none=True), _get(TimeRule, rule_id))


@router.delete("/automation/time-rules/{rule_id}", response={204: None, **errors(404)})
def delete_time_rule(request: HttpRequest, rule_id: ObjectId) -> Any:
    require_admin(caller(request))
    _get(TimeRule, rule_id).delete()
    return Status(204, None)


# --- Macros ------------------------------------------------------------------------------------------


@router.get("/automation/macros", response={200: list[MacroOut], **errors()})
def list_macros(request: HttpRequest, q: Annotated[str, Query(max_length=200)] = "") -> Any:
    """The shared macros and your own, most used first; `q` searches names and texts."""
    user = caller(request)
    require_agent(user)
    return services.macros_for(user, q, limit=100)


@router.post("/automation/macros", response={201: MacroOut, **errors(422)})
def create_macro(request: HttpRequest, data: MacroIn) -> Any:
    """A personal macro, or with `shared: true` (admins only) one for everybody."""
    user = caller(request)
    require_agent(user)
    return Status(201, services.save_macro(user, data.dict()))


@router.get("/automation/macros/{macro_id}", response={200: MacroOut, **errors(404)})
def get_macro(request: HttpRequest, macro_id: ObjectId) -> Any:
    user = caller(request)
    require_agent(user)
    return services.macro_for(user, macro_id)


@router.patch("/automation/macros/{macro_id}", response={200: MacroOut, **errors(404, 422)})
def update_macro(request: HttpRequest, macro_id: ObjectId, data: MacroUpdateIn) -> Any:
    user = caller(request)
    require_agent(user)
    return services.save_macro(user, data.dict(exclude_none=True), services.macro_for(user, macro_id))


@router.delete("/automation/macros/{macro_id}", response={204: None, **errors(404)})
def delete_macro(request: HttpRequest, macro_id: ObjectId) -> Any:
    user = caller(request)
    require_agent(user)
    services.delete_macro(user, services.macro_for(user, macro_id))
    return Status(204, None)


@router.post("/automation/macros/{macro_id}/apply", response={200: MacroAppliedOut, **errors(404, 409, 422)})
def apply_macro(request: HttpRequest, macro_id: ObjectId, data: ApplyMacroIn) -> Any:
    """Render the macro for a ticket (the text to put in the reply) and make its field changes."""
    user = caller(request)
    ticket = ticket_for_agent(user, data.ticket, write=True)
    result = services.apply_macro(ticket, services.macro_for(user, macro_id), user, expected_version=data.version)
    return {"text": result.text, "applied": result.applied, "version": result.ticket.version}


# --- Webhook log -------------------------------------------------------------------------------------


@router.get("/automation/webhook-calls", response={200: list[WebhookCallOut], **errors()})
def list_webhook_calls(request: HttpRequest, state: WebhookCall.State | None = None) -> Any:
    """Admins only: the latest 200 outgoing webhook calls, failed ones with their error."""
    require_admin(caller(request))
    calls = WebhookCall.objects.order_by("-id")
    return calls.filter(state=state)[:200] if state else calls[:200]
