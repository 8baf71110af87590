"""Addresses and Message-IDs that name a ticket and cannot be forged.

A reply address is `support+<number>-<mac>@domain` and our Message-IDs end in
`.sportello.<number>.<entry>.<mac>@domain`, where the MAC is an HMAC of the ticket number under
SECRET_KEY. Whoever writes to a reply address (a colleague of the customer, a forwarding
system) lands on that ticket, but a stranger who only knows or guesses a number cannot produce
the MAC. Comparisons are constant-time.
"""

from __future__ import annotations

import functools
import re
from email.utils import parseaddr

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

from sportello.tickets.models import Ticket

MAC_LENGTH = 10
_REPLY_LOCAL = re.compile(r"^(?P<base>[^+]+)\+(?P<number>\d{1,18})-(?P<mac>[0-9a-z]+)$", re.IGNORECASE)
_OWN_MESSAGE_ID = re.compile(
    r"sportello\.(?P<number>\d{1,18})\.(?P<entry>[\w-]+)(?:\.(?P<mac>[0-9a-z]+))?@(?P<domain>[^>\s]+)>?$",
    re.IGNORECASE,
)


def ticket_mac(number: int) -> str:
    return salted_hmac("sportello.mail.ticket", str(number), algorithm="sha256").hexdigest()[:MAC_LENGTH]


def verify_mac(number: int, mac: str) -> bool:
    return constant_time_compare(ticket_mac(number), (mac or "").lower())


def base_address(mailbox_address: str = "") -> str:
    return mailbox_address or _default_address(settings.DEFAULT_FROM_EMAIL, settings.SPORTELLO_MAIL_DOMAIN)


@functools.lru_cache(maxsize=8)
def _default_address(from_email: str, domain: str) -> str:
    """The default sender's address, parsed once (every message received asks for it)."""
    return parseaddr(from_email)[1] or f"support@{domain}"


def reply_address(ticket: Ticket, mailbox_address: str = "") -> str:
    """The address a reply to this ticket should go to (outbound sets it as Reply-To)."""
    local, _, domain = base_address(mailbox_address).partition("@")
    local = local.split("+", 1)[0]
    return f"{local}+{ticket.number}-{ticket_mac(ticket.number)}@{domain}"


def number_from_address(address: str) -> int | None:
    """The ticket number a signed reply address names, or None when it is not one or is forged."""
    local = (address or "").strip().strip("<>").rpartition("@")[0]
    match = _REPLY_LOCAL.match(local)
    if not match:
        return None
    number = int(match["number"])
    return number if verify_mac(number, match["mac"]) else None


def ticket_from_address(address: str) -> Ticket | None:
    number = number_from_address(address)
    if number is None:
        return None
    return Ticket.objects.filter(number=number).first()


def number_from_message_id(message_id: str) -> int | None:
    """The ticket number in one of our own Message-IDs, when its MAC verifies.

    Message-IDs from before the MAC was added carry none; the caller then looks for the exact
    id among the ids it stored.
    """
    match = _OWN_MESSAGE_ID.search((message_id or "").strip())
    if not match or match["domain"].lower() != settings.SPORTELLO_MAIL_DOMAIN.lower() or not match["mac"]:
        return None
    number = int(match["number"])
    return number if verify_mac(number, match["mac"]) else None
