"""Custom fields in the inbox's filters and saved views, and in search."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sportello.customers.models import Customer
from sportello.inbox.models import SavedView
from sportello.search.backend import search_tickets
from sportello.tickets.access import tickets_visible_to
from sportello.tickets.queries import TicketFilter, filtered
from sportello.tickets.services import TicketChanges, update_ticket
from tests.conftest import client_for
from tests.fields.conftest import make_field
from tests.web.conftest import new_ticket, page_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def three(agent, ticket_fields):
    """Three tickets with different values."""
    values = [
        {"product": "Widget", "order_number": "ORD-1042", "colours": ["Red", "Blue"], "gift": True, "quantity": 2},
        {"product": "Gadget", "order_number": "ord-2000", "colours": ["Blue"], "delivered_on": "2026-12-01"},
        {},
    ]
    tickets = []
    for i, custom in enumerate(values):
        ticket = new_ticket(f"Ticket {i}", email=f"c{i}@example.org")
        if custom:
            update_ticket(ticket, agent, TicketChanges(custom_fields=custom))
        tickets.append(ticket)
    return tickets


@pytest.mark.parametrize(
    ("custom", "expected"),
    [
        ({"product": "Widget"}, [0]),
        ({"order_number": "ORD"}, [0, 1]),  # part of a text, whatever the case
        ({"order_number": "1042"}, [0]),
        ({"colours": "Blue"}, [0, 1]),
        ({"colours": "Red"}, [0]),
        ({"gift": "yes"}, [0]),
        ({"gift": "no"}, [1, 2]),
        ({"quantity": "2"}, [0]),
        ({"delivered_on": "2026-12-01"}, [1]),
        ({"product": "Gadget", "colours": "Blue"}, [1]),
        ({"product": ""}, [0, 1, 2]),  # an empty filter is no filter
    ],
)
def test_each_type_filters(agent, three, custom, expected):
    found = filtered(agent, TicketFilter(custom=custom)).order_by("id")
    assert [three.index(t) for t in found if t in three] == expected


def test_the_inbox_filters_and_a_saved_view_keeps_it(agent, three):
    client = client_for(agent)
    html = page_text(client.get(reverse("inbox"), {"view": "all", "cf_product": "Widget"}))
    assert 'name="cf_product"><option value="">Any</option><option value="Widget" selected>' in html
    assert "Ticket 0" in html and "Ticket 1" not in html and "Ticket 2" not in html
    client.post(
        reverse("inbox_save_view"), {"name": "Widgets", "sharing": "personal", "params": "view=all&cf_product=Widget"}
    )
    view = SavedView.objects.get(name="Widgets")
    assert view.filter["custom"] == {"product": "Widget"}
    html = page_text(client.get(reverse("inbox"), {"saved": view.pk, "view": "all", "cf_product": "Widget"}))
    assert "Ticket 0" in html and "Ticket 1" not in html
    assert [t.pk for t in filtered(agent, TicketFilter.from_json(view.filter))] == [three[0].pk]


def test_a_bad_filter_value_is_reported_not_a_500(agent, three):
    response = client_for(agent).get(reverse("inbox"), {"view": "all", "cf_quantity": "many"})
    assert response.status_code == 200
    assert "Enter a number." in page_text(response)


def test_the_inbox_costs_the_same_queries_whatever_the_number_of_fields(agent, three):
    client = client_for(agent)
    url = reverse("inbox")

    def count() -> int:
        client.get(url)  # definitions read and kept
        with CaptureQueriesContext(connection) as captured:
            client.get(url)
        return len(captured)

    few = count()
    for n in range(8):
        make_field(f"extra_{n}", "choice", choices=["A", "B"])
    assert count() == few


def test_search_finds_a_ticket_by_a_value(agent, three):
    visible = tickets_visible_to(agent)
    assert [t.pk for t in search_tickets("ORD-1042", visible)] == [three[0].pk]
    assert [t.pk for t in search_tickets("Gadget", visible)] == [three[1].pk]
    # A value changed is found under its new value only.
    update_ticket(three[0], agent, TicketChanges(custom_fields={"order_number": "ZX-77"}))
    assert [t.pk for t in search_tickets("ZX-77", visible)] == [three[0].pk]
    assert search_tickets("ORD-1042", visible) == []


def test_search_finds_tickets_by_their_customers_value(agent, ticket):
    from sportello.customers.services import update_customer
    from sportello.search.backend import index_ticket

    make_field("account", "text", target="customer")
    customer = Customer.objects.get(pk=ticket.customer_id)
    update_customer(customer, actor=agent, custom_fields={"account": "ACCT-5521"})
    index_ticket(ticket.pk)
    assert [t.pk for t in search_tickets("ACCT-5521", tickets_visible_to(agent))] == [ticket.pk]
