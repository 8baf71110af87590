"""Normalising the addresses customers write from, so one person is one customer."""

from __future__ import annotations

import functools
import re

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection

from sportello.core.rows import from_row
from sportello.customers.models import Customer, Identity, IdentityKind

_PHONE_JUNK = re.compile(r"[\s().\-/]")


def normalize(kind: str, value: str) -> str:
    """Return the canonical form of an identity value, or raise ValidationError."""
    value = (value or "").strip()
    if kind == IdentityKind.EMAIL:
        value = value.lower()
        validate_email(value)
        local, _at, domain = value.rpartition("@")
        if not domain.isascii():
            # The ASCII (A-label) form, as mail intake records it (mail/parse.py), so an address
            # typed into the web form and the same address on a mail are one identity.
            try:
                domain = domain.encode("idna").decode("ascii")
            except UnicodeError as err:
                raise ValidationError(f"Not a valid domain: {domain!r}") from err
        return f"{local}@{domain}"
    if kind == IdentityKind.PHONE:
        digits = _PHONE_JUNK.sub("", value)
        if digits.startswith("00"):
            digits = "+" + digits[2:]
        if not re.fullmatch(r"\+?\d{3,20}", digits):
            raise ValidationError(f"Not a phone number: {value!r}")
        return e164(digits) or digits
    if kind == IdentityKind.SOCIAL:
        if not value or len(value) > 254:
            raise ValidationError("A social handle needs 1 to 254 characters")
        return value.lower()
    raise ValidationError(f"Unknown identity kind {kind!r}")


def e164(value: str, region: str | None = None) -> str | None:
    """The number in E.164 form (`+393331234567`), or None when it is not a possible number.

    International numbers (`+…`, `00…`) need no region; a national number (`030 1234567`) needs
    the `region` it is dialled in (`DE`). Messaging platforms name senders by their number with
    or without the plus (WhatsApp's `wa_id`: `16315551181`): pass those with a `+` in front.
    """
    import phonenumbers

    raw = _PHONE_JUNK.sub("", value or "")
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    try:
        number = phonenumbers.parse(raw, None if raw.startswith("+") else region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# --- Who owns an address: one statement, also as a part of a channel's own look-up -------------------


def owners_query(pairs: list[tuple[str, str]]) -> tuple[list[str], list[str], str, list[str]]:
    """Every identity (with its customer) of the customers owning one of `pairs` (kind, normalised
    value), as SQL: (the selected columns, typed NULLs that stand for them in the other parts of a
    UNION, the FROM … WHERE … clause, its parameters). Read the rows with `owners_of`, in the
    order `kind, id`. A channel may select these columns in a statement it runs anyway (mail's
    look-up: a part of its UNION) and hand the identities to intake, which then reads none
    (`find_or_create_customer(known=…)`).

    Written in SQL: it runs on every message, and compiling the ORM's form (an OR of pairs, a
    subquery, a join) cost more than running it."""
    columns, nulls = _owner_columns(connection.vendor)
    quote = connection.ops.quote_name
    wanted = " OR ".join(["(kind = %s AND value = %s)"] * len(pairs))
    identities = quote(Identity._meta.db_table)
    clause = (
        f"FROM {identities} i JOIN {quote(Customer._meta.db_table)} c ON c.id = i.customer_id "
        f"WHERE i.customer_id IN (SELECT customer_id FROM {identities} WHERE {wanted})"
    )
    return list(columns), list(nulls), clause, [part for pair in pairs for part in pair]


@functools.cache
def _owner_columns(vendor: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """`owners_query`'s columns and their typed NULLs (built once: asking the fields for their types costs ~0.35 ms)."""
    quote = connection.ops.quote_name
    fields = [("i", f) for f in Identity._meta.concrete_fields] + [("c", f) for f in Customer._meta.concrete_fields]
    columns = tuple(f"{table}.{quote(str(f.column))}" for table, f in fields)
    # PostgreSQL types a UNION's columns pairwise from the left, and two bare NULLs make text.
    nulls = tuple(f"CAST(NULL AS {f.cast_db_type(connection)})" for _table, f in fields)
    return columns, nulls


def owners_of(rows: list[tuple[object, ...]]) -> list[Identity]:
    """The identities of `owners_query`'s rows (its columns, in order), each with its customer."""
    split = len(Identity._meta.concrete_fields)
    customers: dict[int, Customer] = {}
    found = []
    for row in rows:
        identity = from_row(Identity, row[:split])
        customer = customers.get(identity.customer_id)
        if customer is None:
            customer = customers[identity.customer_id] = from_row(Customer, row[split:])
        identity.customer = customer
        found.append(identity)
    return found
