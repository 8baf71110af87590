"""The demo shows custom fields: definitions, values on tickets and organizations, found by search."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from sportello.customers.models import Organization
from sportello.fields.models import CustomField
from sportello.search.backend import search_tickets
from sportello.tickets.access import tickets_visible_to
from sportello.tickets.models import Ticket
from sportello.tickets.queries import TicketFilter, filtered

pytestmark = pytest.mark.django_db


def test_the_demo_has_custom_fields_with_values():
    call_command("demo", stdout=io.StringIO())
    keys = set(CustomField.objects.values_list("target", "key"))
    assert {("ticket", "order_number"), ("ticket", "product"), ("organization", "contract")} <= keys
    with_order = [t for t in Ticket.objects.all() if "order_number" in t.custom_fields]
    with_product = [t for t in Ticket.objects.all() if "product" in t.custom_fields]
    assert len(with_order) >= 5 and len(with_product) >= 5
    assert all(o.custom_fields.get("contract") for o in Organization.objects.all())
    from sportello.accounts.models import User

    admin = User.objects.get(username="admin")
    product = with_product[0].custom_fields["product"]
    assert with_product[0] in filtered(admin, TicketFilter(custom={"product": product}))
    order = with_order[0].custom_fields["order_number"]
    assert with_order[0] in search_tickets(order, tickets_visible_to(admin))
