"""The customer and organization pages: what an agent sees and changes, and who is refused."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sportello.customers.merging import merge_customers
from sportello.customers.models import Customer, CustomerMerge, Identity, Organization
from sportello.customers.services import add_customer_note
from sportello.tickets.models import Ticket
from sportello.tickets.services import add_note
from tests.conftest import client_for
from tests.customers.conftest import new_ticket

pytestmark = pytest.mark.django_db


def text(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


def numbers(response) -> list[int]:  # type: ignore[no-untyped-def]
    return [int(n) for n in re.findall(r'<tr data-ticket="(\d+)">', text(response))]


def test_the_page_shows_identities_details_tickets_timeline_and_notes(agent, customer, ticket):
    add_note(ticket, agent, body_text="Internal: check the warranty")
    add_customer_note(customer, agent, "Prefers mail in Italian")
    response = client_for(agent).get(reverse("customer", args=[customer.pk]))
    assert response.status_code == 200
    page = text(response)
    assert "carla@example.com" in page and "Carla Rossi" in page
    assert numbers(response) == [ticket.number, ticket.number - 1]  # newest first
    assert "The printer in room 4 is on fire." in page  # the timeline
    assert "Internal: check the warranty" not in page  # notes on tickets are not the customer's story
    assert "Prefers mail in Italian" in page


def test_tickets_are_keyset_paged_newest_first(agent, customer, ticket, monkeypatch):
    monkeypatch.setattr("sportello.customers.views.TICKETS_PAGE", 1)
    client = client_for(agent)
    first = client.get(reverse("customer", args=[customer.pk]))
    assert numbers(first) == [ticket.number]
    cursor = re.search(r'\?tickets=([^"#]+)#customer-tickets', text(first)).group(1)  # type: ignore[union-attr]
    second = client.get(reverse("customer", args=[customer.pk]) + f"?tickets={cursor}")
    assert numbers(second) == [ticket.number - 1]


def test_a_restricted_agent_sees_only_their_groups_tickets(restricted_agent, customer, ticket, second_level):
    Ticket.objects.filter(pk=ticket.pk).update(group=second_level)
    response = client_for(restricted_agent).get(reverse("customer", args=[customer.pk]))
    assert numbers(response) == [ticket.number]
    assert "First contact" not in text(response)  # the other ticket's message stays hidden
    assert "The printer in room 4 is on fire." in text(response)


@pytest.mark.parametrize("name", ["Carla Rossi", ""])
def test_query_count_does_not_grow_with_the_number_of_tickets(agent, customer, name):
    Customer.objects.filter(pk=customer.pk).update(name=name)  # a nameless file is shown by address
    url = reverse("customer", args=[customer.pk])
    client = client_for(agent)
    client.get(url)

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    few = count()
    for n in range(8):
        new_ticket(f"Question {n}", email="carla@example.com", body=f"Message {n}")
    assert count() == few <= 12


def test_an_agent_edits_the_details(agent, customer):
    acme = Organization.objects.create(name="Acme")
    response = client_for(agent).post(
        reverse("customer-update", args=[customer.pk]),
        {"name": "Carla Bianchi", "organization": acme.pk, "language": "it", "notes": "VIP"},
        follow=True,
    )
    assert "Customer saved." in text(response)
    customer.refresh_from_db()
    assert (customer.name, customer.organization, customer.language, customer.notes) == (
        "Carla Bianchi", acme, "it", "VIP",
    )  # fmt: skip
    assert "Name: Carla Rossi → Carla Bianchi" in text(response)  # the file's history


def test_bad_details_show_the_form_again(agent, customer):
    response = client_for(agent).post(
        reverse("customer-update", args=[customer.pk]), {"name": "X", "language": "xx", "organization": 999999}
    )
    assert response.status_code == 422
    customer.refresh_from_db()
    assert customer.name == "Carla Rossi"


def test_add_and_remove_an_identity(agent, customer):
    client = client_for(agent)
    response = client.post(
        reverse("customer-identity-add", args=[customer.pk]),
        {"kind": "phone", "value": "+39 06 1234 5678"},
        follow=True,
    )
    assert "+390612345678" in text(response)
    phone = Identity.objects.get(kind="phone")
    response = client.post(reverse("customer-identity-remove", args=[customer.pk, phone.pk]), follow=True)
    assert "Address removed." in text(response)
    assert not Identity.objects.filter(kind="phone").exists()


def test_an_address_of_another_customer_is_refused_with_the_reason(agent, customer):
    new_ticket("Other", email="someone@example.org")
    response = client_for(agent).post(
        reverse("customer-identity-add", args=[customer.pk]), {"kind": "email", "value": "someone@example.org"}
    )
    assert response.status_code == 409 and "already belongs to customer" in text(response)


def test_a_light_agent_reads_but_cannot_edit(light_agent, customer):
    client = client_for(light_agent)
    assert client.get(reverse("customer", args=[customer.pk])).status_code == 200
    response = client.post(reverse("customer-update", args=[customer.pk]), {"name": "Hacked", "language": "en"})
    assert response.status_code == 403
    assert client.post(reverse("customer-merge", args=[customer.pk]), {"duplicate": customer.pk}).status_code == 403


@pytest.mark.parametrize("who", ["anonymous", "customer", "stranger"])
def test_strangers_are_refused(request, who, customer):
    user = None if who == "anonymous" else request.getfixturevalue("customer_user" if who == "customer" else who)
    client = client_for(user)
    org = Organization.objects.create(name="Acme")
    for url in [
        reverse("customer", args=[customer.pk]),
        reverse("customer-merge", args=[customer.pk]),
        reverse("organizations"),
        reverse("organization", args=[org.pk]),
    ]:
        response = client.get(url)
        assert response.status_code == (302 if user is None else 403), url
    response = client.post(reverse("customer-update", args=[customer.pk]), {"name": "Hacked", "language": "en"})
    assert response.status_code in (302, 403)
    assert Customer.objects.get(pk=customer.pk).name == "Carla Rossi"


def test_unknown_ids_are_404(agent):
    client = client_for(agent)
    assert client.get(reverse("customer", args=[999999])).status_code == 404
    assert client.get(reverse("organization", args=[999999])).status_code == 404
    assert client.post(reverse("customer-unmerge", args=[999999])).status_code == 404


def test_merge_from_the_page_and_undo(agent, customer):
    duplicate = new_ticket("Dup", email="carla.home@example.org", name="Carla R.").customer
    client = client_for(agent)
    found = client.get(reverse("customer-merge", args=[customer.pk]), {"q": "carla.home"})
    assert "Carla R." in text(found)
    response = client.post(reverse("customer-merge", args=[customer.pk]), {"duplicate": duplicate.pk}, follow=True)
    assert "was merged into this customer" in text(response)
    assert "carla.home@example.org" in text(response)
    merge = CustomerMerge.objects.get()
    duplicate_page = client.get(reverse("customer", args=[duplicate.pk]))
    assert "This file was merged into" in text(duplicate_page)
    response = client.post(reverse("customer-unmerge", args=[merge.pk]), follow=True)
    assert "The merge was undone" in text(response)
    assert Ticket.objects.get(subject="Dup").customer_id == duplicate.pk


def test_a_restricted_agent_may_not_merge_files_with_tickets_they_cannot_see(restricted_agent, customer, ticket):
    duplicate = new_ticket("Dup", email="carla.home@example.org").customer
    response = client_for(restricted_agent).post(
        reverse("customer-merge", args=[customer.pk]), {"duplicate": duplicate.pk}
    )
    assert response.status_code == 403
    assert not CustomerMerge.objects.exists()


def test_merging_a_file_already_merged_is_explained(agent, customer):
    duplicate = new_ticket("Dup", email="carla.home@example.org").customer
    merge_customers(customer, duplicate, agent)
    third = new_ticket("Third", email="third@example.org").customer
    response = client_for(agent).post(reverse("customer-merge", args=[third.pk]), {"duplicate": duplicate.pk})
    assert response.status_code == 409 and "was merged into another customer" in text(response)


def test_organizations_list_create_and_edit(agent, customer, ticket):
    client = client_for(agent)
    response = client.post(reverse("organizations"), {"name": "Acme", "domain": "@Acme.example"}, follow=True)
    assert "Organization created." in text(response)
    acme = Organization.objects.get()
    assert acme.domain == "acme.example"
    Customer.objects.filter(pk=customer.pk).update(organization=acme)
    page = client.get(reverse("organization", args=[acme.pk]))
    assert "Carla Rossi" in text(page) and numbers(page) == [ticket.number, ticket.number - 1]
    response = client.post(
        reverse("organization-update", args=[acme.pk]), {"name": "Acme Ltd", "domain": "acme.example"}, follow=True
    )
    assert "Organization saved." in text(response)
    assert "Acme Ltd" in text(client.get(reverse("organizations")))
    duplicate = client.post(reverse("organizations"), {"name": "acme ltd"})
    assert duplicate.status_code == 422 and "already an organization" in text(duplicate)


def test_a_merged_away_file_shows_no_edit_forms_and_refuses_changes(agent, customer):
    duplicate = new_ticket("Dup", email="carla.home@example.org", name="Dup").customer
    merge_customers(customer, duplicate, agent)
    client = client_for(agent)
    page = text(client.get(reverse("customer", args=[duplicate.pk])))
    assert 'id="customer-form"' not in page and 'id="identity-form"' not in page
    response = client.post(reverse("customer-update", args=[duplicate.pk]), {"name": "X", "language": "en"})
    assert response.status_code == 409
    assert Customer.objects.get(pk=duplicate.pk).name == "Dup"


@pytest.mark.parametrize("param", ["tickets", "timeline"])
def test_a_forged_page_cursor_is_a_clear_422(agent, customer, param):
    response = client_for(agent).get(reverse("customer", args=[customer.pk]), {param: "bm9wZQ"})
    assert response.status_code == 422 and "The page cursor is not valid" in text(response)


def test_organization_page_query_count_does_not_grow_with_tickets_or_members(agent, customer):
    acme = Organization.objects.create(name="Acme")
    # Nameless: shown by address in the ticket rows (their identities read in one query).
    Customer.objects.filter(pk=customer.pk).update(organization=acme, name="")
    url = reverse("organization", args=[acme.pk])
    client = client_for(agent)
    client.get(url)

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    few = count()
    for n in range(6):
        ticket = new_ticket(f"Question {n}", email=f"member{n}@acme.example")
        Customer.objects.filter(pk=ticket.customer_id).update(organization=acme, name="")
    assert count() == few


def test_the_timeline_shows_calls_with_their_duration(agent, customer, ticket):
    from sportello.tickets.models import Channel, Direction, Entry, EntryKind

    Entry.objects.create(
        ticket=ticket, kind=EntryKind.CALL, channel=Channel.PHONE, direction=Direction.INBOUND,
        author_customer=customer, body_text="Called about the printer", metadata={"duration_seconds": 125},
    )  # fmt: skip
    page = text(client_for(agent).get(reverse("customer", args=[customer.pk])))
    assert "Called about the printer" in page and "(125 s)" in page and "Phone call" in page


def test_the_ticket_pages_customer_card_links_to_the_customer_and_organization(agent, customer, ticket):
    acme = Organization.objects.create(name="Acme")
    Customer.objects.filter(pk=customer.pk).update(organization=acme)
    page = text(client_for(agent).get(reverse("ticket", args=[ticket.number])))
    assert f'href="{reverse("customer", args=[customer.pk])}"' in page
    assert f'href="{reverse("organization", args=[acme.pk])}"' in page
