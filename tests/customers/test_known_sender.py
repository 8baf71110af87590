"""A known sender's customer, as intake finds it by its addresses (one raw statement read by
customers/identity.py), is the customer a query gives: its custom fields a dict, its times aware.
Before, the fields came back as the JSON text and SQLite's times naive, and saving that customer
again (a language set, a note) wrote the text as a JSON string over the fields."""

from __future__ import annotations

import pytest
from django.utils import timezone

from sportello.customers.models import Customer
from sportello.customers.services import Sender
from sportello.tickets.intake import Inbound, ingest

pytestmark = pytest.mark.django_db


def write(subject: str) -> Customer:
    sender = Sender(name="Carla Rossi", email="carla@example.com")
    inbound = Inbound(channel="web", sender=sender, subject=subject, body_text="Hello again", acknowledge=False)
    return ingest(inbound).ticket.customer


def test_a_known_sender_s_customer_is_read_as_a_query_reads_it(customer):
    Customer.objects.filter(pk=customer.pk).update(custom_fields={"vip": True, "plan": "gold"})
    found = write("Again")
    assert found.pk == customer.pk
    assert found.custom_fields == {"vip": True, "plan": "gold"}
    assert timezone.is_aware(found.created_at) and timezone.is_aware(found.updated_at)
    stored = Customer.objects.get(pk=customer.pk)
    assert (found.created_at, found.language, found.name) == (stored.created_at, stored.language, stored.name)


def test_saving_the_customer_intake_found_keeps_its_fields(customer):
    Customer.objects.filter(pk=customer.pk).update(custom_fields={"vip": True})
    found = write("Again")
    found.language = "it"
    found.save()
    stored = Customer.objects.get(pk=customer.pk)
    assert stored.custom_fields == {"vip": True}
    assert stored.language == "it"
    assert stored.created_at == Customer.objects.get(pk=customer.pk).created_at
