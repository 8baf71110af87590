"""Normalising the addresses customers write from, so one person is one customer."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from sportello.customers.models import IdentityKind

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
