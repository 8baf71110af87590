"""Web form use cases: open a ticket from a form submission, within a rate limit.

The form is only an adapter: what it collects becomes one `Inbound` for the one intake path, which
also schedules the acknowledgement mail with the reference number.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import UploadedFile

from sportello.core.errors import ServiceError
from sportello.customers.services import Sender
from sportello.tickets.attachments import AttachmentIn
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import Channel, Ticket

log = logging.getLogger("sportello.webform")


class RateLimited(ServiceError):
    status = 429


def open_ticket_from_form(
    *,
    name: str,
    email: str,
    subject: str,
    message: str,
    files: Iterable[UploadedFile] = (),
    language: str = "en",
    client_ip: str = "",
    embedded: bool = False,
) -> Ticket:
    """Open a web ticket for the sender; raises RateLimited when this address or IP sent too many."""
    check_rate(client_ip=client_ip, email=email)
    result = ingest(
        Inbound(
            channel=Channel.WEB,
            sender=Sender(name=name, email=email),
            subject=subject,
            body_text=message,
            attachments=[
                AttachmentIn(filename=f.name or "attachment", content=f, content_type=f.content_type or "")
                for f in files
            ],
            language=language,
            # Which page it came from; the client's IP is personal data and is not kept.
            metadata={"form": "embed" if embedded else "page"},
        )
    )
    return result.ticket


def _keys(client_ip: str, email: str) -> list[str]:
    # Hashed, so that any address makes a valid key for every cache backend (memcached: no spaces).
    keys = []
    if client_ip:
        keys.append("webform:rate:ip:" + hashlib.sha256(client_ip.encode()).hexdigest()[:32])
    if email:
        keys.append("webform:rate:email:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32])
    return keys


def check_rate(*, client_ip: str, email: str) -> None:
    """Count one submission per client IP and per email address in a fixed window.

    1. Refuse when either counter already holds WEBFORM_RATE_LIMIT submissions of this window.
    2. Otherwise count this one: `add` starts a window (with its expiry) only when none is running,
       `incr` is atomic in every cache backend and keeps the expiry.
    Two simultaneous requests may both pass step 1 at the limit's edge; one extra ticket is
    harmless, and no lock is worth it.
    """
    limit = settings.WEBFORM_RATE_LIMIT
    window = settings.WEBFORM_RATE_WINDOW
    keys = _keys(client_ip, email)
    counts = cache.get_many(keys)
    if any(int(counts.get(key, 0)) >= limit for key in keys):
        log.info("webform: rate limit reached (ip %s)", client_ip or "unknown")
        raise RateLimited(
            "Too many requests from this address. Please wait a few minutes before sending another one.",
            retry_after=window,
        )
    for key in keys:
        cache.add(key, 0, timeout=window)
        try:
            cache.incr(key)
        except ValueError:  # the window ended between add and incr
            cache.set(key, 1, timeout=window)
