"""The agents' search finds customers and organizations beside tickets, each linking to its page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from sportello.customers.merging import merge_customers
from sportello.customers.models import Organization
from sportello.customers.services import add_identity
from tests.conftest import client_for
from tests.customers.conftest import new_ticket

pytestmark = pytest.mark.django_db


def search(user, q: str) -> str:  # type: ignore[no-untyped-def]
    response = client_for(user).get(reverse("search"), {"q": q})
    assert response.status_code == 200
    return response.content.decode()


def customer_link(customer) -> str:  # type: ignore[no-untyped-def]
    return f'href="{reverse("customer", args=[customer.pk])}"'


@pytest.mark.parametrize("q", ["Rossi", "carla@example", "+39 06 1234 5678", "0039061234"])
def test_customers_by_name_address_or_phone(agent, customer, q):
    add_identity(customer, "phone", "+39 06 1234 5678")
    page = search(agent, q)
    assert customer_link(customer) in page


def test_organizations_by_name_or_domain(agent):
    acme = Organization.objects.create(name="Acme Tools", domain="acme.example")
    link = f'href="{reverse("organization", args=[acme.pk])}"'
    assert link in search(agent, "tools")
    assert link in search(agent, "@acme.example")


def test_tickets_are_still_found_beside_them(agent, customer, ticket):
    page = search(agent, "printer")
    assert f'data-ticket="{ticket.number}"' in page


def test_a_merged_away_file_is_not_offered(agent, customer):
    duplicate = new_ticket("Hi", email="zed@example.org", name="Zed Zeta").customer
    merge_customers(customer, duplicate, agent)
    assert customer_link(duplicate) not in search(agent, "Zeta")


def test_search_is_for_agents_only(customer_user, customer):
    response = client_for(customer_user).get(reverse("search"), {"q": "Rossi"})
    assert response.status_code == 403


def test_a_reference_number_or_two_letters_look_for_no_customer(customer):
    from sportello.customers.queries import find_customers

    # Matching inside names needs three characters (the trigram index); "#10001" is a ticket's.
    assert find_customers("Carla"[:2]) == [] and find_customers("#10001") == []
    assert [c.pk for c in find_customers(customer.name[:3])] == [customer.pk]


def test_a_whole_address_finds_its_owner_and_not_the_addresses_holding_it(agent, customer):
    from sportello.customers.queries import find_customers

    longer = new_ticket("Hi", email="xcarla@example.com", name="Xavier Carla").customer
    # A whole address someone has is theirs alone, in any case; a part of one still finds both.
    assert [c.pk for c in find_customers("Carla@Example.com")] == [customer.pk]
    assert {c.pk for c in find_customers("carla@example")} == {customer.pk, longer.pk}
    # A whole address nobody has may still be a part of one.
    assert [c.pk for c in find_customers("arla@example.com")] == [customer.pk, longer.pk]
    page = search(agent, "xcarla@example.com")
    assert customer_link(longer) in page and customer_link(customer) not in page
