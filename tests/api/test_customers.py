"""Customers over the API: search and pages, create, read, update, identities."""

from __future__ import annotations

import pytest

from sportello.customers.models import Customer, Identity, Organization
from sportello.customers.services import create_customer

pytestmark = pytest.mark.django_db


def names(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.content
    return [item["name"] for item in response.json()["items"]]


def test_list_in_name_order_with_identities(as_agent, customer):
    create_customer(name="Anna Neri", emails=["anna@neri.example"], phones=["+39 06 1234 567"])
    response = as_agent.get("/customers")
    assert names(response) == ["Anna Neri", "Carla Rossi"]
    anna = response.json()["items"][0]
    assert [(i["kind"], i["value"]) for i in anna["identities"]] == [
        ("email", "anna@neri.example"),
        ("phone", "+39061234567"),
    ]


@pytest.mark.parametrize(("q", "expected"), [("rossi", ["Carla Rossi"]), ("NERI.example", ["Anna Neri"]), ("zzz", [])])
def test_q_finds_part_of_a_name_or_an_address(as_agent, customer, q, expected):
    create_customer(name="Anna Neri", emails=["anna@neri.example"])
    assert names(as_agent.get("/customers", {"q": q})) == expected


def test_keyset_pages_walk_every_customer_once(as_agent):
    for name in ["Eva", "Bea", "Dino", "Ada", "Carlo", "Bea"]:
        create_customer(name=name)
    seen, cursor = [], None
    while True:
        response = as_agent.get("/customers", {"size": 2, **({"cursor": cursor} if cursor else {})})
        seen += names(response)
        cursor = response.json()["next_cursor"]
        if not cursor:
            break
    assert seen == ["Ada", "Bea", "Bea", "Carlo", "Dino", "Eva"]


def test_a_bad_customer_cursor_is_422(as_agent):
    response = as_agent.get("/customers", {"cursor": "bm9wZQ"})
    assert response.status_code == 422 and response.json()["field"] == "cursor"


def test_create_with_addresses_and_organization(as_agent):
    acme = Organization.objects.create(name="Acme")
    response = as_agent.post(
        "/customers",
        {"name": "Ugo Verdi", "emails": ["UGO@Acme.example"], "phones": ["0039 333 123 4567"], "organization": acme.pk},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "Ugo Verdi" and body["organization"] == {"id": acme.pk, "name": "Acme"}
    assert [i["value"] for i in body["identities"]] == ["ugo@acme.example", "+393331234567"]
    assert body["recent_tickets"] == []


def test_create_with_someone_elses_address_is_409_and_creates_nothing(as_agent, customer):
    before = Customer.objects.count()
    response = as_agent.post("/customers", {"name": "Impostor", "emails": ["carla@example.com"]})
    assert response.status_code == 409
    assert response.json() == {
        "detail": f"carla@example.com already belongs to customer {customer.pk}",
        "customer_id": customer.pk,
    }
    assert Customer.objects.count() == before


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "X", "emails": ["not-an-address"]}, "Enter a valid email address"),
        ({"name": "X", "phones": ["call me"]}, "Not a phone number"),
        ({"name": "X", "organization": 999999}, "No organization with id 999999"),
        ({"name": "X" * 201}, "name: String should have at most 200 characters"),
        ({"name": "X", "emails": "a@example.org"}, "emails: Input should be a valid list"),
        ({"name": "X", "vip": True}, "vip: Extra inputs are not permitted"),
        ({"name": "nul\x00byte"}, "name: Value error, must not contain NUL characters"),
    ],
)
def test_create_refuses_bad_input_with_422(as_agent, body, message):
    response = as_agent.post("/customers", body)
    assert response.status_code == 422 and message in response.json()["detail"]
    assert not Customer.objects.filter(name__startswith="X").exists()


def test_read_with_identities_and_recent_tickets(as_agent, customer, ticket):
    response = as_agent.get(f"/customers/{customer.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Carla Rossi" and body["identities"][0]["value"] == "carla@example.com"
    assert [t["number"] for t in body["recent_tickets"]] == [ticket.number, ticket.number - 1]


def test_recent_tickets_respect_the_restricted_agents_groups(restricted_agent, customer, ticket):
    from tests.api.conftest import api_as

    response = api_as(restricted_agent).get(f"/customers/{customer.pk}")
    assert response.status_code == 200 and response.json()["recent_tickets"] == []


def test_unknown_customer_is_404(as_agent):
    response = as_agent.get("/customers/999999")
    assert response.status_code == 404 and response.json() == {"detail": "No customer 999999"}


def test_update_changes_only_the_fields_given(as_agent, customer):
    acme = Organization.objects.create(name="Acme")
    customer.organization = acme
    customer.notes = "Prefers phone"
    customer.save()
    response = as_agent.patch(f"/customers/{customer.pk}", {"name": "Carla Rossi-Bianchi", "organization": None})
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "Carla Rossi-Bianchi" and response.json()["organization"] is None
    customer.refresh_from_db()
    assert customer.notes == "Prefers phone" and customer.organization is None


def test_update_with_unknown_field_is_422(as_agent, customer):
    response = as_agent.patch(f"/customers/{customer.pk}", {"email": "new@example.com"})
    assert response.status_code == 422 and "email: Extra inputs are not permitted" in response.json()["detail"]


def test_add_and_remove_identities(as_agent, customer):
    response = as_agent.post(f"/customers/{customer.pk}/identities", {"kind": "phone", "value": "+39 (06) 555-1234"})
    assert response.status_code == 201 and response.json()["value"] == "+39065551234"
    identity_id = response.json()["id"]
    values = [i["value"] for i in as_agent.get(f"/customers/{customer.pk}").json()["identities"]]
    assert values == ["carla@example.com", "+39065551234"]
    response = as_agent.delete(f"/customers/{customer.pk}/identities/{identity_id}")
    assert response.status_code == 204 and response.content == b""
    assert not Identity.objects.filter(pk=identity_id).exists()


def test_an_address_of_another_customer_is_409(as_agent, customer):
    other = create_customer(name="Anna", emails=["anna@example.org"])
    response = as_agent.post(f"/customers/{customer.pk}/identities", {"kind": "email", "value": "ANNA@example.org"})
    assert response.status_code == 409 and response.json()["customer_id"] == other.pk


def test_removing_an_identity_of_another_customer_is_refused(as_agent, customer):
    other = create_customer(name="Anna", emails=["anna@example.org"])
    identity = other.identities.get()
    response = as_agent.delete(f"/customers/{customer.pk}/identities/{identity.pk}")
    assert response.status_code == 404 and response.json()["detail"] == "No such identity on this customer"
    assert Identity.objects.filter(pk=identity.pk).exists()


def test_light_agent_reads_customers_but_cannot_change_them(as_light, customer):
    assert as_light.get(f"/customers/{customer.pk}").status_code == 200
    assert as_light.post("/customers", {"name": "New"}).status_code == 403
    assert as_light.patch(f"/customers/{customer.pk}", {"name": "Renamed"}).status_code == 403
    customer.refresh_from_db()
    assert customer.name == "Carla Rossi"


# --- Merging --------------------------------------------------------------------------------------


@pytest.fixture
def duplicate(db):  # type: ignore[no-untyped-def]
    from tests.customers.conftest import new_ticket

    return new_ticket("From home", email="carla.home@example.org", name="Carla R.").customer


def test_merge_and_undo(as_agent, customer, ticket, duplicate):
    from sportello.tickets.models import Ticket

    response = as_agent.post(f"/customers/{customer.pk}/merge", {"duplicate_id": duplicate.pk})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["survivor"] == {"id": customer.pk, "name": "Carla Rossi"}
    assert body["moved"]["tickets"] == 1 and body["moved"]["identities"] == 1 and body["undone_at"] is None
    assert Ticket.objects.get(subject="From home").customer_id == customer.pk
    assert as_agent.get(f"/customers/{duplicate.pk}").json()["merged_into"] == customer.pk
    assert [c["id"] for c in as_agent.get("/customers").json()["items"]] == [customer.pk]  # merged away: not listed
    assert [m["id"] for m in as_agent.get(f"/customers/{duplicate.pk}/merges").json()] == [body["id"]]
    undone = as_agent.post(f"/customer-merges/{body['id']}/undo")
    assert undone.status_code == 200 and undone.json()["undone_at"] is not None
    assert Ticket.objects.get(subject="From home").customer_id == duplicate.pk
    again = as_agent.post(f"/customer-merges/{body['id']}/undo")
    assert again.status_code == 409 and again.json()["detail"] == "This merge was already undone."


def test_merge_refusals(as_agent, customer, duplicate):
    assert as_agent.post(f"/customers/{customer.pk}/merge", {"duplicate_id": customer.pk}).status_code == 422
    missing = as_agent.post(f"/customers/{customer.pk}/merge", {"duplicate_id": 999999})
    assert missing.status_code == 404 and missing.json() == {"detail": "No customer 999999"}
    assert as_agent.post("/customers/999999/merge", {"duplicate_id": customer.pk}).status_code == 404
    assert as_agent.post(f"/customers/{customer.pk}/merge", {"duplicate": duplicate.pk}).status_code == 422
    assert as_agent.post("/customer-merges/999999/undo").status_code == 404
    assert as_agent.get("/customers/999999/merges").status_code == 404


def test_merge_is_refused_to_strangers(customer_user, light_agent, restricted_agent, customer, ticket, duplicate):
    from django.test import Client

    from sportello.customers.models import CustomerMerge
    from tests.api.conftest import API, api_as

    anonymous = Client().post(
        f"{API}/customers/{customer.pk}/merge", {"duplicate_id": duplicate.pk}, content_type="application/json"
    )
    assert anonymous.status_code == 401
    for user in (customer_user, light_agent, restricted_agent):
        response = api_as(user).post(f"/customers/{customer.pk}/merge", {"duplicate_id": duplicate.pk})
        assert response.status_code == 403, user.username
    assert not CustomerMerge.objects.exists()


def test_undo_is_refused_to_strangers(as_agent, customer_user, restricted_agent, customer, ticket, duplicate):
    from django.test import Client

    from tests.api.conftest import API, api_as

    merge_id = as_agent.post(f"/customers/{customer.pk}/merge", {"duplicate_id": duplicate.pk}).json()["id"]
    assert Client().post(f"{API}/customer-merges/{merge_id}/undo").status_code == 401
    for user in (customer_user, restricted_agent):
        assert api_as(user).post(f"/customer-merges/{merge_id}/undo").status_code == 403, user.username
    assert as_agent.get(f"/customers/{duplicate.pk}").json()["merged_into"] == customer.pk


def test_a_merged_away_file_is_not_changed(as_agent, customer, duplicate):
    as_agent.post(f"/customers/{customer.pk}/merge", {"duplicate_id": duplicate.pk})
    response = as_agent.patch(f"/customers/{duplicate.pk}", {"name": "Changed"})
    assert response.status_code == 409 and response.json()["customer_id"] == customer.pk
    response = as_agent.post(f"/customers/{duplicate.pk}/identities", {"kind": "email", "value": "new@example.org"})
    assert response.status_code == 409


# --- Notes and timeline ---------------------------------------------------------------------------


def test_notes_add_and_list(as_agent, as_light, customer):
    response = as_agent.post(f"/customers/{customer.pk}/notes", {"body": "Prefers phone calls"})
    assert response.status_code == 201 and response.json()["author"] == "Alice Agent"
    assert as_light.post(f"/customers/{customer.pk}/notes", {"body": "Light note"}).status_code == 201
    assert [n["body"] for n in as_agent.get(f"/customers/{customer.pk}/notes").json()] == [
        "Light note",
        "Prefers phone calls",
    ]
    assert as_agent.post(f"/customers/{customer.pk}/notes", {"body": ""}).status_code == 422
    assert as_agent.post("/customers/999999/notes", {"body": "x"}).status_code == 404


def test_timeline_pages_through_messages_the_agent_may_see(as_agent, restricted_agent, customer, ticket):
    from tests.api.conftest import api_as

    first = as_agent.get(f"/customers/{customer.pk}/timeline", {"size": 1}).json()
    assert [(e["ticket"], e["body_text"]) for e in first["items"]] == [
        (ticket.number, "The printer in room 4 is on fire.")
    ]
    second = as_agent.get(f"/customers/{customer.pk}/timeline", {"size": 1, "cursor": first["next_cursor"]}).json()
    assert [e["body_text"] for e in second["items"]] == ["First contact"] and second["next_cursor"] is None
    assert api_as(restricted_agent).get(f"/customers/{customer.pk}/timeline").json()["items"] == []
    assert as_agent.get(f"/customers/{customer.pk}/timeline", {"cursor": "bm9wZQ"}).status_code == 422


def test_notes_and_timeline_are_refused_to_strangers(customer_user, customer):
    from django.test import Client

    from tests.api.conftest import API, api_as

    for path in ("notes", "timeline"):
        assert Client().get(f"{API}/customers/{customer.pk}/{path}").status_code == 401
        assert api_as(customer_user).get(f"/customers/{customer.pk}/{path}").status_code == 403
    assert api_as(customer_user).post(f"/customers/{customer.pk}/notes", {"body": "x"}).status_code == 403
