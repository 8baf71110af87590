"""Web form use cases: open a ticket from a form submission, within a rate limit.

The form is only an adapter: what it collects becomes one `Inbound` for the one intake path, which
also schedules the acknowledgement mail with the reference number.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from sportello.core.errors import RateLimited
from sportello.core.ratelimit import count_request
from sportello.customers.services import Sender
from sportello.tickets.attachments import AttachmentIn
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import Channel, Ticket

log = logging.getLogger("sportello.webform")


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


def check_rate(*, client_ip: str, email: str) -> None:
    """Count one submission per client IP and per email address in a fixed window (core/ratelimit.py)."""
    window = settings.WEBFORM_RATE_WINDOW
    if not count_request(
        "webform:rate", client_ip=client_ip, email=email, limit=settings.WEBFORM_RATE_LIMIT, window=window
    ):
        log.info("webform: rate limit reached (ip %s)", client_ip or "unknown")
        raise RateLimited(
            "Too many requests from this address. Please wait a few minutes before sending another one.",
            retry_after=window,
        )
