"""Organizations over the API: list, create, read, update, members; and who is refused."""

from __future__ import annotations

import pytest
from django.test import Client

from sportello.customers.models import Customer, Organization
from sportello.tickets.models import Ticket
from tests.api.conftest import API, api_as

pytestmark = pytest.mark.django_db


def test_create_read_update_and_list(as_agent):
    response = as_agent.post("/organizations", {"name": "Acme", "domain": "@ACME.example", "notes": "Key account"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["name"], body["domain"], body["shared_tickets"], body["notes"]) == (
        "Acme", "acme.example", False, "Key account",
    )  # fmt: skip
    pk = body["id"]
    assert as_agent.get(f"/organizations/{pk}").json()["name"] == "Acme"
    response = as_agent.patch(f"/organizations/{pk}", {"name": "Acme Ltd"})
    assert response.status_code == 200 and response.json()["name"] == "Acme Ltd"
    assert response.json()["domain"] == "acme.example"  # untouched
    as_agent.post("/organizations", {"name": "Beta"})
    listed = as_agent.get("/organizations").json()
    assert [o["name"] for o in listed["items"]] == ["Acme Ltd", "Beta"] and listed["next_cursor"] is None
    assert [o["name"] for o in as_agent.get("/organizations", {"q": "acme.ex"}).json()["items"]] == ["Acme Ltd"]


def test_keyset_pages(as_agent):
    for name in ["Delta", "Alfa", "Charlie", "Bravo"]:
        Organization.objects.create(name=name)
    seen, cursor = [], None
    while True:
        page = as_agent.get("/organizations", {"size": 3, **({"cursor": cursor} if cursor else {})}).json()
        seen += [o["name"] for o in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ["Alfa", "Bravo", "Charlie", "Delta"]
    assert as_agent.get("/organizations", {"cursor": "bm9wZQ"}).status_code == 422


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": ""}, "name: String should have at least 1 character"),
        ({"name": "X", "domain": "not a domain"}, "Write a mail domain such as example.com."),
        ({"name": "X", "vip": True}, "vip: Extra inputs are not permitted"),
        ({"name": "X", "shared_tickets": "maybe"}, "shared_tickets"),
    ],
)
def test_bad_input_is_422(as_agent, body, message):
    response = as_agent.post("/organizations", body)
    assert response.status_code == 422 and message in response.json()["detail"]
    assert not Organization.objects.exists()


def test_a_taken_name_is_422_with_its_id(as_agent):
    acme = Organization.objects.create(name="Acme")
    response = as_agent.post("/organizations", {"name": "ACME"})
    assert response.status_code == 422
    assert response.json()["organization_id"] == acme.pk


def test_members_add_list_remove(as_agent, customer):
    acme = Organization.objects.create(name="Acme")
    response = as_agent.post(f"/organizations/{acme.pk}/members", {"customer_id": customer.pk})
    assert response.status_code == 201 and response.json()["organization"] == {"id": acme.pk, "name": "Acme"}
    members = as_agent.get(f"/organizations/{acme.pk}/members").json()
    assert [m["name"] for m in members["items"]] == ["Carla Rossi"]
    assert as_agent.delete(f"/organizations/{acme.pk}/members/{customer.pk}").status_code == 204
    assert Customer.objects.get(pk=customer.pk).organization is None
    assert as_agent.delete(f"/organizations/{acme.pk}/members/{customer.pk}").status_code == 404


def test_unknown_ids_are_404_json(as_agent, customer):
    acme = Organization.objects.create(name="Acme")
    for method, path, body in [
        ("get", "/organizations/999999", None),
        ("patch", "/organizations/999999", {"name": "X"}),
        ("get", "/organizations/999999/members", None),
        ("post", "/organizations/999999/members", {"customer_id": customer.pk}),
        ("post", f"/organizations/{acme.pk}/members", {"customer_id": 999999}),
        ("delete", f"/organizations/{acme.pk}/members/999999", None),
    ]:
        call = getattr(as_agent, method)
        response = call(path, body) if body is not None else call(path)
        assert response.status_code == 404, (method, path)
        assert "detail" in response.json()


def test_sharing_tickets_needs_sight_of_all_of_them(restricted_agent, customer, ticket):
    acme = Organization.objects.create(name="Acme")
    Customer.objects.filter(pk=customer.pk).update(organization=acme)
    response = api_as(restricted_agent).patch(f"/organizations/{acme.pk}", {"shared_tickets": True})
    assert response.status_code == 403
    assert not Organization.objects.get(pk=acme.pk).shared_tickets


def test_anonymous_is_401(db):
    client = Client()
    for method, path in [("get", "/organizations"), ("post", "/organizations"), ("get", "/organizations/1")]:
        response = getattr(client, method)(API + path, content_type="application/json")
        assert response.status_code == 401, path


def test_a_customers_token_is_403(customer_user, customer):
    as_customer = api_as(customer_user)
    acme = Organization.objects.create(name="Acme")
    assert as_customer.get("/organizations").status_code == 403
    assert as_customer.post("/organizations", {"name": "Mine"}).status_code == 403
    assert as_customer.get(f"/organizations/{acme.pk}").status_code == 403
    assert as_customer.patch(f"/organizations/{acme.pk}", {"name": "Mine"}).status_code == 403
    assert as_customer.get(f"/organizations/{acme.pk}/members").status_code == 403
    assert as_customer.post(f"/organizations/{acme.pk}/members", {"customer_id": customer.pk}).status_code == 403
    assert Organization.objects.get().name == "Acme" and Customer.objects.get(pk=customer.pk).organization is None


def test_a_light_agent_reads_but_cannot_change(as_light, customer):
    acme = Organization.objects.create(name="Acme")
    assert as_light.get("/organizations").status_code == 200
    assert as_light.post("/organizations", {"name": "Mine"}).status_code == 403
    assert as_light.patch(f"/organizations/{acme.pk}", {"name": "Mine"}).status_code == 403
    assert as_light.post(f"/organizations/{acme.pk}/members", {"customer_id": customer.pk}).status_code == 403
    assert as_light.delete(f"/organizations/{acme.pk}/members/{customer.pk}").status_code == 403


def test_in_the_openapi_document(as_agent):
    document = as_agent.get("/openapi.json").json()
    paths = document["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/organizations"])
    assert {"get", "patch"} <= set(paths["/api/v1/organizations/{organization_id}"])
    assert {"get", "post"} <= set(paths["/api/v1/organizations/{organization_id}/members"])
    assert "delete" in paths["/api/v1/organizations/{organization_id}/members/{customer_id}"]
    assert "post" in paths["/api/v1/customers/{customer_id}/merge"]
    assert "post" in paths["/api/v1/customer-merges/{merge_id}/undo"]
    assert Ticket.objects.count() == 0


def test_the_merge_schemas_do_not_shadow_the_tickets_ones(as_agent):
    """Ninja names a component by its class: a second `MergeIn` replaced the ticket merge's body."""
    paths = as_agent.get("/openapi.json").json()["paths"]

    def body(path: str) -> str:
        return paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]

    assert body("/api/v1/customers/{customer_id}/merge").endswith("/CustomerMergeIn")
    assert not body("/api/v1/tickets/{number}/merge").endswith("/CustomerMergeIn")
