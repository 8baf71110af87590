"""Customer use cases: finding the one file per person, editing it, managing identities."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from sportello.core.errors import Conflict, InvalidInput, NotFound
from sportello.customers.identity import normalize
from sportello.customers.models import Customer, Identity, IdentityKind, Organization


@dataclass(frozen=True)
class Sender:
    """Who a message comes from, as the channel knows it; any field may be empty."""

    name: str = ""
    email: str = ""
    phone: str = ""
    social: str = ""

    def identities(self) -> list[tuple[str, str]]:
        """(kind, normalised value) pairs, skipping values that do not parse."""
        pairs = []
        for kind, raw in (
            (IdentityKind.EMAIL, self.email),
            (IdentityKind.PHONE, self.phone),
            (IdentityKind.SOCIAL, self.social),
        ):
            if raw:
                try:
                    pairs.append((str(kind), normalize(kind, raw)))
                except ValidationError:
                    continue
        return pairs


def find_or_create_customer(sender: Sender, *, language: str = "en") -> Customer:
    """The customer one of whose identities matches `sender`, or a new one with all of them.

    1. Look identities up in the order email, phone, social; the first match wins.
    2. Add the sender's other identities to that customer when nobody else owns them.
    3. With no match, create the customer; a concurrent intake that created the same identity
       first makes our insert fail, and we take theirs (savepoint, then look up again).
    """
    pairs = sender.identities()
    if not pairs:
        raise InvalidInput("The sender has no valid email address, phone number or handle", field="sender")
    for _attempt in range(3):
        customer = _match(pairs)
        created = customer is None
        try:
            with transaction.atomic():
                if customer is None:
                    customer = Customer.objects.create(
                        name=sender.name.strip()[:200], language=language, organization=_organization_for(pairs)
                    )
                elif sender.name and not customer.name:
                    customer.name = sender.name.strip()[:200]
                    customer.save(update_fields=["name", "updated_at"])
                _attach_missing(customer, pairs, known_absent=created)
            return customer
        except IntegrityError:
            continue
    raise Conflict("Could not settle the customer for this sender; try again")


def _match(pairs: list[tuple[str, str]]) -> Customer | None:
    for kind, value in pairs:
        identity = Identity.objects.select_related("customer").filter(kind=kind, value=value).first()
        if identity:
            return identity.customer
    return None


def _attach_missing(customer: Customer, pairs: list[tuple[str, str]], *, known_absent: bool = False) -> None:
    """Give `customer` the identities nobody owns. `known_absent`: the lookup just found none of
    them, so they are inserted without asking again (a concurrent insert still fails the unique
    constraint, and the caller retries)."""
    for kind, value in pairs:
        if known_absent or not Identity.objects.filter(kind=kind, value=value).exists():
            Identity.objects.create(customer=customer, kind=kind, value=value)


def _organization_for(pairs: list[tuple[str, str]]) -> Organization | None:
    for kind, value in pairs:
        if kind == IdentityKind.EMAIL:
            domain = value.rpartition("@")[2]
            return Organization.objects.filter(domain__iexact=domain).first()
    return None


def create_customer(
    *,
    name: str,
    emails: Sequence[str] = (),
    phones: Sequence[str] = (),
    organization: Organization | None = None,
    language: str = "en",
    notes: str = "",
) -> Customer:
    with transaction.atomic():
        customer = Customer.objects.create(name=name, organization=organization, language=language, notes=notes)
        for email in emails:
            add_identity(customer, IdentityKind.EMAIL, email)
        for phone in phones:
            add_identity(customer, IdentityKind.PHONE, phone)
    return customer


def update_customer(customer: Customer, **fields: object) -> Customer:
    allowed = {"name", "organization", "language", "notes"}
    unknown = set(fields) - allowed
    if unknown:
        raise InvalidInput(f"Unknown customer fields: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(customer, name, value)
    customer.save()
    return customer


def add_identity(customer: Customer, kind: str, value: str) -> Identity:
    try:
        normalized = normalize(kind, value)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages), field="value") from exc
    existing = Identity.objects.filter(kind=kind, value=normalized).select_related("customer").first()
    if existing:
        if existing.customer_id == customer.pk:
            return existing
        raise Conflict(
            f"{normalized} already belongs to customer {existing.customer_id}", customer_id=existing.customer_id
        )
    return Identity.objects.create(customer=customer, kind=kind, value=normalized)


def remove_identity(customer: Customer, identity_id: int) -> None:
    deleted, _ = Identity.objects.filter(customer=customer, pk=identity_id).delete()
    if not deleted:
        raise NotFound("No such identity on this customer", field="identity_id")
