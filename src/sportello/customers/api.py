"""Customers and organizations in the REST API: list and search, create, read (with identities and
recent tickets), update, add or remove the identities (addresses) a customer writes from, merge two
customers and undo the merge; organizations with their members."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Annotated, Any, Literal

from django.db.models import Q, QuerySet, prefetch_related_objects
from django.http import HttpRequest
from ninja import Path, Query, Router, Schema, Status
from pydantic import Field

from sportello.accounts.auth import MAX_DB_INT, Id, InputSchema, Text, caller, errors, text
from sportello.core.errors import InvalidInput, NotFound
from sportello.customers import queries
from sportello.customers.merging import merge_customers, require_not_merged, undo_deadline, unmerge_customers
from sportello.customers.models import Customer, CustomerMerge, Identity, Organization
from sportello.customers.services import (
    add_customer_note,
    add_identity,
    add_member,
    create_customer,
    create_organization,
    remove_identity,
    remove_member,
    update_customer,
    update_organization,
)
from sportello.fields import services as custom_fields
from sportello.tickets.access import require_agent, require_full_agent
from sportello.tickets.api import TicketOut
from sportello.tickets.queries import TicketFilter, list_tickets

router = Router(tags=["customers"])

CustomerId = Annotated[int, Path(ge=1, le=MAX_DB_INT)]
RECENT_TICKETS = 10


class OrganizationRef(Schema):
    id: int
    name: str


class IdentityOut(Schema):
    id: int
    kind: str
    value: str
    undeliverable: bool
    verified: bool = Field(
        description="known to belong to this customer (mail came from it, or a link mailed to it was opened); "
        "a typed or added address is unverified and opens no portal access until confirmed"
    )


class CustomerOut(Schema):
    id: int
    name: str
    organization: OrganizationRef | None
    language: str
    identities: list[IdentityOut]
    created_at: datetime
    merged_into: int | None = Field(description="the customer this file was merged into, while it is")
    custom_fields: dict[str, Any] = Field(description=custom_fields.API_DESCRIPTION)

    @staticmethod
    def resolve_merged_into(obj: Customer) -> int | None:
        return obj.merged_into_id

    @staticmethod
    def resolve_custom_fields(obj: Customer, context: Any) -> dict[str, Any]:
        return custom_fields.values_for_api("customer", obj.custom_fields, context)

    @staticmethod
    def resolve_identities(obj: Customer) -> list[Identity]:
        return list(obj.identities.all())


class CustomerDetailOut(CustomerOut):
    notes: str
    updated_at: datetime
    recent_tickets: list[TicketOut] = Field(description="the latest tickets you may see, newest first")


class CustomerPage(Schema):
    items: list[CustomerOut]
    next_cursor: str | None


class CustomerQuery(Schema):
    q: text(200) | None = Field(None, description="part of a name or of an address")  # type: ignore[valid-type]
    cursor: text(500) | None = Field(None, description="next_cursor of the previous page")  # type: ignore[valid-type]
    size: int = Field(50, ge=1, le=200)


class CustomerIn(InputSchema):
    name: text(200) = ""  # type: ignore[valid-type]
    emails: list[text(254)] = []  # type: ignore[valid-type]
    phones: list[text(254)] = []  # type: ignore[valid-type]
    organization: Id | None = None
    language: text(10) = "en"  # type: ignore[valid-type]
    notes: Text = ""
    custom_fields: dict[str, Any] = Field({}, description=custom_fields.API_WRITE_DESCRIPTION)


class CustomerUpdateIn(InputSchema):
    """Only the fields given change; `organization: null` takes the customer out of theirs."""

    name: text(200) | None = None  # type: ignore[valid-type]
    organization: Id | None = None
    language: text(10, min_length=1) | None = None  # type: ignore[valid-type]
    notes: Text | None = None
    custom_fields: dict[str, Any] | None = Field(None, description=custom_fields.API_WRITE_DESCRIPTION)

    def fields(self) -> dict[str, Any]:
        given = {name: getattr(self, name) for name in self.model_fields_set}
        if "organization" in given:
            given["organization"] = _organization(given["organization"])
        return {name: value for name, value in given.items() if value is not None or name == "organization"}


class IdentityIn(InputSchema):
    kind: Literal["email", "phone", "social"]
    value: text(254, min_length=1)  # type: ignore[valid-type]


# --- Helpers ----------------------------------------------------------------------------------------


def _organization(pk: int | None) -> Organization | None:
    if pk is None:
        return None
    found = Organization.objects.filter(pk=pk).first()
    if found is None:
        raise InvalidInput(f"No organization with id {pk}", field="organization")
    return found


def _customer(user: Any, customer_id: int) -> Customer:
    """Any agent may see every customer file (restricted agents see only their groups' tickets)."""
    require_agent(user)
    found = Customer.objects.select_related("organization").filter(pk=customer_id).first()
    if found is None:
        raise NotFound(f"No customer {customer_id}")
    return found


def _with_recent_tickets(user: Any, customer: Customer) -> Customer:
    tickets = list_tickets(user, TicketFilter(customer=customer.pk), sort="created", size=RECENT_TICKETS).tickets
    prefetch_related_objects(tickets, "customer__identities")
    customer.recent_tickets = tickets  # type: ignore[attr-defined]
    return customer


def _matching(q: str | None) -> QuerySet[Customer]:
    customers = Customer.objects.filter(merged_into__isnull=True)
    if q and q.strip():
        q = q.strip()
        customers = customers.filter(
            Q(name__icontains=q) | Q(pk__in=Identity.objects.filter(value__icontains=q).values("customer_id"))
        )
    return customers


def _page(customers: QuerySet[Customer], cursor: str | None, size: int) -> dict[str, Any]:
    """One page in (name, id) order; the cursor holds the last row's key (keyset pagination)."""
    if cursor:
        name, pk = _decode(cursor)
        customers = customers.filter(Q(name__gt=name) | Q(name=name, pk__gt=pk))
    rows = list(
        customers.select_related("organization").prefetch_related("identities").order_by("name", "id")[: size + 1]
    )
    next_cursor = _encode(rows[size - 1]) if len(rows) > size else None
    return {"items": rows[:size], "next_cursor": next_cursor}


def _encode(customer: Customer) -> str:
    return base64.urlsafe_b64encode(json.dumps([customer.name, customer.pk]).encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[str, int]:
    try:
        name, pk = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(name, str) or not isinstance(pk, int) or not 0 < pk <= MAX_DB_INT or "\x00" in name:
            raise ValueError("cursor")
        return name, pk
    except (ValueError, TypeError) as exc:
        raise InvalidInput("The page cursor is not valid; start again from the first page", field="cursor") from exc


# --- Operations -----------------------------------------------------------------------------------


@router.get("/customers", response={200: CustomerPage, **errors(422)})
def list_customers(request: HttpRequest, params: Query[CustomerQuery]) -> Any:
    """Customers by name, a page at a time; `q` finds a part of a name or an address."""
    require_agent(caller(request))
    return _page(_matching(params.q), params.cursor, params.size)


@router.post("/customers", response={201: CustomerDetailOut, **errors(409, 422)})
def create_customer_(request: HttpRequest, data: CustomerIn) -> Any:
    """A new customer file; an address that belongs to someone else gives 409."""
    require_full_agent(caller(request))
    values = data.model_dump()
    customer = create_customer(**{**values, "organization": _organization(data.organization)}, actor=caller(request))
    return Status(201, _with_recent_tickets(caller(request), customer))


@router.get("/customers/{customer_id}", response={200: CustomerDetailOut, **errors(404, 422)})
def get_customer(request: HttpRequest, customer_id: CustomerId) -> Any:
    return _with_recent_tickets(caller(request), _customer(caller(request), customer_id))


@router.patch("/customers/{customer_id}", response={200: CustomerDetailOut, **errors(404, 409, 422)})
def update_customer_(request: HttpRequest, customer_id: CustomerId, data: CustomerUpdateIn) -> Any:
    customer = _customer(caller(request), customer_id)
    require_full_agent(caller(request))
    require_not_merged(customer)
    return _with_recent_tickets(caller(request), update_customer(customer, actor=caller(request), **data.fields()))


@router.post("/customers/{customer_id}/identities", response={201: IdentityOut, **errors(404, 409, 422)})
def add_identity_(request: HttpRequest, customer_id: CustomerId, data: IdentityIn) -> Any:
    """Add an address, unverified: an email address gets a mail with a link that confirms it, and
    opens the customer's tickets in the portal only once confirmed (adding an unconfirmed address
    the customer already has, say one typed into a chat, mails the link again). One that belongs to another
    customer gives 409 with its `customer_id`; a staff account's address 422; 403 when the customer
    has tickets you may not see (restricted agents)."""
    customer = _customer(caller(request), customer_id)
    require_full_agent(caller(request))
    require_not_merged(customer)
    return Status(201, add_identity(customer, data.kind, data.value, actor=caller(request)))


@router.delete("/customers/{customer_id}/identities/{identity_id}", response={204: None, **errors(404, 422)})
def remove_identity_(
    request: HttpRequest, customer_id: CustomerId, identity_id: Annotated[int, Path(ge=1, le=MAX_DB_INT)]
) -> Any:
    customer = _customer(caller(request), customer_id)
    require_full_agent(caller(request))
    remove_identity(customer, identity_id, actor=caller(request))
    return Status(204, None)


# --- Merging customers ------------------------------------------------------------------------------

MergeId = Annotated[int, Path(ge=1, le=MAX_DB_INT)]


class MergedCustomerRef(Schema):
    id: int
    name: str


class CustomerMergeMoved(Schema):
    """How many rows of each kind moved from the duplicate to the survivor."""

    tickets: int
    entries: int
    identities: int
    notes: int


class CustomerMergeOut(Schema):
    id: int
    survivor: MergedCustomerRef
    duplicate: MergedCustomerRef
    merged_by: str | None
    merged_at: datetime
    undo_until: datetime = Field(description="the merge can be undone until then, unless it was undone")
    undone_at: datetime | None
    moved: CustomerMergeMoved

    @staticmethod
    def resolve_merged_by(obj: CustomerMerge) -> str | None:
        return obj.merged_by.display_name if obj.merged_by else None

    @staticmethod
    def resolve_undo_until(obj: CustomerMerge) -> datetime:
        return undo_deadline(obj)  # type: ignore[no-any-return]

    @staticmethod
    def resolve_moved(obj: CustomerMerge) -> dict[str, int]:
        return {kind: len(obj.moved.get(kind, [])) for kind in ("tickets", "entries", "identities", "notes")}


class CustomerMergeIn(InputSchema):
    duplicate_id: Id = Field(description="the customer merged into this one; it is kept, marked merged")


def _merge(merge_id: int) -> CustomerMerge:
    found = CustomerMerge.objects.select_related("survivor", "duplicate", "merged_by").filter(pk=merge_id).first()
    if found is None:
        raise NotFound(f"No customer merge {merge_id}")
    return found


@router.post("/customers/{customer_id}/merge", response={201: CustomerMergeOut, **errors(404, 409, 422)})
def merge_customer(request: HttpRequest, customer_id: CustomerId, data: CustomerMergeIn) -> Any:
    """Merge the customer `duplicate_id` into this one: its tickets, entries, identities, notes and
    history move here. 403 unless you may see every ticket of both; 409 when either was already
    merged away; undo with `POST /customer-merges/{id}/undo` within 30 days."""
    survivor = _customer(caller(request), customer_id)
    duplicate = _customer(caller(request), data.duplicate_id)
    merge = merge_customers(survivor, duplicate, caller(request))
    return Status(201, _merge(merge.pk))


@router.get("/customers/{customer_id}/merges", response={200: list[CustomerMergeOut], **errors(404, 422)})
def list_customer_merges(request: HttpRequest, customer_id: CustomerId) -> Any:
    """The merges this customer took part in (as survivor or duplicate), newest first."""
    customer = _customer(caller(request), customer_id)
    return list(
        CustomerMerge.objects.filter(Q(survivor=customer) | Q(duplicate=customer))
        .select_related("survivor", "duplicate", "merged_by")
        .order_by("-merged_at", "-id")[:100]
    )


@router.post("/customer-merges/{merge_id}/undo", response={200: CustomerMergeOut, **errors(404, 409, 422)})
def undo_customer_merge(request: HttpRequest, merge_id: MergeId) -> Any:
    """Move back exactly what the merge moved (tickets that reached the survivor since stay). 409
    when it was undone already or is older than 30 days; 403 unless you may see every ticket of both."""
    require_agent(caller(request))
    merge = unmerge_customers(_merge(merge_id), caller(request))
    return _merge(merge.pk)


# --- Organizations --------------------------------------------------------------------------------------

OrganizationId = Annotated[int, Path(ge=1, le=MAX_DB_INT)]


class OrganizationOut(Schema):
    id: int
    name: str
    domain: str = Field(description="mail domain: new customers writing from it join the organization")
    shared_tickets: bool = Field(description="members see each other's tickets in the portal")
    notes: str
    created_at: datetime
    custom_fields: dict[str, Any] = Field(description=custom_fields.API_DESCRIPTION)

    @staticmethod
    def resolve_custom_fields(obj: Organization, context: Any) -> dict[str, Any]:
        return custom_fields.values_for_api("organization", obj.custom_fields, context)


class OrganizationPage(Schema):
    items: list[OrganizationOut]
    next_cursor: str | None


class OrganizationQuery(Schema):
    q: text(200) | None = Field(None, description="part of the name or of the mail domain")  # type: ignore[valid-type]
    cursor: text(500) | None = Field(None, description="next_cursor of the previous page")  # type: ignore[valid-type]
    size: int = Field(50, ge=1, le=200)


class OrganizationIn(InputSchema):
    name: text(200, min_length=1)  # type: ignore[valid-type]
    domain: text(200) = ""  # type: ignore[valid-type]
    shared_tickets: bool = False
    notes: Text = ""
    custom_fields: dict[str, Any] = Field({}, description=custom_fields.API_WRITE_DESCRIPTION)


class OrganizationUpdateIn(InputSchema):
    """Only the fields given change."""

    name: text(200, min_length=1) | None = None  # type: ignore[valid-type]
    domain: text(200) | None = None  # type: ignore[valid-type]
    shared_tickets: bool | None = None
    notes: Text | None = None
    custom_fields: dict[str, Any] | None = Field(None, description=custom_fields.API_WRITE_DESCRIPTION)

    def fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set if getattr(self, name) is not None}


class MemberQuery(Schema):
    cursor: text(500) | None = Field(None, description="next_cursor of the previous page")  # type: ignore[valid-type]
    size: int = Field(50, ge=1, le=200)


class MemberIn(InputSchema):
    customer_id: Id


def _organization_for(user: Any, organization_id: int) -> Organization:
    require_agent(user)
    found = Organization.objects.filter(pk=organization_id).first()
    if found is None:
        raise NotFound(f"No organization {organization_id}")
    return found


@router.get("/organizations", response={200: OrganizationPage, **errors(422)})
def list_organizations(request: HttpRequest, params: Query[OrganizationQuery]) -> Any:
    """Organizations by name, a page at a time; `q` finds part of a name or a mail domain."""
    require_agent(caller(request))
    organizations = Organization.objects.all()
    if params.q and params.q.strip():
        q = params.q.strip()
        organizations = organizations.filter(Q(name__icontains=q) | Q(domain__icontains=q.lstrip("@")))
    if params.cursor:
        name, pk = queries.decode(params.cursor, (str, int))
        organizations = organizations.filter(Q(name__gt=name) | Q(name=name, pk__gt=pk))
    rows = list(organizations.order_by("name", "id")[: params.size + 1])
    last = rows[params.size - 1] if len(rows) > params.size else None
    return {"items": rows[: params.size], "next_cursor": queries.encode([last.name, last.pk]) if last else None}


@router.post("/organizations", response={201: OrganizationOut, **errors(422)})
def create_organization_(request: HttpRequest, data: OrganizationIn) -> Any:
    """A new organization; a name already taken (in any case) gives 422 with its `organization_id`."""
    return Status(201, create_organization(caller(request), **data.model_dump()))


@router.get("/organizations/{organization_id}", response={200: OrganizationOut, **errors(404, 422)})
def get_organization(request: HttpRequest, organization_id: OrganizationId) -> Any:
    return _organization_for(caller(request), organization_id)


@router.patch("/organizations/{organization_id}", response={200: OrganizationOut, **errors(404, 422)})
def update_organization_(request: HttpRequest, organization_id: OrganizationId, data: OrganizationUpdateIn) -> Any:
    """Change the fields given. Turning on `shared_tickets` opens every member's tickets to the
    others in the portal: 403 unless you may see all of them."""
    organization = _organization_for(caller(request), organization_id)
    return update_organization(organization, caller(request), **data.fields())


@router.get("/organizations/{organization_id}/members", response={200: CustomerPage, **errors(404, 422)})
def list_members(request: HttpRequest, organization_id: OrganizationId, params: Query[MemberQuery]) -> Any:
    """The organization's customers by name, a page at a time."""
    organization = _organization_for(caller(request), organization_id)
    page = queries.members(organization, params.cursor, params.size)
    prefetch_related_objects(page.rows, "organization")
    return {"items": page.rows, "next_cursor": page.next_cursor}


@router.post("/organizations/{organization_id}/members", response={201: CustomerOut, **errors(404, 422)})
def add_member_(request: HttpRequest, organization_id: OrganizationId, data: MemberIn) -> Any:
    """Put a customer in the organization (taking them out of their previous one)."""
    organization = _organization_for(caller(request), organization_id)
    customer = _customer(caller(request), data.customer_id)
    require_full_agent(caller(request))
    return Status(201, add_member(organization, customer, caller(request)))


@router.delete("/organizations/{organization_id}/members/{customer_id}", response={204: None, **errors(404, 422)})
def remove_member_(request: HttpRequest, organization_id: OrganizationId, customer_id: CustomerId) -> Any:
    organization = _organization_for(caller(request), organization_id)
    customer = _customer(caller(request), customer_id)
    remove_member(organization, customer, caller(request))
    return Status(204, None)


# --- Agents' notes and the timeline -------------------------------------------------------------------


class CustomerNoteOut(Schema):
    id: int
    author: str | None
    body: str
    created_at: datetime

    @staticmethod
    def resolve_author(obj: Any) -> str | None:
        return obj.author.display_name if obj.author else None


class CustomerNoteIn(InputSchema):
    body: text(20_000, min_length=1)  # type: ignore[valid-type]


class TimelineEntryOut(Schema):
    id: int
    ticket: int = Field(description="the ticket's reference number")
    subject: str
    kind: str
    channel: str
    direction: str
    author_name: str
    body_text: str
    created_at: datetime

    @staticmethod
    def resolve_ticket(obj: Any) -> int:
        return int(obj.ticket.number)

    @staticmethod
    def resolve_subject(obj: Any) -> str:
        return str(obj.ticket.subject)


class TimelinePage(Schema):
    items: list[TimelineEntryOut]
    next_cursor: str | None


class TimelineQuery(Schema):
    cursor: text(500) | None = Field(None, description="next_cursor of the previous page")  # type: ignore[valid-type]
    size: int = Field(25, ge=1, le=100)


@router.get("/customers/{customer_id}/notes", response={200: list[CustomerNoteOut], **errors(404, 422)})
def list_customer_notes(request: HttpRequest, customer_id: CustomerId) -> Any:
    """Agents' notes on the file (never shown to the customer), newest first; the latest 100."""
    customer = _customer(caller(request), customer_id)
    return list(customer.agent_notes.select_related("author")[:100])


@router.post("/customers/{customer_id}/notes", response={201: CustomerNoteOut, **errors(404, 422)})
def add_customer_note_(request: HttpRequest, customer_id: CustomerId, data: CustomerNoteIn) -> Any:
    customer = _customer(caller(request), customer_id)
    return Status(201, add_customer_note(customer, caller(request), data.body))


@router.get("/customers/{customer_id}/timeline", response={200: TimelinePage, **errors(404, 422)})
def customer_timeline(request: HttpRequest, customer_id: CustomerId, params: Query[TimelineQuery]) -> Any:
    """The customer's messages and calls on every ticket and channel that you may see, newest
    first (tickets' internal notes left out), a page at a time."""
    customer = _customer(caller(request), customer_id)
    page = queries.customer_timeline(caller(request), customer, params.cursor, params.size)
    prefetch_related_objects([e.author_customer for e in page.rows if e.author_customer is not None], "identities")
    return {"items": page.rows, "next_cursor": page.next_cursor}
