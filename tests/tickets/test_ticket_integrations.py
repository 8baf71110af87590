"""The outside systems' panels on the ticket page, for the ticket's customer, loaded after the page
(the shop is a real HTTP server on loopback: tests/customers/test_integrations.py)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from sportello.tickets.models import Ticket
from tests.conftest import client_for
from tests.customers.test_integrations import integration, shop  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


def panels_url(ticket: Ticket) -> str:
    return reverse("customer-integrations", args=[ticket.customer_id])


def test_the_ticket_page_asks_for_its_customers_panels_after_itself(agent, ticket, shop, integration):  # noqa: F811
    shop.answer = lambda handler: shop.release.wait(60)  # a shop that never answers in time
    page = client_for(agent).get(reverse("ticket", args=[ticket.number]))
    assert page.status_code == 200
    assert f'hx-get="{panels_url(ticket)}"' in page.content.decode()
    assert shop.calls == []  # the page did not wait for the shop

    panel = client_for(agent).get(panels_url(ticket)).content.decode()
    assert "Shop orders could not be shown:" in panel and "It did not answer within 1 seconds." in panel
    assert len(shop.calls) == 1 and b"carla@example.com" in shop.calls[0]["body"]


def test_the_panel_shows_what_the_shop_knows_of_the_tickets_customer(agent, ticket, shop, integration):  # noqa: F811
    client = client_for(agent)
    client.get(reverse("ticket", args=[ticket.number]))
    html = client.get(panels_url(ticket)).content.decode()
    assert "Customer since 2019, 2 orders" in html and "Coffee grinder" in html


def test_without_integrations_the_panel_is_empty(agent, ticket):
    html = client_for(agent).get(panels_url(ticket)).content.decode()
    assert "card" not in html and "could not be shown" not in html


@pytest.mark.parametrize("who", ["customer_user", "stranger"])
def test_customers_and_strangers_are_refused(request, who, ticket, shop, integration):  # noqa: F811
    response = client_for(request.getfixturevalue(who)).get(panels_url(ticket))
    assert response.status_code == 403 and shop.calls == []
