"""The block list: mail from a blocked address or domain is quarantined with the reason "blocked"."""

from __future__ import annotations

from sportello.accounts.models import User
from sportello.mail.models import BlockedSender

# The reason of a blocked message's quarantine row (RawMessage.reason starts with it).
BLOCKED = "blocked"


def block(value: str, actor: User | None = None) -> BlockedSender:
    """Block an address or a domain (idempotent)."""
    row, _ = BlockedSender.objects.get_or_create(value=value.strip().lower(), defaults={"created_by": actor})
    return row


def reason(address: str, entry: str) -> str:
    return f"{BLOCKED}: {address} is on the block list ({entry})"
