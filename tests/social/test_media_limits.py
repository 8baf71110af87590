"""Media too large, both ways: a file the platform would refuse is refused before anything is sent,
in words the agent can act on; a file the desk will not keep leaves the message kept, saying so."""

from __future__ import annotations

import pytest

from sportello.tickets.attachments import AttachmentIn
from sportello.tickets.models import DeliveryState, Entry
from sportello.tickets.services import reply_to_ticket
from tests.social.test_delivery import ticket_from

pytestmark = pytest.mark.django_db


def test_an_image_over_whatsapps_limit_fails_at_once_and_nothing_is_sent(
    platform, whatsapp, platform_server, agent, django_capture_on_commit_callbacks
) -> None:
    ticket = ticket_from(platform, whatsapp, "whatsapp_text.json")
    photo = AttachmentIn("parcel.jpg", b"\xff\xd8\xff\xe0" + b"x" * (5 * 1024 * 1024), "image/jpeg")
    with django_capture_on_commit_callbacks(execute=True):
        entry = reply_to_ticket(ticket, agent, body_text="The photo you asked for", attachments=[photo])
    entry.refresh_from_db()
    assert entry.delivery == DeliveryState.FAILED and entry.metadata["delivery"]["attempts"] == 1  # no retry
    assert entry.delivery_error == (
        "The platform answered 413: parcel.jpg is larger than the 5 MB WhatsApp takes for an image"
    )
    assert not platform_server.sent("/media") and not platform_server.sent("/messages")


def test_a_file_larger_than_the_desk_keeps_leaves_the_message_kept_with_a_note(platform, whatsapp, settings) -> None:
    settings.MAX_ATTACHMENT_BYTES = 10  # the fixture's photo is larger
    ticket = ticket_from(platform, whatsapp, "whatsapp_image.json")
    entry = Entry.objects.get(ticket=ticket)
    assert not entry.attachments.exists()
    assert entry.body_text.startswith("The broken box") and "was not kept" in entry.body_text
