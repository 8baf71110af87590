"""What the customer and organization pages read: timelines, ticket lists, members, search.

Every list is keyset-paged (a cursor holding the last row's sort key), so a page costs the same
statements whatever the file's size, and lists tickets and entries only through
`tickets_visible_to`: a restricted agent sees a customer's tickets in their groups only.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet, prefetch_related_objects

from sportello.core.errors import InvalidInput
from sportello.customers.identity import normalize
from sportello.customers.models import Customer, Identity, IdentityKind, Organization

if TYPE_CHECKING:
    from sportello.accounts.models import User

TIMELINE_PAGE = 25
SEARCH_LIMIT = 10


@dataclass
class Page:
    rows: list[Any]
    next_cursor: str | None


def encode(values: list[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def decode(cursor: str, kinds: tuple[type, ...]) -> list[Any]:
    """The values of a cursor, of the given kinds (datetime, int, str); InvalidInput when forged."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError("length")
        result: list[Any] = []
        for value, kind in zip(values, kinds, strict=True):
            if kind is datetime:
                result.append(datetime.fromisoformat(value))
            elif kind is int:
                if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
                    raise ValueError("int")
                result.append(value)
            elif not isinstance(value, str) or "\x00" in value:
                raise ValueError("str")
            else:
                result.append(value)
        return result
    except (ValueError, TypeError) as exc:
        raise InvalidInput("The page cursor is not valid; start again from the first page", field="cursor") from exc


def _newest_first(rows: QuerySet[Any], cursor: str | None, size: int) -> Page:
    """A page of `rows` by (created_at, id) descending, after `cursor`."""
    if cursor:
        at, pk = decode(cursor, (datetime, int))
        rows = rows.filter(created_at__lte=at).filter(Q(created_at__lt=at) | Q(created_at=at, pk__lt=pk))
    found = list(rows.order_by("-created_at", "-id")[: size + 1])
    last = found[size - 1] if len(found) > size else None
    return Page(found[:size], encode([last.created_at, last.pk]) if last is not None else None)


def customer_timeline(user: User, customer: Customer, cursor: str | None = None, size: int = TIMELINE_PAGE) -> Page:
    """The messages and calls on the customer's tickets (that `user` may see), newest first, on
    every channel; internal notes are left out (they are the team's, not the customer's story)."""
    from sportello.tickets.access import tickets_visible_to
    from sportello.tickets.models import Entry

    entries = (
        Entry.objects.filter(ticket__customer=customer, internal=False)
        .filter(ticket__in=tickets_visible_to(user).filter(customer=customer).values("pk"))
        .select_related("ticket", "author_user", "author_customer")
    )
    return _newest_first(entries, cursor, size)


def organization_tickets(user: User, organization: Organization, cursor: str | None = None, size: int = 25) -> Page:
    """The tickets of the organization's members that `user` may see, newest first."""
    from sportello.tickets.access import tickets_visible_to

    tickets = (
        tickets_visible_to(user)
        .filter(customer__organization=organization, merged_into__isnull=True)
        .select_related("customer", "status", "assignee", "group", "sla")
    )
    return _newest_first(tickets, cursor, size)


def members(organization: Organization, cursor: str | None = None, size: int = 50) -> Page:
    """The organization's customers by name, a page at a time."""
    customers = Customer.objects.filter(organization=organization, merged_into__isnull=True)
    if cursor:
        name, pk = decode(cursor, (str, int))
        customers = customers.filter(Q(name__gt=name) | Q(name=name, pk__gt=pk))
    found = list(customers.prefetch_related("identities").order_by("name", "id")[: size + 1])
    last = found[size - 1] if len(found) > size else None
    return Page(found[:size], encode([last.name, last.pk]) if last is not None else None)


# The shortest text matched inside names and addresses: a trigram index (PostgreSQL, migration
# 0006) answers a LIKE '%…%' of three characters or more; a shorter one would read every customer.
MIN_QUERY = 3


def find_customers(query: str, limit: int = SEARCH_LIMIT, *, exclude: int | None = None) -> list[Customer]:
    """Customers whose name or one of whose addresses holds `query` (3 characters or more); a
    phone number matches in any spelling (`+39 06 123`, `0039-06-123`), by its digits. A
    reference number (`#10042`) is a ticket's, not a customer's: nothing."""
    query = query.strip()
    if len(query) < MIN_QUERY or re.fullmatch(r"#\d+", query):
        return []
    values = Q(value__icontains=query)
    digits = re.sub(r"[\s().\-/]", "", query)
    if re.fullmatch(r"\+?\d{3,20}", digits):
        # Stored numbers are digits with an optional leading +; "0039…" is stored as "+39…".
        # (icontains: digits have no case, and it is the expression the trigram index holds.)
        values |= Q(kind=IdentityKind.PHONE, value__icontains=digits.removeprefix("+").removeprefix("00"))
    # Two reads, each answered by its trigram index, rather than one with an OR across the
    # tables (PostgreSQL then reads every customer): by name, and by address; merged in order.
    # Neither is sorted in SQL: a common name ("Maria") matches thousands, and sorting them all
    # to show ten costs ~250 ms at 50,000 customers; the first matches found are shown, by name.
    live = Customer.objects.filter(merged_into__isnull=True).select_related("organization")
    if exclude is not None:
        live = live.exclude(pk=exclude)
    by_name = list(live.filter(name__icontains=query)[:limit])
    owners = _exact_address_owners(query)
    if not owners:
        owners = list(Identity.objects.filter(values).values_list("customer_id", flat=True)[: limit * 2])
    by_address = live.filter(pk__in=owners) if owners else []
    found = {customer.pk: customer for customer in [*by_name, *list(by_address)[:limit]]}
    customers = sorted(found.values(), key=lambda customer: (customer.name, customer.pk))[:limit]
    prefetch_related_objects(customers, "identities")
    return customers


def _exact_address_owners(query: str) -> list[int]:
    """The owner of `query` when it is a whole e-mail address someone has, from the unique index
    on (kind, value): the trigram index matches inside addresses, and every address sharing
    "@example.com" shares its trigrams (2-6.5 ms at 50k customers; the unique index: 0.01 ms).
    Nothing for a partial address or an address nobody has: the trigram path then."""
    if "@" not in query:
        return []
    try:
        value = normalize(IdentityKind.EMAIL, query)
    except ValidationError:
        return []
    return list(
        Identity.objects.filter(kind=IdentityKind.EMAIL, value=value).order_by().values_list("customer_id", flat=True)
    )


def find_organizations(query: str, limit: int = SEARCH_LIMIT) -> list[Organization]:
    query = query.strip()
    if len(query) < MIN_QUERY or re.fullmatch(r"#\d+", query):
        return []
    return list(
        Organization.objects.filter(Q(name__icontains=query) | Q(domain__icontains=query.lstrip("@"))).order_by("name")[
            :limit
        ]
    )
