"""Custom fields in the REST API: definitions listed, values read and written, bad values named."""

from __future__ import annotations

import pytest

from sportello.customers.models import Organization
from sportello.customers.services import create_customer
from sportello.tickets.models import Ticket
from tests.api.conftest import api_as
from tests.fields.conftest import make_field

pytestmark = pytest.mark.django_db


def test_agents_list_the_definitions(agent, ticket_fields):
    make_field("contract", "choice", target="organization", choices=["Basic", "Premium"])
    make_field("retired", "text", active=False)
    api = api_as(agent)
    rows = api.get("/fields").json()
    assert [(r["target"], r["key"]) for r in rows][:2] == [("organization", "contract"), ("ticket", "order_number")]
    assert "retired" not in [r["key"] for r in rows]
    product = next(r for r in rows if r["key"] == "product")
    assert product["type"] == "choice" and product["choices"] == ["Widget", "Gadget", "Gizmo"]
    assert [r["key"] for r in api.get("/fields", {"target": "organization"}).json()] == ["contract"]
    assert "retired" in [r["key"] for r in api.get("/fields", {"include_inactive": "true"}).json()]
    assert api.get("/fields", {"target": "planet"}).status_code == 422


@pytest.mark.parametrize("persona", ["customer_user", "stranger"])
def test_customers_and_strangers_are_refused_the_definitions(request, persona, ticket_fields):
    assert api_as(request.getfixturevalue(persona)).get("/fields").status_code == 403


def test_a_ticket_reads_and_writes_its_values(agent, ticket, ticket_fields):
    api = api_as(agent)
    assert api.get(f"/tickets/{ticket.number}").json()["custom_fields"] == {}
    response = api.patch(
        f"/tickets/{ticket.number}",
        {"custom_fields": {"product": "Gizmo", "quantity": 3, "colours": ["Blue", "Red"], "gift": True}},
    )
    assert response.status_code == 200, response.json()
    assert response.json()["custom_fields"] == {
        "product": "Gizmo",
        "quantity": 3,
        "colours": ["Red", "Blue"],
        "gift": True,
    }
    # Only the keys given change; null clears one.
    response = api.patch(f"/tickets/{ticket.number}", {"custom_fields": {"quantity": None, "order_number": "A-1"}})
    assert response.json()["custom_fields"] == {
        "product": "Gizmo",
        "colours": ["Red", "Blue"],
        "gift": True,
        "order_number": "A-1",
    }
    listed = api.get("/tickets", {"custom": "product:Gizmo"}).json()["items"]
    assert [t["number"] for t in listed] == [ticket.number]
    assert listed[0]["custom_fields"]["order_number"] == "A-1"
    assert api.get("/tickets", {"custom": "product:Widget"}).json()["items"] == []


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"colour": "Red"}, "custom_fields.colour"),
        ({"quantity": "many"}, "custom_fields.quantity"),
        ({"product": "Sprocket"}, "custom_fields.product"),
        ({"gift": "maybe"}, "custom_fields.gift"),
        ({"delivered_on": "tomorrow"}, "custom_fields.delivered_on"),
        ({"colours": {"Red": True}}, "custom_fields.colours"),
    ],
)
def test_a_wrong_value_is_422_naming_the_field(agent, ticket, ticket_fields, values, field):
    response = api_as(agent).patch(f"/tickets/{ticket.number}", {"custom_fields": values})
    assert response.status_code == 422
    assert response.json()["field"] == field
    assert Ticket.objects.get(pk=ticket.pk).custom_fields == {}


def test_a_bad_filter_is_422(agent, ticket_fields):
    api = api_as(agent)
    assert api.get("/tickets", {"custom": "nokey"}).status_code == 422
    assert api.get("/tickets", {"custom": "planet:Mars"}).json()["field"] == "custom.planet"
    assert api.get("/tickets", {"custom": "quantity:lots"}).status_code == 422


def test_a_new_ticket_takes_values_and_required_ones(agent, ticket_fields):
    ticket_fields["product"].required = True
    ticket_fields["product"].save()
    api = api_as(agent)
    body = {"subject": "Broken", "body_text": "It broke.", "customer": {"email": "new@example.org"}}
    refused = api.post("/tickets", body)
    assert refused.status_code == 422 and refused.json()["field"] == "custom_fields.product"
    created = api.post("/tickets", {**body, "custom_fields": {"product": "Widget", "order_number": "ORD-9"}})
    assert created.status_code == 201, created.json()
    assert created.json()["custom_fields"] == {"order_number": "ORD-9", "product": "Widget"}
    ticket = Ticket.objects.get(number=created.json()["number"])
    assert ticket.entries.first().author_customer is not None  # still the customer's words


def test_customers_and_organizations_read_and_write_values(agent):
    make_field("tier", "choice", target="customer", choices=["Gold", "Silver"])
    make_field("contract", "choice", target="organization", choices=["Basic", "Premium"], required=True)
    api = api_as(agent)
    customer = create_customer(name="Ada", emails=["ada@example.org"])
    response = api.patch(f"/customers/{customer.pk}", {"custom_fields": {"tier": "Gold"}})
    assert response.status_code == 200 and response.json()["custom_fields"] == {"tier": "Gold"}
    assert (
        api.patch(f"/customers/{customer.pk}", {"custom_fields": {"tier": "Bronze"}}).json()["field"]
        == "custom_fields.tier"
    )
    assert api.get("/customers").json()["items"][0]["custom_fields"] == {"tier": "Gold"}
    assert api.post("/customers", {"name": "B", "custom_fields": {"tier": "Silver"}}).json()["custom_fields"] == {
        "tier": "Silver"
    }

    refused = api.post("/organizations", {"name": "Acme"})
    assert refused.status_code == 422 and refused.json()["field"] == "custom_fields.contract"
    created = api.post("/organizations", {"name": "Acme", "custom_fields": {"contract": "Premium"}})
    assert created.status_code == 201 and created.json()["custom_fields"] == {"contract": "Premium"}
    org = Organization.objects.get(name="Acme")
    assert api.patch(f"/organizations/{org.pk}", {"custom_fields": {"contract": "Basic"}}).json()["custom_fields"] == {
        "contract": "Basic"
    }
    assert api.patch(f"/organizations/{org.pk}", {"custom_fields": {"contract": None}}).status_code == 422  # required


def test_the_openapi_document_describes_custom_fields(agent):
    document = api_as(agent).client.get("/api/v1/openapi.json").json()
    assert "/api/v1/fields" in document["paths"]
    schemas = document["components"]["schemas"]
    for name in ("TicketOut", "TicketUpdateIn", "TicketIn", "CustomerOut", "OrganizationOut", "OrganizationIn"):
        assert "custom_fields" in schemas[name]["properties"], name
    params = [p["name"] for p in document["paths"]["/api/v1/tickets"]["get"]["parameters"]]
    assert "custom" in params


def test_the_list_reads_the_definitions_once(agent, ticket_fields):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.web.conftest import new_ticket

    api = api_as(agent)
    api.get("/me")

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api.get("/tickets").status_code == 200
        return len(captured)

    first = new_ticket("One", email="one@example.org")
    api.patch(f"/tickets/{first.number}", {"custom_fields": {"product": "Gizmo"}})
    count()  # the definitions are read and kept
    few = count()
    for i in range(5):
        ticket = new_ticket(f"T{i}", email=f"t{i}@example.org")
        api.patch(f"/tickets/{ticket.number}", {"custom_fields": {"product": "Widget"}})
    assert count() == few


def test_a_saved_view_keeps_custom_field_filters(agent, ticket, ticket_fields):
    api = api_as(agent)
    api.patch(f"/tickets/{ticket.number}", {"custom_fields": {"product": "Gadget"}})
    body = {"name": "Gadgets", "sharing": "personal", "filter": {"custom": {"product": "Gadget"}}}
    created = api.post("/views", body)
    assert created.status_code == 201, created.json()
    assert created.json()["filter"]["custom"] == {"product": "Gadget"}
    refused = api.post("/views", {**body, "filter": {"custom": {"planet": "Mars"}}})
    assert refused.status_code == 422 and refused.json()["field"] == "custom.planet"
