from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime

import pytest
from django.utils import timezone


def make_mail(
    *,
    sender: str = "Carla Rossi <carla@example.com>",
    to: str = "support@sportello.localhost",
    subject: str = "Printer on fire",
    body: str = "The printer in room 4 is on fire.",
    message_id: str | None = None,
    **headers: str,
) -> bytes:
    """A small, valid message; extra headers by keyword (In_Reply_To= becomes In-Reply-To)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(timezone.now())
    message["Message-ID"] = message_id or f"<{abs(hash((sender, subject, body, tuple(headers.items()))))}@example.com>"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes()


@pytest.fixture
def mail():
    return make_mail
