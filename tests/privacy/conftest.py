"""A customer with personal data everywhere Sportello keeps it: the privacy tests' scenario.

Carla (the `customer` persona, carla@example.com, with a portal account) has a web-form ticket
with a file, an agent's reply and an internal note, a rated survey, a mailed ticket from a raw
mail with a file, a live chat, a messaging-platform conversation and a phone call; automatic
mail to her address waits in the outbox and is logged in a ticket's history. Each text holds a
word found nowhere else, so search can be asked for it after the erasure.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage

import pytest
from django.utils import timezone

from sportello.accounts.models import User
from sportello.chat.models import ChatChannel
from sportello.chat.models import Conversation as Chat
from sportello.csat.models import Survey
from sportello.customers.models import Customer, Identity, IdentityKind
from sportello.customers.services import Sender
from sportello.mail import outbound
from sportello.mail.models import RawMessage
from sportello.mail.services import receive_raw
from sportello.phone.models import Call, CallEvent, CtiAccount
from sportello.social.models import ChannelAccount, InboundEvent
from sportello.social.models import Conversation as SocialConversation
from sportello.tickets.attachments import AttachmentIn
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import Attachment, Change, Ticket
from sportello.tickets.services import add_note, reply_to_ticket

PHOTO = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
SCAN = b"%PDF-1.4 quetzal scan " + bytes(range(200))
PHONE = "+390612345678"
# Words that appear in Carla's data only.
WORDS = ("zanzibar", "quetzal", "marimba", "ocelot", "Carla", "carla@example.com", "Rossi")
NOTE_WORD = "pangolin"


@dataclass
class CarlaFile:
    customer: Customer
    web: Ticket
    mailed: Ticket
    chat: Ticket
    social: Ticket
    raw: RawMessage
    raw_bytes: bytes
    attachment_names: list[str]


def raw_mail() -> bytes:
    message = EmailMessage()
    message["From"] = "Carla Rossi <carla@example.com>"
    message["To"] = "support@sportello.localhost"
    message["Subject"] = "Invoice question quetzal"
    message["Message-ID"] = "<quetzal-1@example.com>"
    message["Date"] = "Thu, 03 Dec 2026 09:00:00 +0000"
    message.set_content("My invoice number is wrong, quetzal. Carla Rossi, Via Roma 1")
    message.add_attachment(SCAN, maintype="application", subtype="pdf", filename="scan.pdf")
    return message.as_bytes()


def build_file(customer: Customer, agent: User) -> CarlaFile:
    Identity.objects.create(customer=customer, kind=IdentityKind.PHONE, value=PHONE, verified=True)
    sender = Sender(name="Carla Rossi", email="carla@example.com")
    web = ingest(
        Inbound(
            channel="web",
            sender=sender,
            subject="Broken zanzibar lamp",
            body_text="My zanzibar lamp broke, photo attached.",
            attachments=[AttachmentIn(filename="lamp photo.png", content=PHOTO, content_type="image/png")],
            acknowledge=False,
        )
    ).ticket
    reply_to_ticket(web, agent, body_text="Sorry about the zanzibar lamp, Carla.", deliver=False)
    add_note(web, agent, body_text=f"Internal: {NOTE_WORD} supplier to blame.")
    Survey.objects.create(
        ticket=web, customer=customer, agent=agent, rating="good", comment="Quick marimba service",
        source="email", mailed_to="carla@example.com", answered_at=timezone.now(),
    )  # fmt: skip
    outbound.schedule_notification(web, to=["carla@example.com"], subject="Update", text="Hi", reason="trigger")
    Change.objects.create(ticket=web, field="notification", new_value="carla@example.com", note="trigger")

    raw_bytes = raw_mail()
    raw = receive_raw(raw_bytes)
    assert raw.ticket_id is not None, raw.reason
    mailed = Ticket.objects.get(pk=raw.ticket_id)

    chat = ingest(
        Inbound(channel="chat", sender=sender, subject="Chat", body_text="Hello, ocelot question", acknowledge=False)
    ).ticket
    reply_to_ticket(chat, agent, body_text="Happy to help with the ocelot.", deliver=False)
    channel = ChatChannel.objects.create(name="Website", key="website")
    Chat.objects.create(channel=channel, ticket=chat, customer=customer, state="closed", closed_at=timezone.now())

    account = ChannelAccount.objects.create(kind="generic", name="Hook")
    social = ingest(
        Inbound(channel="social", sender=sender, subject="Social", body_text="Marimba on the phone?", acknowledge=False)
    ).ticket
    SocialConversation.objects.create(account=account, handle="tg-4242", address="chat-4242", customer=customer,
                                      ticket=social)  # fmt: skip
    InboundEvent.objects.create(
        account=account, platform_id="m1", kind="message", entry=social.entries.first(),
        payload={"from": {"id": "tg-4242", "name": "Carla Rossi"}, "text": "Marimba on the phone?"},
    )  # fmt: skip

    cti = CtiAccount.objects.create(name="PBX")
    call = Call.objects.create(
        account=cti, call_id="c1", direction="in", from_number=PHONE, to_number="+390200000", state="ended",
        customer=customer, ticket=web, duration=42, recording_url="https://recordings.example/c1.mp3",
    )  # fmt: skip
    CallEvent.objects.create(account=cti, call=call, key="generic:c1:hangup", payload={"from": PHONE})

    names = [a.file.name for a in Attachment.objects.filter(entry__ticket__customer=customer)]
    return CarlaFile(customer, web, mailed, chat, social, raw, raw_bytes, names)


@pytest.fixture(autouse=True)
def _forget_cached_flags():  # type: ignore[no-untyped-def]
    """The cached "agents may export" flag outlives a test's rolled-back settings: forget it."""
    from django.core.cache import cache

    from sportello.privacy.models import AGENTS_MAY_EXPORT_KEY

    cache.delete(AGENTS_MAY_EXPORT_KEY)
    yield
    cache.delete(AGENTS_MAY_EXPORT_KEY)


@pytest.fixture
def carla(customer, agent) -> CarlaFile:
    return build_file(customer, agent)
