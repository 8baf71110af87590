"""Who an address lets into a customer's tickets (issue #10, items 12 and 14).

The attack: a restricted agent adds their own address to another group's customer (through the
API, or by opening a ticket for her with their address next to her phone number) and signs in to
the portal with it to read that group's tickets. And: an address typed into the web form or a chat
joins a customer's file unverified, and agents must see that it is.
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest
from django.core import mail
from django.test import Client

from sportello.core.models import OutboxMessage
from sportello.customers.models import Customer, Identity
from sportello.customers.services import Sender
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import Ticket
from tests.api.conftest import api_as
from tests.conftest import client_for
from tests.portal.conftest import link_from_outbox

PRIVATE = "rita.private@mailbox.example"


@pytest.fixture
def maria_ticket(first_level, django_capture_on_commit_callbacks) -> Ticket:
    """Maria wrote by mail (her address is proven) and gave a phone number; the first level has her ticket."""
    with django_capture_on_commit_callbacks(execute=True):
        ticket = ingest(
            Inbound(
                channel="email",
                sender=Sender(name="Maria Verdi", email="maria@example.com"),
                subject="My salary slip",
                body_text="Confidential: my salary slip is wrong.",
                metadata={"from": {"address": "maria@example.com", "name": "Maria Verdi"}},
                group=first_level,
                acknowledge=False,
            )
        ).ticket
    Identity.objects.create(customer=ticket.customer, kind="phone", value="+390612345678")
    return ticket


def ask_link(client: Client, email: str, capture) -> str:  # type: ignore[no-untyped-def]
    mail.outbox.clear()
    with capture(execute=True):
        response = client.post("/portal/sign-in", {"method": "link", "email": email})
    return response.content.decode()


def sees_in_portal(client: Client, ticket: Ticket) -> bool:
    return client.get(f"/portal/tickets/{ticket.number}/").status_code == 200


def test_mail_proves_the_address_a_file_began_with(maria_ticket):
    identity = Identity.objects.get(value="maria@example.com")
    assert identity.verified


def test_restricted_agent_cannot_lend_an_address_to_another_groups_customer(
    restricted_agent, maria_ticket, django_capture_on_commit_callbacks
):
    rita = api_as(restricted_agent)
    customer = maria_ticket.customer
    # Her own staff address: refused outright, with a reason.
    response = rita.post(f"/customers/{customer.pk}/identities", {"kind": "email", "value": restricted_agent.email})
    assert response.status_code == 422 and "staff account" in response.json()["detail"]
    # A private address: Maria has a ticket Rita may not see, so Rita may not change who reaches them.
    response = rita.post(f"/customers/{customer.pk}/identities", {"kind": "email", "value": PRIVATE})
    assert response.status_code == 403 and "outside your groups" in response.json()["detail"]
    assert not Identity.objects.filter(value=PRIVATE).exists()
    # Nor remove Maria's address (which would leave another one as the file's first).
    maria_address = customer.identities.get(kind="email")
    assert rita.delete(f"/customers/{customer.pk}/identities/{maria_address.pk}").status_code == 403

    # The other way in: a ticket "for" Maria's phone with Rita's address joins Maria's file, unverified…
    with django_capture_on_commit_callbacks(execute=True):
        response = rita.post(
            "/tickets",
            {"subject": "Call", "body_text": "x", "customer": {"email": PRIVATE, "phone": "+39 06 1234 5678"}},
        )
    assert response.status_code == 201, response.content
    joined = Identity.objects.get(value=PRIVATE)
    assert joined.customer_id == customer.pk and not joined.verified
    # …and the portal sends no link to it: Rita never reads Maria's salary slip.
    browser = Client()
    assert "a sign-in link is on its way" in ask_link(browser, PRIVATE, django_capture_on_commit_callbacks)
    assert mail.outbox == []
    # Even a mail from that address does not make it Maria's: mail proves who holds it, not whose file it is.
    with django_capture_on_commit_callbacks(execute=True):
        ingest(
            Inbound(
                channel="email", sender=Sender(email=PRIVATE), subject="hi", body_text="me again",
                metadata={"from": {"address": PRIVATE, "name": ""}}, acknowledge=False,
            )
        )  # fmt: skip
    assert not Identity.objects.get(value=PRIVATE).verified
    ask_link(browser, PRIVATE, django_capture_on_commit_callbacks)
    assert mail.outbox == []
    assert not sees_in_portal(browser, maria_ticket)


def test_an_added_address_opens_the_portal_once_confirmed(agent, maria_ticket, django_capture_on_commit_callbacks):
    """An agent who sees all of Maria's tickets adds her second address: it is unverified, gets a
    confirmation mail, and signs in only after the link in it was opened."""
    customer = maria_ticket.customer
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(agent).post(
            f"/customers/{customer.pk}/identities", {"kind": "email", "value": "m.verdi@work.example"}
        )
    assert response.status_code == 201 and response.json()["verified"] is False
    confirmation = mail.outbox[-1]
    assert confirmation.to == ["Maria Verdi <m.verdi@work.example>"]
    # Written to the outbox with the address, sent, and the link erased from the row.
    row = OutboxMessage.objects.get(kind="customers.confirm-identity")
    assert row.state == OutboxMessage.State.DONE and row.payload == {}
    confirm_url = re.search(r"https?://\S+/portal/confirm/\S+", confirmation.body).group(0)

    browser = Client()
    ask_link(browser, "m.verdi@work.example", django_capture_on_commit_callbacks)
    assert mail.outbox == []  # not confirmed yet: no sign-in link

    path = urlparse(confirm_url).path
    assert browser.get(path).status_code == 200  # a button: mail scanners confirm nothing
    assert not Identity.objects.get(value="m.verdi@work.example").verified
    response = browser.post(path)
    assert response.status_code == 200 and "is confirmed" in response.content.decode()
    assert Identity.objects.get(value="m.verdi@work.example").verified
    assert api_as(agent).get(f"/customers/{customer.pk}").json()["identities"][1]["verified"] is True

    ask_link(browser, "m.verdi@work.example", django_capture_on_commit_callbacks)
    assert browser.post(urlparse(link_from_outbox()).path).status_code == 302
    assert sees_in_portal(browser, maria_ticket)


def test_a_forged_or_tampered_confirmation_link_confirms_nothing(
    agent, maria_ticket, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        api_as(agent).post(
            f"/customers/{maria_ticket.customer_id}/identities", {"kind": "email", "value": "x@work.example"}
        )
    path = urlparse(re.search(r"https?://\S+/portal/confirm/\S+", mail.outbox[-1].body).group(0)).path
    assert Client().post(path[:-2] + "xx").status_code == 410
    assert Client().post("/portal/confirm/not-a-token").status_code == 410
    assert not Identity.objects.get(value="x@work.example").verified


def test_staff_addresses_never_sign_in_to_the_portal(agent, django_capture_on_commit_callbacks):
    # An agent tried the web form with her work address: a customer file with a staff address.
    ingest(Inbound(channel="web", sender=Sender(email=agent.email), subject="test", body_text="x", acknowledge=False))
    browser = Client()
    page = ask_link(browser, agent.email, django_capture_on_commit_callbacks)
    assert "address of a staff account" in page and mail.outbox == []
    response = browser.post("/portal/sign-in", {"method": "password", "email": agent.email, "password": "x"})
    assert "address of a staff account" in response.content.decode()
    # And an agent cannot add one to a customer.
    other = Customer.objects.create(name="Someone")
    response = api_as(agent).post(f"/customers/{other.pk}/identities", {"kind": "email", "value": agent.email.upper()})
    assert response.status_code == 422 and "staff account" in response.json()["detail"]


def test_typed_addresses_are_unverified_and_agents_see_it(agent, django_capture_on_commit_callbacks):
    """A web form address starts a file unverified; a portal link opened from it proves it."""
    with django_capture_on_commit_callbacks(execute=True):
        web = ingest(
            Inbound(
                channel="web", sender=Sender(name="Wanda", email="wanda@example.org"), subject="Hi", body_text="typed"
            )
        ).ticket
    identity = Identity.objects.get(value="wanda@example.org")
    assert not identity.verified
    page = client_for(agent).get(f"/tickets/{web.number}/").content.decode()
    assert re.search(r"wanda@example\.org <span class=\"badge unverified\"", page)
    body = api_as(agent).get(f"/customers/{web.customer_id}").json()
    assert body["identities"] == [
        {"id": identity.pk, "kind": "email", "value": "wanda@example.org", "undeliverable": False, "verified": False}
    ]
    # The address the file began with signs in; opening the link proves it.
    browser = Client()
    ask_link(browser, "wanda@example.org", django_capture_on_commit_callbacks)
    assert browser.post(urlparse(link_from_outbox()).path).status_code == 302
    assert Identity.objects.get(value="wanda@example.org").verified
    assert "badge unverified" not in client_for(agent).get(f"/tickets/{web.number}/").content.decode()


@pytest.fixture
def chat_visitor_ticket(maria_ticket) -> Ticket:
    """Someone in a chat typed Maria's address: their chat joins her file."""
    return ingest(
        Inbound(
            channel="chat",
            sender=Sender(name="Not Maria", email="maria@example.com", social="chat:0f4e7c1a-visitor"),
            body_text="What did my salary slip say?",
            acknowledge=False,
        )
    ).ticket


def test_a_chat_visitor_who_typed_an_address_is_marked_on_the_ticket(agent, chat_visitor_ticket):
    handle = Identity.objects.get(value="chat:0f4e7c1a-visitor")
    assert not handle.verified and handle.customer_id == chat_visitor_ticket.customer_id
    page = client_for(agent).get(f"/tickets/{chat_visitor_ticket.number}/").content.decode()
    assert re.search(r"chat:0f4e7c1a-visitor <span class=\"badge unverified\"", page)
    assert not re.search(r"maria@example\.com <span class=\"badge unverified\"", page)  # her own address is proven


def test_an_address_typed_later_into_a_chat_opens_nothing_until_confirmed(
    agent, first_level, django_capture_on_commit_callbacks
):
    """A visitor chatted anonymously (the file began with the chat handle), then typed an address:
    it is a claim on a file that existed before it, and no sign-in link goes to it."""
    handle = "chat:5b1d-anonymous"
    first = ingest(Inbound(channel="chat", sender=Sender(social=handle), body_text="hello", acknowledge=False)).ticket
    ingest(
        Inbound(
            channel="chat", sender=Sender(email="typed@example.net", social=handle), body_text="me", acknowledge=False
        )
    )
    typed = Identity.objects.get(value="typed@example.net")
    assert typed.customer_id == first.customer_id and not typed.verified
    browser = Client()
    ask_link(browser, "typed@example.net", django_capture_on_commit_callbacks)
    assert mail.outbox == [] and not sees_in_portal(browser, first)
    # An agent who may see the chat asks for a confirmation: adding the address again mails the link.
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(agent).post(
            f"/customers/{first.customer_id}/identities", {"kind": "email", "value": "typed@example.net"}
        )
    assert response.status_code == 201 and response.json()["id"] == typed.pk
    confirm = urlparse(re.search(r"https?://\S+/portal/confirm/\S+", mail.outbox[-1].body).group(0)).path
    browser.post(confirm)
    ask_link(browser, "typed@example.net", django_capture_on_commit_callbacks)
    assert browser.post(urlparse(link_from_outbox()).path).status_code == 302
    assert sees_in_portal(browser, first)


def test_restricted_agent_cannot_move_a_file_into_an_organization_that_shares_hidden_tickets(
    restricted_agent, maria_ticket
):
    from sportello.customers.models import Organization

    shared = Organization.objects.create(name="Verdi SpA", shared_tickets=True)
    Customer.objects.filter(pk=maria_ticket.customer_id).update(organization=shared)
    own = Customer.objects.create(name="Rita's own file")
    Identity.objects.create(customer=own, kind="email", value=PRIVATE, verified=True)
    rita = api_as(restricted_agent)
    response = rita.patch(f"/customers/{own.pk}", {"organization": shared.pk})
    assert response.status_code == 403
    assert Customer.objects.get(pk=own.pk).organization_id is None
    response = rita.post("/customers", {"name": "New", "emails": ["new@mailbox.example"], "organization": shared.pk})
    assert response.status_code == 403 and not Identity.objects.filter(value="new@mailbox.example").exists()


def test_the_migration_verifies_mail_senders_and_signed_in_portal_addresses(db, customer_user):
    """Existing data: mail From addresses and portal addresses that signed in become verified;
    addresses typed into the web form or a chat stay unverified."""
    import importlib

    from django.apps import apps
    from django.utils import timezone

    migration = importlib.import_module("sportello.customers.migrations.0003_verify_known_identities")
    mailed = ingest(
        Inbound(
            channel="email", sender=Sender(email="mailer@example.com"), subject="s", body_text="b",
            metadata={"from": {"address": "Mailer@Example.com", "name": ""}}, acknowledge=False,
        )
    ).ticket.customer  # fmt: skip
    typed = ingest(Inbound(channel="web", sender=Sender(email="typed@example.com"), body_text="b")).ticket.customer
    chat = ingest(
        Inbound(channel="chat", sender=Sender(email="chat@example.com", social="chat:1"), body_text="b")
    ).ticket.customer
    portal = ingest(Inbound(channel="web", sender=Sender(email=customer_user.email), body_text="b")).ticket.customer
    Customer.objects.filter(pk=portal.pk).update(user=customer_user)
    type(customer_user).objects.filter(pk=customer_user.pk).update(last_login=timezone.now())
    Identity.objects.update(verified=False)

    migration.verify_known(apps, None)
    verified = dict(Identity.objects.values_list("value", "verified"))
    assert verified == {
        "mailer@example.com": True,
        "typed@example.com": False,
        "chat@example.com": False,
        "chat:1": False,
        customer_user.email: True,
    }
    assert {mailed.pk, typed.pk, chat.pk, portal.pk} == set(Customer.objects.values_list("pk", flat=True))


def test_the_confirmation_page_speaks_the_customers_language(agent, maria_ticket, django_capture_on_commit_callbacks):
    Customer.objects.filter(pk=maria_ticket.customer_id).update(language="it")
    with django_capture_on_commit_callbacks(execute=True):
        api_as(agent).post(
            f"/customers/{maria_ticket.customer_id}/identities", {"kind": "email", "value": "m@it.example"}
        )
    message = mail.outbox[-1]
    assert message.subject == "Conferma il tuo indirizzo email" and "è valido per 7 giorni" in message.body
    path = urlparse(re.search(r"https?://\S+/portal/confirm/\S+", message.body).group(0)).path
    page = Client(HTTP_ACCEPT_LANGUAGE="it").get(path).content.decode()
    assert "Conferma il mio indirizzo" in page
