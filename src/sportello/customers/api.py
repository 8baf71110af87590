"""Customers in the REST API: list and search, create, read (with identities and recent tickets),
update, and add or remove the identities (addresses) a customer writes from."""

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
from sportello.customers.models import Customer, Identity, Organization
from sportello.customers.services import add_identity, create_customer, remove_identity, update_customer
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


class CustomerUpdateIn(InputSchema):
    """Only the fields given change; `organization: null` takes the customer out of theirs."""

    name: text(200) | None = None  # type: ignore[valid-type]
    organization: Id | None = None
    language: text(10, min_length=1) | None = None  # type: ignore[valid-type]
    notes: Text | None = None

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
    customers = Customer.objects.all()
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


@router.patch("/customers/{customer_id}", response={200: CustomerDetailOut, **errors(404, 422)})
def update_customer_(request: HttpRequest, customer_id: CustomerId, data: CustomerUpdateIn) -> Any:
    customer = _customer(caller(request), customer_id)
    require_full_agent(caller(request))
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
    return Status(201, add_identity(customer, data.kind, data.value, actor=caller(request)))


@router.delete("/customers/{customer_id}/identities/{identity_id}", response={204: None, **errors(404, 422)})
def remove_identity_(
    request: HttpRequest, customer_id: CustomerId, identity_id: Annotated[int, Path(ge=1, le=MAX_DB_INT)]
) -> Any:
    customer = _customer(caller(request), customer_id)
    require_full_agent(caller(request))
    remove_identity(customer, identity_id, actor=caller(request))
    return Status(204, None)
