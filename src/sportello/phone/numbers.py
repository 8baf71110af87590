"""Phone numbers as PBXs send them, made E.164 with `phonenumbers` (Google's libphonenumber).

PBX scripts send numbers in several shapes: international without "+" (sipgate, Zammad's own
examples: "493055571600"), with "+" or "00" (Placetel, Twilio: "+4930…", "004930…"), or national
with the trunk prefix ("02214710334", read in the account's country). A caller who hides the
number sends "anonymous" (or "unknown", "restricted"): no number at all.
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

_JUNK = re.compile(r"[\s().\-/]")
HIDDEN = {"", "anonymous", "unknown", "restricted", "private", "unavailable", "withheld", "client"}


def to_e164(raw: str, region: str = "") -> str:
    """The number in E.164 ("+493055571600"), or "" when there is none (hidden, not a number)."""
    text = _JUNK.sub("", (raw or "").strip())
    if text.lower() in HIDDEN or not re.fullmatch(r"\+?\d{3,20}", text):
        return ""
    if text.startswith("00"):
        text = "+" + text[2:]
    where_national = (region or "").upper() or None
    attempts: list[tuple[str, str | None]]
    if text.startswith("+"):
        attempts = [(text, None)]
    elif text.startswith("0"):
        attempts = [(text, where_national)] if where_national else []
    else:  # international without "+" first (the PBXs' usual form), then a national number
        attempts = [("+" + text, None)] + ([(text, where_national)] if where_national else [])
    possible = ""
    for candidate, where in attempts:
        try:
            number = phonenumbers.parse(candidate, where)
        except NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, PhoneNumberFormat.E164)
        if not possible and phonenumbers.is_possible_number(number):
            possible = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return possible


def lookup_forms(e164: str) -> list[str]:
    """The forms a customer's phone identity may be stored in (identities typed before E.164:
    "+493055571600", "493055571600", "03055571600"), to find the caller's file."""
    if not e164:
        return []
    forms = [e164, e164[1:]]
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return forms
    national = _JUNK.sub("", phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL))
    if national and national not in forms:
        forms.append(national)
    return forms


def shown(e164: str) -> str:
    """The number as people read it ("+49 30 55571600")."""
    try:
        return phonenumbers.format_number(phonenumbers.parse(e164, None), PhoneNumberFormat.INTERNATIONAL)
    except NumberParseException:
        return e164
