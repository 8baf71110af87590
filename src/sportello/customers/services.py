"""Customer use cases: finding the one file per person, editing it, managing identities.

Who may reach a customer's tickets through the portal is decided by the file's email identities,
so adding, removing and proving them is guarded here:

- An identity is `verified` when it is known to belong to its customer: mail came from it while it
  was the address the file was started with, or someone opened a link we mailed to it (a portal
  sign-in link, or the confirmation an agent's addition sends). Typed addresses (web form, chat,
  API, agents) start unverified, and agents see them marked.
- The portal signs in with a verified address, or with the address the file was started with (the
  file's first identity: whoever holds that address is who the file is about, and replies go
  there). An unverified address added later to an existing file opens nothing until confirmed.
- Changing a file's addresses or moving it into an organization that shares tickets is for agents
  who may see every ticket that change would open in the portal; staff addresses never become
  customer identities.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from sportello.core import lookups, prefetch
from sportello.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from sportello.core.made import made
from sportello.core.rows import _statement as row_statement
from sportello.core.rows import bound_cursor, keyed_insert, selected_insert
from sportello.core.rows import parameters as row_parameters
from sportello.customers.identity import normalize, owners_of, owners_query
from sportello.customers.models import Customer, CustomerChange, CustomerNote, Identity, IdentityKind, Organization
from sportello.fields import services as custom_fields_service

if TYPE_CHECKING:
    from sportello.accounts.models import User
    from sportello.core.events import Event
    from sportello.core.models import OutboxMessage
    from sportello.tickets.models import Ticket

log = logging.getLogger("sportello.customers")

CONFIRM_SALT = "sportello.customers.confirm-identity"
CONFIRMATION_MAIL = "customers.confirm-identity"  # the outbox kind of the mail
CONFIRM_DAYS = 7  # how long the link in a confirmation mail works
NO_ADDRESS = "The sender has no valid email address, phone number or handle"


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


def find_or_create_customer(
    sender: Sender,
    *,
    language: str = "en",
    stamp: int | None = None,
    known: tuple[list[tuple[str, str]], list[Identity]] | None = None,
) -> Customer:
    """The customer one of whose identities matches `sender`, or a new one with all of them.

    1. Read, in one statement, every identity of every customer owning one of the sender's
       addresses; the first match in the order email, phone, social wins.
    2. Give that customer the sender's other addresses nobody owns (`INSERT … ON CONFLICT DO
       NOTHING`: an address a concurrent intake took meanwhile stays theirs).
    3. With no match, create the customer and insert its addresses the same way. When a
       concurrent intake inserted one of them first (PostgreSQL makes our insert wait for its
       commit, then skips the row), our new file is deleted again and we take theirs (1.).

    The customer comes back with its identities in hand (`customer.identities.all()` costs no
    query: intake builds the search document and the API answer from them). `stamp`: the version
    of the cached lookups (core/lookups.py) for the organization of a new customer's domain.
    `known`: (pairs, identities) that a channel read in this transaction with a statement of its
    own (`identity.owners_query`); used instead of step 1's read when they are the sender's pairs.
    """
    pairs = sender.identities()
    if not pairs:
        raise InvalidInput(NO_ADDRESS, field="sender")
    name = sender.name.strip()[:200]
    for attempt in range(3):
        reuse = attempt == 0 and known is not None and known[0] == pairs
        found = known[1] if reuse and known is not None else _identities_of_owners(pairs)
        customer, owner = _owner(pairs, found)
        if customer is not None:
            if name and not customer.name:
                customer.name = name
                customer.save(update_fields=["name", "updated_at"])
            added = _insert_identities(customer, [pair for pair in pairs if pair not in owner])
            _hold_identities(customer, [i for i in found if i.customer_id == customer.pk] + added)
            return customer
        customer, added = _create_with_identities(
            made(Customer, name=name, language=language, organization_id=_organization_for(pairs, stamp)), pairs
        )
        if len(added) == len(pairs):
            _hold_identities(customer, added)
            return customer
        # Another intake took an address first: drop our file (nothing else points at it yet).
        Identity.objects.filter(customer=customer).delete()
        Customer.objects.filter(pk=customer.pk).delete()
    raise Conflict("Could not settle the customer for this sender; try again")


def _owner(
    pairs: list[tuple[str, str]], found: list[Identity]
) -> tuple[Customer | None, dict[tuple[str, str], Customer]]:
    """The customer owning the first of `pairs` anyone owns (email, phone, social: the order of
    `Sender.identities`), and who owns which, among the identities `found`."""
    owner = {(identity.kind, identity.value): identity.customer for identity in found}
    return next((owner[pair] for pair in pairs if pair in owner), None), owner


def _identities_of_owners(pairs: list[tuple[str, str]]) -> list[Identity]:
    """Every identity (with its customer) of the customers owning one of `pairs`, in one statement."""
    columns, _nulls, clause, params = owners_query(pairs)
    with bound_cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} {clause} ORDER BY i.kind, i.id", params)
        return owners_of(cursor.fetchall())


def _insert_identities(customer: Customer, pairs: list[tuple[str, str]]) -> list[Identity]:
    """Insert the addresses for `customer` in one statement, skipping any another customer holds
    (the unique (kind, value) constraint); the ones inserted come back."""
    if not pairs:
        return []
    now = timezone.now()
    with bound_cursor() as cursor:
        cursor.execute(
            _identities_sql(len(pairs), skip_taken=True),
            [v for kind, value in pairs for v in (customer.pk, kind, value, now)],
        )
        inserted = cursor.fetchall()
    return [
        made(
            Identity,
            pk=pk,
            customer=customer,
            kind=kind,
            value=value,
            undeliverable=False,
            verified=False,
            created_at=now,
        )
        for pk, kind, value in inserted
    ]


def _create_with_identities(customer: Customer, pairs: list[tuple[str, str]]) -> tuple[Customer, list[Identity]]:
    """Insert the new `customer` and its addresses (skipping any another customer holds, as
    `_insert_identities`); the ones inserted come back. On PostgreSQL in ONE statement (a
    data-modifying WITH): a new sender's first message makes one round trip fewer."""
    if connection.vendor != "postgresql" or not pairs:
        customer.save(force_insert=True)
        return customer, _insert_identities(customer, pairs)
    sql, columns = _customer_with_identities_sql(len(pairs))
    values = row_parameters(customer, columns, connection)  # each prepared as its field does
    now = timezone.now()
    with bound_cursor() as cursor:
        cursor.execute(sql, [*values, now, *(part for pair in pairs for part in pair)])
        rows = cursor.fetchall()
    customer.pk = rows[0][0]
    customer._state.adding, customer._state.db = False, connection.alias
    added = [
        made(
            Identity,
            pk=pk,
            customer=customer,
            kind=kind,
            value=value,
            undeliverable=False,
            verified=False,
            created_at=now,
        )
        for _customer, pk, kind, value in rows
        if pk is not None
    ]
    return customer, added


@functools.cache
def _customer_with_identities_sql(count: int) -> tuple[str, tuple[Any, ...]]:
    """`_create_with_identities`' statement for `count` addresses (PostgreSQL), and the customer
    columns it takes (core.rows' own, so a value is prepared as `rows.insert` prepares it); its
    text is built once per process."""
    quote = connection.ops.quote_name
    _insert, columns, _returned = row_statement(Customer, connection.vendor, ())
    sql = (
        f"WITH c AS (INSERT INTO {quote(Customer._meta.db_table)} "
        f"({', '.join(quote(str(field.column)) for _attname, field, _final in columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))}) RETURNING id), "
        f"i AS (INSERT INTO {quote(Identity._meta.db_table)} (customer_id, kind, value, undeliverable, verified, "
        f"created_at) SELECT c.id, v.kind, v.value, false, false, %s "
        f"FROM c, (VALUES {', '.join(['(%s, %s)'] * count)}) AS v(kind, value) "
        "ON CONFLICT (kind, value) DO NOTHING RETURNING id, kind, value) "
        "SELECT c.id, i.id, i.kind, i.value FROM c LEFT JOIN i ON true"
    )
    return sql, columns


@dataclass(frozen=True)
class NewCustomerRows:
    """A new sender's customer for a writer that inserts it inside a statement of its own (intake:
    a new sender's ticket in ONE statement, no transaction around it): the customer's INSERT, its
    key taken ahead, and her addresses' INSERT … RETURNING id, kind, value (the addresses are held
    on the customer already, without keys). Unlike `_create_with_identities`, an address another
    customer took meanwhile is not skipped: it fails the whole statement (IntegrityError), and
    the writer takes the transaction's way, which finds that customer. Call `written(rows)` with
    the rows the addresses' INSERT returned."""

    customer: Customer
    customer_row: tuple[str, list[Any]]
    identities: tuple[str, list[Any]]
    addresses: list[Identity]  # her identities, held on her already (`customer.identities.all()`)

    def written(self, found: Sequence[Sequence[Any]], key: int | None = None) -> None:
        """`key`: her key as the statement took it (`new_customer_selected`)."""
        customer = self.customer
        if key is not None:
            customer.pk = key
        customer._state.adding, customer._state.db = False, connection.alias
        keys = {(kind, value): pk for pk, kind, value in found}
        for identity in self.addresses:
            identity.pk, identity.customer = keys[identity.kind, identity.value], customer
            identity._state.adding, identity._state.db = False, connection.alias
        if key is not None:  # held again under her key (a related manager's query is built with it)
            _hold_identities(customer, self.addresses)


def customer_without_statement(
    sender: Sender, *, language: str, stamp: int | None, owners: list[Identity], key: int
) -> tuple[Customer, NewCustomerRows | None] | None:
    """The sender's customer as `find_or_create_customer` settles it, when that needs no statement
    of its own. `owners`: every identity of the customers owning one of the sender's addresses, as
    the caller read them (`identity.owners_query`). Either such a customer with nothing to add (no
    rows), or a new customer whose rows the caller writes (`key`: her key, taken ahead from the
    table's sequence). None when `find_or_create_customer` has to write: a nameless customer takes
    the sender's name, or one of the sender's addresses nobody holds joins the file."""
    pairs = sender.identities()
    if not pairs:
        raise InvalidInput(NO_ADDRESS, field="sender")
    name = sender.name.strip()[:200]
    customer, owner = _owner(pairs, owners)
    if customer is not None:
        if (name and not customer.name) or any(pair not in owner for pair in pairs):
            return None
        _hold_identities(customer, [i for i in owners if i.customer_id == customer.pk])
        return customer, None
    customer, addresses, now = _new_customer(pairs, name, language, stamp, key)
    insert = (_identities_sql(len(pairs)), [v for kind, value in pairs for v in (key, kind, value, now)])
    return customer, NewCustomerRows(customer, keyed_insert(customer), insert, addresses)


def new_customer_selected(
    sender: Sender, pairs: list[tuple[str, str]], *, language: str, stamp: int | None, source: str
) -> NewCustomerRows:
    """A new sender's customer as `customer_without_statement` makes her when none of her
    addresses is known, for a statement that takes her key from `source` (a one-row relation of
    the statement, its column `c`) and writes nothing when that holds no row (`rows.selected_insert`):
    intake's one statement for a new sender, which checks in that relation that none of her
    addresses is known. `pairs`: her addresses as `sender.identities()` gave them to the caller
    (not normalised again). Her addresses' INSERT returns id, kind, value of each."""
    # Key 0 until the statement gives hers (`written`): Django holds no related rows for an instance without one.
    customer, addresses, now = _new_customer(pairs, sender.name.strip()[:200], language, stamp, 0)
    identities = (
        _selected_identities_sql(len(pairs), source),
        [now, *(part for pair in pairs for part in pair)],
    )
    return NewCustomerRows(customer, selected_insert(customer, {"id": f"{source}.c"}, source), identities, addresses)


@functools.cache
def _selected_identities_sql(count: int, source: str) -> str:
    table = connection.ops.quote_name(Identity._meta.db_table)
    return (
        f"INSERT INTO {table} (customer_id, kind, value, undeliverable, verified, created_at) "
        f"SELECT {source}.c, v.kind, v.value, false, false, %s "
        f"FROM {source}, (VALUES {', '.join(['(%s, %s)'] * count)}) AS v (kind, value) RETURNING id, kind, value"
    )


def _new_customer(
    pairs: list[tuple[str, str]], name: str, language: str, stamp: int | None, key: int
) -> tuple[Customer, list[Identity], datetime]:
    """A new customer (not written) holding her new addresses, and the time they were made."""
    customer = made(Customer, pk=key, name=name, language=language, organization_id=_organization_for(pairs, stamp))
    now = timezone.now()
    addresses = [
        made(Identity, customer=customer, kind=kind, value=value, undeliverable=False, verified=False, created_at=now)
        for kind, value in pairs
    ]
    _hold_identities(customer, addresses)
    return customer, addresses, now


@functools.cache
def _identities_sql(count: int, *, skip_taken: bool = False) -> str:
    """The INSERT of `count` new, unverified addresses (customer, kind, value, created_at each),
    returning (id, kind, value) of those inserted; `skip_taken`: an address another customer
    holds is skipped (the unique (kind, value) constraint) instead of failing the statement."""
    table = connection.ops.quote_name(Identity._meta.db_table)
    return (
        f"INSERT INTO {table} (customer_id, kind, value, undeliverable, verified, created_at) "
        f"VALUES {', '.join(['(%s, %s, %s, false, false, %s)'] * count)} "
        f"{'ON CONFLICT (kind, value) DO NOTHING ' if skip_taken else ''}RETURNING id, kind, value"
    )


def _hold_identities(customer: Customer, identities: list[Identity]) -> None:
    """Make `customer.identities.all()` answer `identities` without a query, as prefetch_related
    would have left it."""
    identities.sort(key=lambda identity: (identity.kind, identity.pk))
    for identity in identities:
        identity.customer = customer
    prefetch.hold(customer, "identities", identities)


def _organization_for(pairs: list[tuple[str, str]], stamp: int | None = None) -> int | None:
    """The organization whose mail domain is the first email address's (per-process cache)."""
    for kind, value in pairs:
        if kind == IdentityKind.EMAIL:
            return organization_domains(stamp).get(value.rpartition("@")[2])
    return None


def organization_domains(stamp: int | None = None) -> dict[str, int]:
    """Mail domain (lower case) → organization id; the first by name wins a shared
    domain. With `stamp` read once per process and version of the lookups (core/lookups.py)."""

    def load() -> dict[str, int]:
        domains: dict[str, int] = {}
        for pk, domain in Organization.objects.exclude(domain="").order_by("name", "id").values_list("pk", "domain"):
            domains.setdefault(domain.lower(), pk)
        return domains

    return lookups.cached("organization-domains", stamp, load)


def create_customer(
    *,
    name: str,
    emails: Sequence[str] = (),
    phones: Sequence[str] = (),
    organization: Organization | None = None,
    language: str = "en",
    notes: str = "",
    actor: User | None = None,
    custom_fields: dict[str, Any] | None = None,
) -> Customer:
    """A new customer file; `actor` (the agent) must be allowed to see what the organization shares.
    `custom_fields` (when given, every required one) are checked by fields/services.py."""
    if actor is not None and organization is not None:
        require_sight_of(actor, portal_tickets(None, organization))
    values = {}
    if custom_fields is not None:
        values = custom_fields_service.clean_values("customer", custom_fields, creating=True)
    with transaction.atomic():
        customer = Customer.objects.create(
            name=name,
            organization=organization,
            language=language,
            notes=notes,
            custom_fields=custom_fields_service.merged({}, values),
        )
        for email in emails:
            add_identity(customer, IdentityKind.EMAIL, email)
        for phone in phones:
            add_identity(customer, IdentityKind.PHONE, phone)
    return customer


def update_customer(customer: Customer, *, actor: User | None = None, **fields: Any) -> Customer:
    """Change a customer's fields. Moving the file into an organization that shares its tickets
    opens them to the customer's portal account: only for an `actor` who may see them all."""
    allowed = {"name", "organization", "language", "notes", "custom_fields"}
    unknown = set(fields) - allowed
    if unknown:
        raise InvalidInput(f"Unknown customer fields: {', '.join(sorted(unknown))}")
    if "custom_fields" in fields:  # the fields given change; the others stay
        cleaned = custom_fields_service.clean_values("customer", fields["custom_fields"])
        fields["custom_fields"] = custom_fields_service.merged(customer.custom_fields, cleaned)
    organization = fields.get("organization")
    if actor is not None and organization is not None and organization.pk != customer.organization_id:
        require_sight_of(actor, portal_tickets(None, organization))
    with transaction.atomic():
        history = []
        for name, value in fields.items():
            before = getattr(customer, name)
            if name == "custom_fields":
                history += _custom_field_history(customer, actor, before, value)
            elif before != value:
                history.append(
                    CustomerChange(
                        customer=customer, actor=actor, field=name, old_value=_shown(before), new_value=_shown(value)
                    )
                )
            setattr(customer, name, value)
        customer.save()
        CustomerChange.objects.bulk_create(history)
    return customer


def _custom_field_history(
    customer: Customer, actor: User | None, before: dict[str, Any], after: dict[str, Any]
) -> list[CustomerChange]:
    """One history row per custom field that changed, under its label."""
    labels = {d.key: d.label for d in custom_fields_service.definitions("customer")}
    return [
        CustomerChange(
            customer=customer,
            actor=actor,
            field=labels.get(key, key)[:50],
            old_value=custom_fields_service.display_value(before.get(key)),
            new_value=custom_fields_service.display_value(after.get(key)),
        )
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    ]


def _shown(value: Any) -> str:
    """How a field's value is written into the file's history."""
    return "" if value is None else str(value)


def add_identity(customer: Customer, kind: str, value: str, *, actor: User | None = None) -> Identity:
    """Give `customer` an address, unverified; an email address gets a confirmation mail.

    1. Refuse a staff account's address (it would sign a colleague into the portal as a customer)
       and an address of another customer (409 with its id).
    2. With an `actor` (an agent), refuse unless they may see every ticket the customer's portal
       shows: a restricted agent cannot lend their address to another group's customer.
    3. Mail the address a signed link that confirms it (CONFIRM_DAYS); asking again for an address
       the customer already has and that is not confirmed yet sends the link again. The address a
       file starts with needs none (it opens the portal as it is, see may_sign_in).
    """
    try:
        normalized = normalize(kind, value)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages), field="value") from exc
    if kind == IdentityKind.EMAIL and is_staff_address(normalized):
        raise InvalidInput(
            f"{normalized} is the address of a staff account (an agent or admin); "
            "staff addresses cannot be customer addresses",
            field="value",
        )
    existing = Identity.objects.filter(kind=kind, value=normalized).select_related("customer").first()
    if existing and existing.customer_id != customer.pk:
        raise Conflict(
            f"{normalized} already belongs to customer {existing.customer_id}", customer_id=existing.customer_id
        )
    if actor is not None:
        require_sight_of(actor, portal_tickets(customer))
    identity = existing or Identity.objects.create(customer=customer, kind=kind, value=normalized)
    if existing is None:
        CustomerChange.objects.create(customer=customer, actor=actor, field="identity", new_value=normalized)
    # The address a file starts with opens the portal as it is (see may_sign_in): no mail for it.
    if identity.kind == IdentityKind.EMAIL and not identity.verified and not is_first_identity(identity):
        send_confirmation(identity)
    return identity


def remove_identity(customer: Customer, identity_id: int, *, actor: User | None = None) -> None:
    """Remove an address. Which address opens the portal depends on the ones left (the file's
    first one does), so an `actor` must be allowed to see all the customer's portal tickets."""
    if actor is not None:
        require_sight_of(actor, portal_tickets(customer))
    identity = Identity.objects.filter(customer=customer, pk=identity_id).first()
    if identity is None:
        raise NotFound("No such identity on this customer", field="identity_id")
    with transaction.atomic():
        identity.delete()
        CustomerChange.objects.create(customer=customer, actor=actor, field="identity", old_value=identity.value)


# --- Who may reach a file's tickets -------------------------------------------------------------------


def is_staff_address(email: str) -> bool:
    """Whether `email` is the address of an agent, light agent, admin or system account."""
    from sportello.accounts.models import Role, User

    staff = (
        Q(role__in=[Role.ADMIN, Role.AGENT, Role.LIGHT_AGENT, Role.SYSTEM]) | Q(is_staff=True) | Q(is_superuser=True)
    )
    return bool(email) and User.objects.filter(staff, email__iexact=email.strip()).exists()


def portal_tickets(customer: Customer | None, organization: Organization | None = None) -> QuerySet[Ticket]:
    """The tickets a portal account of `customer` (or a member of `organization`) would see."""
    from sportello.tickets.models import Ticket

    organization = organization or (customer.organization if customer is not None else None)
    if organization is not None and organization.shared_tickets:
        return Ticket.objects.filter(customer__organization=organization)
    if customer is None:
        return Ticket.objects.none()
    return Ticket.objects.filter(customer=customer)


def require_sight_of(actor: User, tickets: QuerySet[Ticket]) -> None:
    """Forbidden unless `actor` is a full agent who may see every one of `tickets`."""
    from sportello.tickets.access import require_full_agent, tickets_visible_to

    require_full_agent(actor)
    if actor.is_admin or not actor.restricted_to_groups:
        return
    if tickets.exclude(pk__in=tickets_visible_to(actor).values("pk")).exists():
        raise Forbidden(
            "This customer has tickets outside your groups; only an agent who may see all of them "
            "can change the addresses that open them in the portal"
        )


def is_first_identity(identity: Identity) -> bool:
    """Whether `identity` is the address its file was started with (the customer's oldest)."""
    return not Identity.objects.filter(customer_id=identity.customer_id, pk__lt=identity.pk).exists()


def may_sign_in(identity: Identity) -> bool:
    """Whether this email identity may sign in to the portal: not a staff address, and either
    verified or the address the file was started with (the portal's link then verifies it)."""
    if identity.kind != IdentityKind.EMAIL or is_staff_address(identity.value):
        return False
    return identity.verified or is_first_identity(identity)


def verify_identity(identity: Identity) -> bool:
    """Mark an identity verified (someone proved they hold it); True when it was not yet."""
    changed = Identity.objects.filter(pk=identity.pk, verified=False).update(verified=True)
    identity.verified = True
    if changed:
        log.info("customers: identity %s of customer %s verified", identity.pk, identity.customer_id)
    return bool(changed)


def verify_mail_sender(event: Event) -> None:
    """Listener (ENTRY_ADDED): an inbound mail verifies its From address when that is the address
    its customer's file was started with. A later address stays claimed even when mail comes from
    it: mail proves who holds an address, not that it belongs to this file."""
    from sportello.tickets.models import Channel, Direction, Entry

    if event.entry_id is None or event.data.get("direction") != "inbound":
        return
    row = (
        Entry.objects.filter(pk=event.entry_id, channel=Channel.EMAIL, direction=Direction.INBOUND, internal=False)
        .values("author_customer_id", "metadata__from__address")
        .first()
    )
    address = row["metadata__from__address"] if row is not None else None
    if row is None or not isinstance(address, str) or not address:
        return
    identity = Identity.objects.filter(
        customer_id=row["author_customer_id"], kind=IdentityKind.EMAIL, value=address.strip().lower(), verified=False
    ).first()
    if identity is not None and is_first_identity(identity):
        verify_identity(identity)


# --- Confirmation of an added address -----------------------------------------------------------------


def confirmation_token(identity: Identity) -> str:
    return signing.dumps({"i": identity.pk, "v": identity.value}, salt=CONFIRM_SALT)


def send_confirmation(identity: Identity) -> None:
    """Write the mail that confirms an added address to the outbox, in the caller's transaction
    (core/outbox.py): the link (CONFIRM_DAYS) proves the address belongs to whoever reads it there."""
    from sportello.core import outbox

    url = settings.SITE_URL + reverse("portal:confirm", kwargs={"token": confirmation_token(identity)})
    outbox.put(CONFIRMATION_MAIL, {"identity": identity.pk, "url": url})


def handle_confirmation_mail(message: OutboxMessage) -> None:
    """Outbox handler: send the confirmation mail, unless the address was confirmed, removed or
    bounced meanwhile. Its Message-ID is the row's, so a resend is recognisably the same mail."""
    from email.utils import formataddr

    from django.core.mail import EmailMultiAlternatives
    from django.template.loader import render_to_string
    from django.utils import translation

    from sportello.mail.outbound import outbox_message_id
    from sportello.mail.sender import brand_for_mail, branded_html, sender

    identity = Identity.objects.select_related("customer").filter(pk=message.payload.get("identity")).first()
    if identity is None or identity.verified or identity.undeliverable:
        return
    customer = identity.customer
    context = {"customer": customer, "address": identity.value, "url": message.payload["url"], "days": CONFIRM_DAYS}
    with translation.override(customer.language or settings.LANGUAGE_CODE):
        subject = " ".join(render_to_string("customers/confirm_identity_subject.txt", context).split())
        text = render_to_string("customers/confirm_identity_body.txt", context)
        html = render_to_string("customers/confirm_identity_body.html", context)
    brand = brand_for_mail()
    mail = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=sender(brand=brand),
        to=[formataddr((customer.name, identity.value))],
        headers={"Message-ID": outbox_message_id(message, "confirm"), "Auto-Submitted": "auto-generated"},
    )
    mail.attach_alternative(branded_html(html, brand), "text/html")
    mail.send()


def confirm_identity(token: str) -> Identity:
    """The identity a confirmation link names, now verified; InvalidInput when the link is forged,
    expired, or the address has since been removed or given to someone else."""
    try:
        data = signing.loads(token or "", salt=CONFIRM_SALT, max_age=CONFIRM_DAYS * 24 * 3600)
        pk, value = int(data["i"]), str(data["v"])
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(_("This confirmation link has expired or is not valid.")) from exc
    identity = Identity.objects.filter(pk=pk, value=value).first()
    if identity is None or is_staff_address(identity.value):
        raise InvalidInput(_("This confirmation link has expired or is not valid."))
    verify_identity(identity)
    return identity


# --- Agents' notes on a file ---------------------------------------------------------------------------


def add_customer_note(customer: Customer, actor: User, body: str) -> CustomerNote:
    """An internal note on the customer's file (agents only; light agents too, as on tickets)."""
    from sportello.tickets.access import require_agent

    require_agent(actor)
    body = body.strip()
    if not body:
        raise InvalidInput(_("Write the note first."), field="body")
    if len(body) > 20_000:
        raise InvalidInput(_("A note holds at most 20,000 characters."), field="body")
    return CustomerNote.objects.create(customer=customer, author=actor, body=body)


# --- Organizations --------------------------------------------------------------------------------------

ORGANIZATION_FIELDS = {"name", "domain", "shared_tickets", "notes", "custom_fields"}


def _clean_organization(values: dict[str, Any], *, exclude: int | None = None) -> dict[str, Any]:
    if "name" in values:
        values["name"] = str(values["name"]).strip()
        if not values["name"]:
            raise InvalidInput(_("An organization needs a name."), field="name")
        same_name = Organization.objects.filter(name__iexact=values["name"])
        taken = (same_name.exclude(pk=exclude) if exclude is not None else same_name).first()
        if taken is not None:
            raise InvalidInput(
                _("There is already an organization called %(name)s.") % {"name": taken.name},
                field="name",
                organization_id=taken.pk,
            )
    if "domain" in values:
        domain = str(values["domain"] or "").strip().lower().lstrip("@")
        if domain and ("." not in domain or any(c.isspace() or c in "@/" for c in domain)):
            raise InvalidInput(_("Write a mail domain such as example.com."), field="domain")
        values["domain"] = domain
    if "custom_fields" in values:  # the fields given, checked (fields/services.py); merged by the callers
        values["custom_fields"] = custom_fields_service.clean_values(
            "organization", values["custom_fields"], creating=exclude is None
        )
    return values


def create_organization(actor: User, **values: Any) -> Organization:
    """A new organization; full agents only."""
    from sportello.tickets.access import require_full_agent

    require_full_agent(actor)
    unknown = set(values) - ORGANIZATION_FIELDS
    if unknown:
        raise InvalidInput(f"Unknown organization fields: {', '.join(sorted(unknown))}")
    values = _clean_organization(values)
    values["custom_fields"] = custom_fields_service.merged({}, values.get("custom_fields", {}))
    return Organization.objects.create(**values)


def update_organization(organization: Organization, actor: User, **values: Any) -> Organization:
    """Change an organization. Starting to share its tickets opens every member's tickets to every
    other member's portal: only for an agent who may see them all."""
    from sportello.tickets.access import require_full_agent

    require_full_agent(actor)
    unknown = set(values) - ORGANIZATION_FIELDS
    if unknown:
        raise InvalidInput(f"Unknown organization fields: {', '.join(sorted(unknown))}")
    values = _clean_organization(values, exclude=organization.pk)
    if values.get("shared_tickets") and not organization.shared_tickets:
        require_sight_of(actor, _tickets_of_members(organization))
    if "custom_fields" in values:
        values["custom_fields"] = custom_fields_service.merged(organization.custom_fields, values["custom_fields"])
    for name, value in values.items():
        setattr(organization, name, value)
    organization.save()
    return organization


def _tickets_of_members(organization: Organization) -> QuerySet[Ticket]:
    from sportello.tickets.models import Ticket

    return Ticket.objects.filter(customer__organization=organization)


def add_member(organization: Organization, customer: Customer, actor: User) -> Customer:
    """Put a customer in an organization (taking them out of their previous one)."""
    return update_customer(customer, actor=actor, organization=organization)


def remove_member(organization: Organization, customer: Customer, actor: User) -> Customer:
    from sportello.tickets.access import require_full_agent

    require_full_agent(actor)
    if customer.organization_id != organization.pk:
        raise NotFound(f"Customer {customer.pk} is not a member of {organization.name}", field="customer_id")
    return update_customer(customer, actor=actor, organization=None)
