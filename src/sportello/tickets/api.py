"""Tickets in the REST API: list, create, read, update, merge; thread entries; attachments; statuses.

Tickets are named by their reference number (`/tickets/10452`). Each handler parses a schema, goes
through an access gate, calls one service and renders a schema.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

import pydantic
from django.db import transaction
from django.db.models import Model, prefetch_related_objects
from django.http import FileResponse, HttpRequest
from django.urls import reverse
from ninja import Path, Query, Router, Schema, Status
from ninja.errors import ValidationError
from pydantic import BeforeValidator, ConfigDict, Field, model_validator

from sportello.accounts.auth import (
    MAX_DB_INT,
    ErrorOut,
    Id,
    InputSchema,
    Text,
    Version,
    caller,
    errors,
    text,
)
from sportello.accounts.models import Group, User
from sportello.core import prefetch
from sportello.core.errors import InvalidInput, NotFound, ServiceError
from sportello.core.jsonbody import Flag, MalformedBody, not_a_boolean, parse_json_object
from sportello.customers.models import Customer
from sportello.customers.services import Sender
from sportello.fields import services as custom_fields
from sportello.sla.schemas import TicketSlaOut, sla_state
from sportello.tickets.access import (
    entry_for_agent,
    entry_on_ticket,
    require_agent,
    require_full_agent,
    ticket_for_agent,
)
from sportello.tickets.attachments import AttachmentIn, download
from sportello.tickets.delivery import delivery_attempts, threading_reason
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import Attachment, Category, Channel, Entry, EntryKind, Ticket
from sportello.tickets.models import Status as TicketStatus
from sportello.tickets.opening import Opening, record_for_customer, sender_of, write_to_customer
from sportello.tickets.queries import TicketFilter, list_tickets
from sportello.tickets.services import (
    TicketChanges,
    add_note,
    merge_tickets,
    move_entry,
    reply_to_ticket,
    resend_entry,
    split_entry,
    update_ticket,
)

router = Router(tags=["tickets"])

Number = Annotated[int, Path(ge=1, le=MAX_DB_INT, description="The ticket's reference number")]
EntryId = Annotated[int, Path(ge=1, le=MAX_DB_INT, description="The thread entry's id")]
PriorityValue = Annotated[Literal[1, 2, 3, 4], BeforeValidator(not_a_boolean)]
ChannelValue = Literal[tuple(Channel.values)]  # type: ignore[valid-type]
M = TypeVar("M", bound=Model)


# --- Output schemas -------------------------------------------------------------------------------


class StatusOut(Schema):
    id: int
    name: str
    slug: str
    category: str


class GroupRef(Schema):
    id: int
    name: str


class AgentRef(Schema):
    id: int
    username: str
    name: str

    @staticmethod
    def resolve_name(obj: User) -> str:
        return obj.display_name


class CustomerRef(Schema):
    id: int
    name: str

    @staticmethod
    def resolve_name(obj: Customer) -> str:
        return str(obj)


class TicketOut(Schema):
    number: int
    subject: str
    state: str
    status: StatusOut
    priority: int
    channel: str
    group: GroupRef | None
    assignee: AgentRef | None
    customer: CustomerRef
    tags: list[str]
    version: int
    created_at: datetime
    updated_at: datetime
    snoozed_until: datetime | None = Field(None, description="Pending until then (snoozed)")
    sla: TicketSlaOut | None = Field(None, description="SLA clocks; null before a policy applied")
    custom_fields: dict[str, Any] = Field(description=custom_fields.API_DESCRIPTION)

    @staticmethod
    def resolve_tags(obj: Ticket) -> list[str]:
        tags = prefetch.held(obj, "tags")  # a new ticket's, or prefetched: no QuerySet built for them
        return [tag.name for tag in (obj.tags.all() if tags is None else tags)]

    @staticmethod
    def resolve_custom_fields(obj: Ticket, context: Any) -> dict[str, Any]:
        return custom_fields.values_for_api("ticket", obj.custom_fields, context)

    @staticmethod
    def resolve_sla(obj: Ticket) -> dict[str, Any] | None:
        return sla_state(obj)


class TicketDetailOut(TicketOut):
    category: str | None
    language: str
    merged_into: int | None
    first_response_at: datetime | None
    solved_at: datetime | None
    time_spent: int = Field(description="minutes agents logged on the ticket's entries, summed")

    @staticmethod
    def resolve_category(obj: Ticket) -> str | None:
        return obj.category.name if obj.category_id else None  # type: ignore[union-attr]

    @staticmethod
    def resolve_merged_into(obj: Ticket) -> int | None:
        return obj.merged_into.number if obj.merged_into_id else None  # type: ignore[union-attr]


class BatchResultOut(Schema):
    index: int = Field(description="the item's position in `tickets`, from 0")
    status: int = Field(description="201 when the ticket was opened; else the status `POST /tickets` would answer")
    ticket: TicketDetailOut | None = None
    error: ErrorOut | None = Field(None, description="why this item was refused")


class TicketBatchOut(Schema):
    created: int
    failed: int
    results: list[BatchResultOut] = Field(description="one per item, in the order given")


class TicketPage(Schema):
    items: list[TicketOut]
    next_cursor: str | None


class AttachmentOut(Schema):
    id: int
    filename: str
    content_type: str
    size: int
    inline: bool
    url: str

    @staticmethod
    def resolve_url(obj: Attachment) -> str:
        return reverse("api:attachment", kwargs={"attachment_id": obj.pk})


class ThreadingOut(Schema):
    """Why a mail is on this ticket: the pipeline's decision, or an agent's move or split."""

    threaded_by: str = Field(description="references, reply_address, subject_number, bounce, new, moved or split")
    detail: str
    summary: str


class DeliveryOut(Schema):
    state: str = Field(description="queued, sending, retrying, sent, delivered, read or failed")
    attempts: int
    next_attempt_at: datetime | None
    error: str


class EntryOut(Schema):
    id: int
    ticket: int
    kind: str
    channel: str
    direction: str
    internal: bool
    author_name: str
    author_agent: AgentRef | None
    author_customer: CustomerRef | None
    body_text: str
    body_html: str
    delivery: str
    delivery_detail: DeliveryOut | None
    threading: ThreadingOut | None
    metadata: dict[str, Any] = Field(description="channel details: for mail the headers, flags and recipients")
    ticket_version: int
    created_at: datetime
    attachments: list[AttachmentOut]
    time_spent: int | None = Field(None, description="minutes the agent logged on this entry (time tracking)")

    @staticmethod
    def resolve_ticket(obj: Entry) -> int:
        return obj.ticket.number

    @staticmethod
    def resolve_author_agent(obj: Entry) -> User | None:
        return obj.author_user

    @staticmethod
    def resolve_threading(obj: Entry) -> dict[str, str] | None:
        return threading_reason(obj.metadata)

    @staticmethod
    def resolve_delivery_detail(obj: Entry) -> dict[str, Any] | None:
        if not obj.delivery:
            return None
        attempts = delivery_attempts(obj.metadata)
        return {"state": obj.delivery, "attempts": attempts["attempts"],
                "next_attempt_at": attempts["next_attempt_at"], "error": obj.delivery_error}  # fmt: skip

    @staticmethod
    def resolve_attachments(obj: Entry) -> list[Attachment]:
        return list(obj.attachments.all())


# --- Input schemas --------------------------------------------------------------------------------


class TicketQuery(Schema):
    """The inbox's filters; repeat a parameter for several values (`?state=new&state=open`)."""

    view: Text | None = Field(None, description="mine, unassigned, open, pending, on_hold or solved")
    state: list[Text] = Field([], description="status categories")
    status: list[Id] = Field([], description="status ids")
    group: list[Id] = []
    assignee: list[Annotated[int, Field(ge=0, le=MAX_DB_INT)]] = Field([], description="agent ids; 0 = unassigned")
    priority: list[Annotated[int, Field(ge=0, le=100)]] = []
    channel: list[Text] = []
    tag: list[text(50)] = []  # type: ignore[valid-type]
    customer: Id | None = None
    sla: Literal["breaching", "breached"] | None = Field(None, description="breaching within 1 h, or breached")
    custom: list[text(300)] = Field(  # type: ignore[valid-type]
        [],
        description="custom field filters as `key:value` (`product:Widget`, `order_number:1042` finds part of "
        "a text, `gift:yes`); repeat for several, all must match",
    )
    sort: Text = Field("newest", description="newest, oldest, priority or created")
    cursor: text(500) | None = Field(None, description="next_cursor of the previous page")  # type: ignore[valid-type]
    size: int = Field(50, ge=1, le=200)

    def ticket_filter(self) -> TicketFilter:
        return TicketFilter(
            view=self.view,
            state=self.state,
            status=self.status,
            group=self.group,
            assignee=self.assignee,
            priority=self.priority,
            channel=self.channel,
            tag=self.tag,
            customer=self.customer,
            sla=self.sla,
            custom=custom_filters(self.custom),
        )


def custom_filters(pairs: list[str]) -> dict[str, str]:
    """`key:value` pairs as TicketFilter's `custom`."""
    custom: dict[str, str] = {}
    for pair in pairs:
        key, colon, value = pair.partition(":")
        if not colon or not key.strip():
            raise InvalidInput(f"Write a custom field filter as key:value, not {pair!r}", field="custom")
        custom[key.strip()] = value
    return custom


class RequesterIn(InputSchema):
    name: text(200) = ""  # type: ignore[valid-type]
    email: text(254) = ""  # type: ignore[valid-type]
    phone: text(254) = ""  # type: ignore[valid-type]
    social: text(254) = ""  # type: ignore[valid-type]


class TicketIn(InputSchema):
    # Exactly one of customer_id and customer, said in the document as well as checked below.
    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"required": ["customer_id"], "properties": {"customer_id": {"type": "integer"}}},
                {"required": ["customer"], "properties": {"customer": {"type": "object"}}},
            ]
        }
    )

    direction: Literal["inbound", "outbound"] = Field(
        "inbound",
        description="`inbound`: the message is the customer's, taken down by the caller (a call, a letter); "
        "its author is the customer and the caller is named in the entry's `metadata.recorded_by`. "
        "`outbound`: the message is the caller's mail to the customer, sent at once like a reply "
        "(the customer needs an email address; `channel` and `acknowledge` do not apply)",
    )
    subject: text(255) = ""  # type: ignore[valid-type]
    body_text: Text = ""
    body_html: Text = ""
    customer_id: Id | None = Field(None, description="an existing customer; or give `customer`")
    customer: RequesterIn | None = Field(None, description="found by address, or created")
    channel: ChannelValue = "api"  # type: ignore[valid-type]
    priority: PriorityValue = 2
    group: Id | None = None
    assignee: Id | None = Field(None, description="an agent to assign the new ticket to")
    tags: list[text(50)] = []  # type: ignore[valid-type]
    acknowledge: Flag = Field(False, description="inbound only: mail the customer the reference number")
    custom_fields: dict[str, Any] = Field({}, description=custom_fields.API_WRITE_DESCRIPTION)

    @model_validator(mode="after")
    def one_customer(self) -> TicketIn:
        if (self.customer_id is None) == (self.customer is None):
            raise ValueError("give either customer_id or customer")
        return self

    def open(self, agent: User) -> Ticket:
        """The new ticket: through intake as the customer's message, or as the caller's mail to her."""
        if self.direction == "inbound" and self.assignee is None and not self.custom_fields:
            # The lean path: intake alone, which checks the required fields with the version it reads.
            return ingest(replace(self.inbound(agent), required_fields=True)).ticket
        values = custom_fields.clean_values("ticket", self.custom_fields, creating=True)
        opening = Opening(
            sender=self._sender(),
            subject=self.subject,
            body_text=self.body_text,
            body_html=self.body_html,
            priority=self.priority,
            group=_get(Group, self.group, "group"),
            assignee=_get(User, self.assignee, "assignee"),
            tags=self.tags,
            custom_fields=values,
        )
        if self.direction == "outbound":
            return write_to_customer(agent, opening)
        return record_for_customer(
            agent, opening, channel=self.channel, kind=EntryKind.MESSAGE, acknowledge=self.acknowledge
        )

    def _sender(self) -> Sender:
        if self.customer is not None:
            return Sender(**self.customer.model_dump())
        return sender_of(_require(Customer, self.customer_id or 0, "customer_id"))

    def inbound(self, agent: User) -> Inbound:
        return Inbound(
            channel=self.channel,
            sender=self._sender(),
            subject=self.subject,
            body_text=self.body_text,
            body_html=self.body_html,
            recorded_by=agent,
            priority=self.priority,
            group=_get(Group, self.group, "group"),
            tags=self.tags,
            acknowledge=self.acknowledge,
        )


MAX_BATCH = 100


class TicketBatchIn(InputSchema):
    tickets: list[TicketIn] = Field(
        min_length=1, max_length=MAX_BATCH, description=f"1 to {MAX_BATCH} bodies of `POST /tickets`"
    )


class TicketUpdateIn(InputSchema):
    """Only the fields given change; `null` clears group, assignee and category."""

    subject: text(255, min_length=1) | None = None  # type: ignore[valid-type]
    status: Id | None = None
    priority: PriorityValue | None = None
    group: Id | None = None
    assignee: Id | None = None
    category: Id | None = None
    tags: list[text(50)] | None = None  # type: ignore[valid-type]
    custom_fields: dict[str, Any] | None = Field(None, description=custom_fields.API_WRITE_DESCRIPTION)
    expected_version: Version | None = Field(None, description="refuse with 409 if the ticket changed since")

    def changes(self) -> TicketChanges:
        given = self.model_fields_set
        return TicketChanges(
            subject=self.subject,
            status=_get(TicketStatus, self.status, "status"),
            priority=self.priority,
            group=_get(Group, self.group, "group"),
            clear_group="group" in given and self.group is None,
            assignee=_get(User, self.assignee, "assignee"),
            clear_assignee="assignee" in given and self.assignee is None,
            category=_get(Category, self.category, "category"),
            clear_category="category" in given and self.category is None,
            tags=self.tags,
            custom_fields=self.custom_fields,
        )


class MergeIn(InputSchema):
    into: Id = Field(description="reference number of the ticket that receives the thread")
    expected_version: Version | None = Field(None, description="of the ticket being merged away")


class MoveEntryIn(InputSchema):
    into: Id = Field(description="reference number of the ticket the message moves to")
    expected_version: Version | None = Field(None, description="of the ticket the message is on now")


class SplitEntryIn(InputSchema):
    expected_version: Version | None = Field(None, description="of the ticket the message is on now")


class EntryIn(InputSchema):
    kind: Literal["reply", "note"]
    body_text: Text = ""
    body_html: Text = Field("", description="sanitized before it is stored")
    status: Id | None = Field(None, description="replies only: the ticket's status afterwards")
    expected_version: Version | None = None
    time_spent: int | None = Field(None, ge=0, le=1440, description="minutes spent on it (time tracking)")
    via: Text = Field(
        "", description="replies only: the channel to deliver it through (`email`, `social`); by default the "
        "channel of the customer's latest message",
    )  # fmt: skip


def _entry_request_body() -> dict[str, Any]:
    """Replies and notes come as JSON, or as multipart with files in `attachments`."""
    schema = EntryIn.model_json_schema()
    multipart = copy.deepcopy(schema)
    multipart["properties"]["attachments"] = {"type": "array", "items": {"type": "string", "format": "binary"}}
    # A form field cannot be null: a number is sent or the field is left out.
    for name in ("status", "expected_version", "time_spent"):
        field = multipart["properties"][name]
        field.update(next(option for option in field.pop("anyOf") if option.get("type") != "null"))
        field.pop("default", None)
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}, "multipart/form-data": {"schema": multipart}},
        }
    }


# --- Helpers --------------------------------------------------------------------------------------


def _get(model: type[M], pk: int | None, field: str) -> M | None:
    """The object a body field names by id, or None when the field is empty."""
    return None if pk is None else _require(model, pk, field)


def _require(model: type[M], pk: int, field: str) -> M:
    """An unknown id in a body is bad input (422), not a missing page (404)."""
    found = model._default_manager.filter(pk=pk).first()
    if found is None:
        raise InvalidInput(f"No {field.replace('_id', '')} with id {pk}", field=field)
    return found


def _entry_input(request: HttpRequest) -> tuple[EntryIn, list[AttachmentIn]]:
    try:
        if request.content_type == "multipart/form-data":
            files = [
                AttachmentIn(filename=f.name or "attachment", content=f, content_type=f.content_type or "")
                for f in request.FILES.getlist("attachments")
            ]
            return EntryIn.model_validate(request.POST.dict()), files
        try:
            payload = parse_json_object(request.body or b"{}")
        except MalformedBody as exc:  # the same answer as the other operations give for broken JSON
            raise InvalidInput(str(exc)) from exc
        return EntryIn.model_validate(payload), []
    except pydantic.ValidationError as exc:
        raise ValidationError([{**e, "loc": ("body", "data", *e["loc"])} for e in exc.errors()]) from exc


def _target(user: User, number: int) -> Ticket:
    """A ticket named in the body (merge, move): one the caller may not see is bad input, like an unknown one."""
    try:
        return ticket_for_agent(user, number, write=True)
    except NotFound as exc:
        raise InvalidInput(exc.message, field="into") from exc


# --- Tickets --------------------------------------------------------------------------------------


@router.get("/tickets", response={200: TicketPage, **errors(422)})
def list_tickets_(request: HttpRequest, filters: Query[TicketQuery]) -> Any:
    """Tickets with the inbox's filters, a page at a time (pass `next_cursor` as `cursor`)."""
    require_agent(caller(request))
    page = list_tickets(
        caller(request), filters.ticket_filter(), sort=filters.sort, cursor=filters.cursor, size=filters.size
    )
    prefetch_related_objects(page.tickets, "customer__identities")
    return {"items": page.tickets, "next_cursor": page.next_cursor}


@router.post("/tickets", response={201: TicketDetailOut, **errors(409, 413, 422)})
def create_ticket(request: HttpRequest, data: TicketIn) -> Any:
    """Open a ticket: the customer's request taken down for her (`direction: inbound`, channel `api`
    unless given), or a mail to the customer that starts one (`direction: outbound`, sent at once)."""
    require_full_agent(caller(request))
    return _created(request, data.open(caller(request)))


def _created(request: HttpRequest, ticket: Ticket) -> Any:
    """The 201 answer for a ticket just opened: `TicketDetailOut` of it, built here from what the
    create holds (its status, group, customer with her addresses, tags) instead of by Ninja's
    validation of the model through the schema's getters and resolvers, which cost more than any
    statement of the create. A ticket with clocks or custom field values takes the schema's way."""
    if ticket.custom_fields or sla_state(ticket) is not None:
        return Status(201, ticket)
    status, group, assignee, customer = ticket.status, ticket.group, ticket.assignee, ticket.customer
    answer = {
        "number": ticket.number,
        "subject": ticket.subject,
        "state": str(ticket.state),
        "status": {"id": status.pk, "name": status.name, "slug": status.slug, "category": str(status.category)},
        "priority": int(ticket.priority),
        "channel": str(ticket.channel),
        "group": None if group is None else {"id": group.pk, "name": group.name},
        "assignee": None
        if assignee is None
        else {"id": assignee.pk, "username": assignee.username, "name": assignee.display_name},
        "customer": {"id": customer.pk, "name": str(customer)},
        "tags": TicketOut.resolve_tags(ticket),
        "version": ticket.version,
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "snoozed_until": ticket.snoozed_until,
        "sla": None,
        "custom_fields": {},
        "category": TicketDetailOut.resolve_category(ticket),
        "language": ticket.language,
        "merged_into": TicketDetailOut.resolve_merged_into(ticket),
        "first_response_at": ticket.first_response_at,
        "solved_at": ticket.solved_at,
        "time_spent": ticket.time_spent,
    }
    from sportello.api import api  # the one API this router is part of (imports this module)

    return api.create_response(request, answer, status=201)


@router.post("/tickets/batch", response={200: TicketBatchOut, **errors(413, 422)})
def create_tickets(request: HttpRequest, data: TicketBatchIn) -> Any:
    """Open up to 100 tickets in one call and one transaction, each as `POST /tickets` would.

    A body that breaks the schema is refused whole (422; each error's `loc` names the item, as in
    `tickets.3.subject`). Each item that fits the schema is opened or refused on its own: a refused
    item (an unknown `customer_id` or group, an empty message, no valid address) is reported in
    `results` with the status and `detail` `POST /tickets` would answer, and the others are opened
    all the same. Read `failed` (or each `status`): the answer is 200 even when items failed.
    """
    agent = caller(request)
    require_full_agent(agent)
    results: list[dict[str, Any]] = []
    with transaction.atomic():  # one commit for the batch; each ingest is a savepoint of its own
        for index, item in enumerate(data.tickets):
            try:
                # A refused item rolls back to its savepoint; the items before it stay.
                results.append({"index": index, "status": 201, "ticket": item.open(agent)})
            except ServiceError as exc:
                results.append({"index": index, "status": exc.status, "error": {"detail": exc.message, **exc.details}})
    created = sum(1 for result in results if result["status"] == 201)
    return {"created": created, "failed": len(results) - created, "results": results}


@router.get("/tickets/{number}", response={200: TicketDetailOut, **errors(404, 422)})
def get_ticket(request: HttpRequest, number: Number) -> Any:
    return ticket_for_agent(caller(request), number)


@router.patch("/tickets/{number}", response={200: TicketDetailOut, **errors(404, 409, 422)})
def update_ticket_(request: HttpRequest, number: Number, data: TicketUpdateIn) -> Any:
    """Change fields; with `expected_version`, a ticket changed meanwhile gives 409 and `changes`."""
    ticket = ticket_for_agent(caller(request), number, write=True)
    return update_ticket(ticket, caller(request), data.changes(), expected_version=data.expected_version)


@router.post("/tickets/{number}/merge", response={200: TicketDetailOut, **errors(404, 409, 422)})
def merge_ticket(request: HttpRequest, number: Number, data: MergeIn) -> Any:
    """Merge this ticket into `into`; answers the ticket that received the thread."""
    source = ticket_for_agent(caller(request), number, write=True)
    target = _target(caller(request), data.into)
    return merge_tickets(source, target, caller(request), expected_version=data.expected_version)


# --- Entries and attachments -----------------------------------------------------------------------


@router.get("/tickets/{number}/entries", response={200: list[EntryOut], **errors(404, 422)})
def list_entries(request: HttpRequest, number: Number) -> Any:
    """The ticket's thread, oldest first, internal notes included."""
    ticket = ticket_for_agent(caller(request), number)
    return ticket.entries.select_related("ticket", "author_user", "author_customer").prefetch_related(
        "attachments", "author_customer__identities"
    )


@router.post(
    "/tickets/{number}/entries",
    response={201: EntryOut, **errors(400, 404, 409, 413, 422)},
    openapi_extra=_entry_request_body(),
)
def add_entry(request: HttpRequest, number: Number) -> Any:
    """A public reply (mailed to the customer) or an internal note; JSON, or multipart with files."""
    user = caller(request)
    require_agent(user)
    data, files = _entry_input(request)
    ticket = ticket_for_agent(user, number, write=data.kind == "reply")
    body = {
        "body_text": data.body_text,
        "body_html": data.body_html,
        "attachments": files,
        "time_spent": data.time_spent,
    }
    if data.kind == "reply":
        status = _get(TicketStatus, data.status, "status")
        entry = reply_to_ticket(
            ticket, user, **body, expected_version=data.expected_version, status=status, via=data.via
        )
    else:
        entry = add_note(ticket, user, **body, expected_version=data.expected_version)
    return Status(201, entry)


@router.post("/tickets/{number}/entries/{entry_id}/move", response={200: TicketDetailOut, **errors(404, 409, 422)})
def move_entry_(request: HttpRequest, number: Number, entry_id: EntryId, data: MoveEntryIn) -> Any:
    """Move a mail that landed on the wrong ticket to `into`; answers the ticket it moved to."""
    entry = entry_on_ticket(ticket_for_agent(caller(request), number, write=True), entry_id)
    target = _target(caller(request), data.into)
    return move_entry(entry, target, caller(request), expected_version=data.expected_version)


@router.post("/tickets/{number}/entries/{entry_id}/split", response={201: TicketDetailOut, **errors(404, 409, 422)})
def split_entry_(request: HttpRequest, number: Number, entry_id: EntryId, data: SplitEntryIn) -> Any:
    """Split a mail out into a new ticket of its own (same customer); answers the new ticket."""
    entry = entry_on_ticket(ticket_for_agent(caller(request), number, write=True), entry_id)
    return Status(201, split_entry(entry, caller(request), expected_version=data.expected_version))


@router.post("/tickets/{number}/entries/{entry_id}/resend", response={200: EntryOut, **errors(404, 422)})
def resend_entry_(request: HttpRequest, number: Number, entry_id: EntryId) -> Any:
    """Queue a reply whose delivery failed to be sent again."""
    entry = entry_on_ticket(ticket_for_agent(caller(request), number, write=True), entry_id)
    return resend_entry(entry, caller(request))


@router.get(
    "/attachments/{attachment_id}",
    response={200: None, **errors(404, 422)},
    url_name="attachment",
    openapi_extra={"responses": {"200": {"description": "The file, as a download"}}},
)
def download_attachment(request: HttpRequest, attachment_id: Annotated[int, Path(ge=1, le=MAX_DB_INT)]) -> FileResponse:
    require_agent(caller(request))
    item = Attachment.objects.filter(pk=attachment_id).first()
    try:
        if item is None:
            raise NotFound("no such attachment")
        entry_for_agent(caller(request), item.entry_id)
    except NotFound as exc:  # one answer whether it does not exist or is out of sight
        raise NotFound(f"No attachment {attachment_id}") from exc
    return download(item)


# --- Statuses ---------------------------------------------------------------------------------------


@router.get("/statuses", response={200: list[StatusOut], **errors()})
def list_statuses(request: HttpRequest) -> Any:
    """Every status a ticket can have, each mapped to one of six categories."""
    require_agent(caller(request))
    return TicketStatus.objects.all()
