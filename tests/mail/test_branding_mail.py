"""Outgoing mail carries the branding: the From name and support address, and the logo and colour
in the HTML part; a mailbox's own address wins for the tickets written to it."""

from __future__ import annotations

import io

import pytest
from django.core import mail as sent
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from sportello.core import branding, lookups
from sportello.customers.services import Sender
from sportello.mail.models import Mailbox
from sportello.mail.outbound import send_sign_in_link
from sportello.mail.services import receive_raw
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.services import reply_to_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def forget_branding():  # type: ignore[no-untyped-def]
    """Each test's saves are rolled back; the next test starts from what the database says."""
    yield
    lookups.forget()
    branding._checked = (None, 0.0)


def png() -> SimpleUploadedFile:
    data = io.BytesIO()
    Image.new("RGB", (40, 20), (31, 95, 191)).save(data, "PNG")
    return SimpleUploadedFile("logo.png", data.getvalue(), content_type="image/png")


def brand(name: str = "Acme Help", **extra: object) -> None:
    values = {"primary_color": "#0066cc", "support_address": "help@acme.test", **extra}
    branding.save_branding(product_name=name, **values)  # type: ignore[arg-type]


def web_ticket(capture, email: str = "carla@example.com"):  # type: ignore[no-untyped-def]
    """A ticket from the web form, acknowledged (the outbox sends on commit)."""
    with capture(execute=True):
        inbound = Inbound(channel="web", sender=Sender(email=email), subject="Fire", body_text="Help", acknowledge=True)
        return ingest(inbound).ticket


def html_of(message) -> str:  # type: ignore[no-untyped-def]
    [(html, kind)] = message.alternatives
    assert kind == "text/html"
    return html


def test_without_a_saved_branding_mail_is_from_the_configured_sender(settings, django_capture_on_commit_callbacks):
    web_ticket(django_capture_on_commit_callbacks)
    [ack] = sent.outbox
    assert ack.from_email == settings.DEFAULT_FROM_EMAIL
    assert "border-top:4px" not in html_of(ack)


def test_an_acknowledgement_carries_the_name_address_logo_and_colour(settings, django_capture_on_commit_callbacks):
    brand(logo=png())
    web_ticket(django_capture_on_commit_callbacks)
    [ack] = sent.outbox
    assert ack.from_email == "Acme Help <help@acme.test>"
    assert ack.extra_headers["Reply-To"].startswith("support+")  # replies still reach the desk, signed
    html = html_of(ack)
    logo = settings.SITE_URL.rstrip("/") + branding.current().logo_url
    assert f'<img src="{logo}" alt=""' in html
    assert "border-top:4px solid #0066cc" in html and ">Acme Help</strong>" in html
    assert html.index("Acme Help") < html.index("we have received your request")


def test_a_mail_sent_after_a_change_carries_the_new_name_even_from_a_process_that_read_the_old(
    django_capture_on_commit_callbacks,
):
    brand("Acme Help")
    branding.current()  # this process (a worker) read the branding a moment ago …
    read_before = lookups._current, branding._checked
    brand("Acme Care", primary_color="#8a1c1c")  # … then an admin changed it in another process
    lookups._current, branding._checked = read_before
    assert branding.current().name == "Acme Help"  # a page may show the old one for RECHECK seconds
    web_ticket(django_capture_on_commit_callbacks)
    [ack] = sent.outbox
    assert ack.from_email == "Acme Care <help@acme.test>"
    assert "border-top:4px solid #8a1c1c" in html_of(ack) and "Acme Help" not in html_of(ack)


def test_a_mailbox_address_wins_on_the_tickets_written_to_it(mail, agent, django_capture_on_commit_callbacks):
    brand()
    billing = Mailbox.objects.create(address="billing@acme.test", name="Acme Billing")
    with django_capture_on_commit_callbacks(execute=True):
        row = receive_raw(mail(to="billing@acme.test", Cc="help@acme.test, boss@example.com"), mailbox=billing)
    ticket = row.ticket
    [ack] = sent.outbox
    assert ack.from_email == "Acme Billing <billing@acme.test>"
    with django_capture_on_commit_callbacks(execute=True):
        reply_to_ticket(ticket, agent, body_text="On it.")
    reply = sent.outbox[-1]
    assert reply.from_email == f"{agent.display_name} <billing@acme.test>"
    assert reply.cc == ["boss@example.com"]  # never our own support address
    assert ">Acme Help</strong>" in html_of(reply)
    # A mailbox without a name of its own sends under the product's name; a deactivated one not at all.
    Mailbox.objects.filter(pk=billing.pk).update(name="")
    with django_capture_on_commit_callbacks(execute=True):
        reply_to_ticket(ticket, agent, body_text="Done.")
    assert sent.outbox[-1].from_email == f"{agent.display_name} <billing@acme.test>"
    from sportello.mail.sender import sender

    assert sender(ticket) == "Acme Help <billing@acme.test>"
    Mailbox.objects.filter(pk=billing.pk).update(active=False)
    assert sender(ticket) == "Acme Help <help@acme.test>"


def test_a_web_ticket_of_the_same_customer_is_from_the_support_address(django_capture_on_commit_callbacks):
    brand()
    Mailbox.objects.create(address="billing@acme.test", name="Acme Billing")
    web_ticket(django_capture_on_commit_callbacks)
    assert sent.outbox[-1].from_email == "Acme Help <help@acme.test>"


def test_a_sign_in_link_is_branded(customer):
    brand()
    send_sign_in_link(customer, to="carla@example.com", url="http://127.0.0.1:8000/portal/sign-in/x", minutes=15)
    [message] = sent.outbox
    assert message.from_email == "Acme Help <help@acme.test>"
    html = html_of(message)
    assert ">Acme Help</strong>" in html and '<a style="color:#0066cc" href="http://127.0.0.1:8000/portal/' in html


def test_a_branding_with_only_a_name_keeps_the_configured_address(settings, django_capture_on_commit_callbacks):
    brand("Acme Help", primary_color="", support_address="")
    web_ticket(django_capture_on_commit_callbacks)
    address = settings.DEFAULT_FROM_EMAIL.rpartition("<")[2].rstrip(">")
    assert sent.outbox[-1].from_email == f"Acme Help <{address}>"
    assert "border-top:4px solid #1f2933" in html_of(sent.outbox[-1])  # a neutral rule without a colour


def test_mail_from_the_support_address_is_our_own_coming_back(mail):
    """Acknowledgements go out From the branding's support address when no mailbox answers: one
    sent back to us (a forwarder that keeps From, an alias delivering to the desk) is a loop."""
    from sportello.mail.models import RawState
    from sportello.tickets.models import Ticket

    brand(support_address="Help@Acme.test")
    row = receive_raw(mail(sender="Acme Help <help@acme.test>", subject="We got your request"))
    assert row.state == RawState.QUARANTINED and "our own address" in row.reason
    looped = receive_raw(mail(X_Loop="help+x@acme.test", subject="Re: We got your request"))
    assert looped.state == RawState.QUARANTINED and "X-Loop" in looped.reason
    assert not Ticket.objects.exists()
    assert receive_raw(mail()).state == RawState.PROCESSED  # a customer's mail still files
