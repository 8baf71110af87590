"""Custom fields on the new-ticket page and the customer and organization forms."""

from __future__ import annotations

import pytest
from django.urls import reverse

from sportello.customers.models import Customer, CustomerChange, Organization
from sportello.tickets.models import Ticket
from tests.conftest import client_for
from tests.fields.conftest import make_field
from tests.web.conftest import page_text

pytestmark = pytest.mark.django_db

NEW = "/tickets/new/"


def call(**fields: object) -> dict[str, object]:
    return {"kind": "phone_call", "subject": "Router down", "body": "It is down.", "priority": 2,
            "name": "Ugo", "phone": "+39 06 1234 5678", **fields}  # fmt: skip


def test_the_new_ticket_page_takes_the_fields(agent, ticket_fields):
    ticket_fields["product"].required = True
    ticket_fields["product"].save()
    client = client_for(agent)
    html = page_text(client.get(NEW))
    assert 'name="cf_product" id="new_cf_product" required' in html
    refused = client.post(NEW, call(cf_order_number="ORD-5", cf_product=""))
    assert refused.status_code == 422
    html = page_text(refused)
    assert "Product: is required" in html and 'value="ORD-5"' in html  # what was typed is kept
    assert not Ticket.objects.exists()
    created = client.post(NEW, call(cf_order_number="ORD-5", cf_product="Gadget", cf_colours=["", "Green"]))
    assert created.status_code == 302
    ticket = Ticket.objects.get()
    assert ticket.custom_fields == {"order_number": "ORD-5", "product": "Gadget", "colours": ["Green"]}
    assert ticket.entries.first().author_customer == ticket.customer


def test_the_customer_form_edits_the_fields(agent, customer):
    make_field("tier", "choice", target="customer", choices=["Gold", "Silver"])
    make_field("vip", "checkbox", target="customer")
    client = client_for(agent)
    url = reverse("customer", args=[customer.pk])
    html = page_text(client.get(url))
    assert 'name="cf_tier" id="customer_cf_tier"' in html
    data = {"name": customer.name, "language": "en", "notes": "", "cf_tier": "Gold", "cf_vip": ["false", "true"]}
    assert client.post(reverse("customer-update", args=[customer.pk]), data).status_code == 302
    customer.refresh_from_db()
    assert customer.custom_fields == {"tier": "Gold", "vip": True}
    assert CustomerChange.objects.filter(customer=customer, field="Tier", new_value="Gold").exists()
    assert '<option value="Gold" selected>Gold</option>' in page_text(client.get(url))
    refused = client.post(reverse("customer-update", args=[customer.pk]), {**data, "cf_tier": "Bronze"})
    assert refused.status_code == 422 and "Tier: “Bronze” is not one of its choices" in page_text(refused)
    assert Customer.objects.get(pk=customer.pk).custom_fields["tier"] == "Gold"


def test_the_organization_forms_edit_the_fields(agent):
    make_field("contract", "choice", target="organization", choices=["Basic", "Premium"], required=True)
    make_field("renewal", "date", target="organization")
    client = client_for(agent)
    html = page_text(client.get(reverse("organizations")))
    assert 'name="cf_contract" id="new_organization_cf_contract" required' in html
    refused = client.post(reverse("organizations"), {"name": "Acme"})
    assert refused.status_code == 422 and "Contract: is required" in page_text(refused)
    created = client.post(reverse("organizations"), {"name": "Acme", "cf_contract": "Basic", "cf_renewal": ""})
    assert created.status_code == 302
    org = Organization.objects.get()
    assert org.custom_fields == {"contract": "Basic"}
    response = client.post(
        reverse("organization-update", args=[org.pk]),
        {"name": "Acme", "cf_contract": "Premium", "cf_renewal": "2027-01-31"},
    )
    assert response.status_code == 302
    org.refresh_from_db()
    assert org.custom_fields == {"contract": "Premium", "renewal": "2027-01-31"}
    html = page_text(client.get(reverse("organization", args=[org.pk])))
    assert 'type="date" name="cf_renewal" id="organization_cf_renewal" value="2027-01-31"' in html


def test_light_agents_read_the_values(light_agent, customer):
    make_field("tier", "choice", target="customer", choices=["Gold", "Silver"])
    make_field("since", "date", target="customer")
    Customer.objects.filter(pk=customer.pk).update(custom_fields={"tier": "Gold"})
    html = page_text(client_for(light_agent).get(reverse("customer", args=[customer.pk])))
    assert 'name="cf_tier"' not in html
    assert "<dt>Tier</dt><dd>Gold</dd><dt>Since</dt><dd>—</dd>" in html
