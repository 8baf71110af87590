"""Tickets over the API: list with the inbox's filters and keyset pages, create, read, update, merge."""

from __future__ import annotations

import pytest
from django.core import mail

from sportello.tickets import statuses
from sportello.tickets.models import Change, Channel, Entry, Priority, Status, StatusCategory, Ticket
from sportello.tickets.services import TicketChanges, update_ticket
from tests.api.conftest import api_as
from tests.web.conftest import new_ticket

pytestmark = pytest.mark.django_db


def numbers(response) -> list[int]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.content
    return [item["number"] for item in response.json()["items"]]


@pytest.fixture
def spread(agent, agent2, second_level):
    t = {
        "unassigned": new_ticket("Unassigned and new", email="u@example.org"),
        "mine": new_ticket("Assigned to Alice", email="m@example.org"),
        "bobs": new_ticket("Assigned to Bob", email="b@example.org", channel=Channel.CHAT),
        "pending": new_ticket("Waiting for the customer", email="p@example.org"),
    }
    update_ticket(t["mine"], agent, TicketChanges(assignee=agent, priority=Priority.URGENT, tags=["vip"]))
    update_ticket(t["bobs"], agent, TicketChanges(assignee=agent2, group=second_level))
    update_ticket(t["pending"], agent, TicketChanges(status=statuses.builtin(StatusCategory.PENDING)))
    return t


# --- List -------------------------------------------------------------------------------------------


def test_list_shows_tickets_newest_first_with_what_an_agent_needs(as_agent, spread):
    response = as_agent.get("/tickets")
    assert numbers(response) == [spread[k].number for k in ("pending", "bobs", "mine", "unassigned")]
    bobs = response.json()["items"][1]
    assert bobs["subject"] == "Assigned to Bob" and bobs["channel"] == "chat"
    assert bobs["assignee"]["username"] == "bob_agent" and bobs["group"]["name"] == "Second level"
    assert bobs["customer"]["name"] == "Dora Bianchi" and bobs["status"]["category"] == "new"
    assert response.json()["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"view": "mine"}, ["mine"]),
        ({"view": "unassigned"}, ["unassigned"]),
        ({"state": "pending"}, ["pending"]),
        ({"state": ["new", "pending"], "assignee": 0}, ["pending", "unassigned"]),
        ({"assignee": "AGENT2"}, ["bobs"]),
        ({"group": "SECOND_LEVEL"}, ["bobs"]),
        ({"priority": 4}, ["mine"]),
        ({"channel": "chat"}, ["bobs"]),
        ({"tag": "VIP"}, ["mine"]),
        ({"sort": "priority", "state": "new"}, ["mine", "bobs", "unassigned"]),
        ({"sort": "oldest"}, ["unassigned", "mine", "bobs", "pending"]),
    ],
)
def test_filters_are_the_inboxs(as_agent, spread, agent2, second_level, params, expected):
    params = {
        k: {"AGENT2": agent2.pk, "SECOND_LEVEL": second_level.pk}.get(v, v) if isinstance(v, str) else v
        for k, v in params.items()
    }
    assert numbers(as_agent.get("/tickets", params)) == [spread[name].number for name in expected]


def test_customer_filter(as_agent, spread, ticket):
    assert numbers(as_agent.get("/tickets", {"customer": ticket.customer_id}))[0] == ticket.number
    assert spread["mine"].number not in numbers(as_agent.get("/tickets", {"customer": ticket.customer_id}))


def test_keyset_pages_walk_every_ticket_once(as_agent):
    made = [new_ticket(f"Ticket {i}", email=f"c{i}@example.org").number for i in range(7)]
    seen, cursor, pages = [], None, 0
    while True:
        params = {"size": 3, **({"cursor": cursor} if cursor else {})}
        response = as_agent.get("/tickets", params)
        seen += numbers(response)
        pages += 1
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(made)) and pages == 3


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"view": "everything"}, "Unknown view 'everything'"),
        ({"sort": "random"}, "Unknown sort 'random'"),
        ({"cursor": "not-a-cursor"}, "The page cursor is not valid"),
        ({"state": "lost"}, "Unknown state 'lost'"),
        ({"size": 0}, "size"),
        ({"priority": "high"}, "priority"),
    ],
)
def test_bad_filters_are_422_with_a_message(as_agent, params, message):
    response = as_agent.get("/tickets", params)
    assert response.status_code == 422 and message in response.json()["detail"]


def test_restricted_agent_sees_only_their_groups_tickets(restricted_agent, spread):
    client = api_as(restricted_agent)
    assert numbers(client.get("/tickets")) == [spread["bobs"].number]
    response = client.get(f"/tickets/{spread['mine'].number}")
    assert response.status_code == 404 and response.json()["detail"] == f"No ticket #{spread['mine'].number}"


# --- Create and read --------------------------------------------------------------------------------


def test_create_opens_an_api_ticket_recorded_by_the_agent(as_agent, agent, first_level):
    response = as_agent.post(
        "/tickets",
        {
            "subject": "Phone call: router down",
            "body_text": "Customer called, router is down since 9:00.",
            "customer": {"name": "Ugo Verdi", "email": "UGO@example.org"},
            "priority": 3,
            "group": first_level.pk,
            "tags": ["Network"],
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["channel"] == "api" and body["priority"] == 3 and body["tags"] == ["network"]
    assert body["customer"]["name"] == "Ugo Verdi" and body["group"]["id"] == first_level.pk
    entry = Entry.objects.get(ticket__number=body["number"])
    assert entry.author_user is None and entry.metadata["recorded_by"]["id"] == agent.pk  # her words, not his
    assert entry.author_customer.name == "Ugo Verdi"
    assert entry.body_text == "Customer called, router is down since 9:00."
    assert mail.outbox == []


def test_create_for_an_existing_customer_with_acknowledgement(as_agent, customer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_agent.post(
            "/tickets",
            {"subject": "Invoice", "body_text": "Please resend.", "customer_id": customer.pk, "acknowledge": True},
        )
    assert response.status_code == 201, response.content
    assert response.json()["customer"]["id"] == customer.pk
    [message] = mail.outbox
    assert message.to == ["Carla Rossi <carla@example.com>"] and str(response.json()["number"]) in message.subject


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"subject": "x", "body_text": "y"}, "give either customer_id or customer"),
        ({"subject": "x", "body_text": "y", "customer_id": 1, "customer": {"email": "a@b.org"}}, "give either"),
        ({"subject": "x", "body_text": "y", "customer": {"email": "not an address"}}, "no valid email"),
        ({"subject": "x", "body_text": "", "customer": {"email": "a@example.org"}}, "The message is empty"),
        ({"subject": "x", "body_text": "y", "customer_id": 999999}, "No customer with id 999999"),
        ({"subject": "x", "body_text": "y", "customer": {"email": "a@example.org"}, "channel": "fax"}, "channel"),
    ],
)
def test_create_refuses_bad_input_with_422(as_agent, body, message):
    response = as_agent.post("/tickets", body)
    assert response.status_code == 422 and message in response.json()["detail"]
    assert not Ticket.objects.filter(subject="x").exists()


def test_read_a_ticket(as_agent, ticket):
    response = as_agent.get(f"/tickets/{ticket.number}")
    assert response.status_code == 200
    body = response.json()
    assert body["number"] == ticket.number and body["subject"] == "Printer on fire"
    assert body["version"] == ticket.version and body["merged_into"] is None and body["customer"]["id"]


@pytest.mark.parametrize("number", ["1", "99999999"])
def test_unknown_ticket_is_404_json(as_agent, number):
    response = as_agent.get(f"/tickets/{number}")
    assert response.status_code == 404 and response.json() == {"detail": f"No ticket #{number}"}


@pytest.mark.parametrize("number", ["abc", "0", str(2**64)])
def test_a_number_that_is_no_ticket_number_is_422(as_agent, number):
    assert as_agent.get(f"/tickets/{number}").status_code == 422


# --- Update -----------------------------------------------------------------------------------------


def test_update_changes_fields_and_records_history(as_agent, ticket, agent, first_level):
    solved = statuses.builtin(StatusCategory.SOLVED)
    response = as_agent.patch(
        f"/tickets/{ticket.number}",
        {
            "status": solved.pk,
            "priority": 4,
            "assignee": agent.pk,
            "group": first_level.pk,
            "tags": ["fire", "hardware"],
            "expected_version": ticket.version,
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "solved" and body["priority"] == 4 and body["assignee"]["id"] == agent.pk
    assert body["tags"] == ["fire", "hardware"] and body["version"] == ticket.version + 1
    assert body["solved_at"] is not None
    fields = set(Change.objects.filter(ticket=ticket).values_list("field", flat=True))
    assert {"status", "priority", "assignee", "group", "tags"} <= fields


def test_null_clears_the_assignee_and_absent_fields_stay(as_agent, ticket, agent):
    update_ticket(ticket, agent, TicketChanges(assignee=agent, priority=Priority.HIGH))
    response = as_agent.patch(f"/tickets/{ticket.number}", {"assignee": None})
    assert response.status_code == 200
    assert response.json()["assignee"] is None and response.json()["priority"] == Priority.HIGH


def test_stale_version_is_409_with_what_changed(as_agent, ticket, agent2):
    seen = ticket.version
    update_ticket(ticket, agent2, TicketChanges(priority=Priority.URGENT))
    response = as_agent.patch(f"/tickets/{ticket.number}", {"priority": 1, "expected_version": seen})
    assert response.status_code == 409
    body = response.json()
    assert f"Ticket #{ticket.number} changed since you opened it" in body["detail"]
    assert body["current_version"] == seen + 1
    [change] = body["changes"]
    assert change["field"] == "priority" and change["new"] == "Urgent" and change["by"] == "Bob Agent"
    assert Ticket.objects.get(pk=ticket.pk).priority == Priority.URGENT


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": 999999}, "status"),
        ({"assignee": 999999}, "assignee"),
        ({"group": 999999}, "group"),
        ({"category": 999999}, "category"),
        ({"subject": ""}, "subject"),
        ({"priority": 9}, "priority"),
    ],
)
def test_update_with_bad_values_is_422(as_agent, ticket, body, field):
    response = as_agent.patch(f"/tickets/{ticket.number}", body)
    assert response.status_code == 422 and field in response.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).version == ticket.version


def test_assigning_to_a_customer_is_422(as_agent, ticket, customer_user):
    response = as_agent.patch(f"/tickets/{ticket.number}", {"assignee": customer_user.pk})
    assert response.status_code == 422 and response.json() == {
        "detail": "Tickets can be assigned to agents only",
        "field": "assignee",
    }


def test_a_custom_status(as_agent, ticket):
    waiting = Status.objects.create(name="Waiting for parts", slug="parts", category=StatusCategory.ON_HOLD)
    response = as_agent.patch(f"/tickets/{ticket.number}", {"status": waiting.pk})
    assert response.json()["status"]["name"] == "Waiting for parts" and response.json()["state"] == "on_hold"


# --- Merge ------------------------------------------------------------------------------------------


def test_merge_moves_the_thread(as_agent, ticket, customer):
    other = new_ticket("Printer still on fire", email="carla@example.com")
    response = as_agent.post(f"/tickets/{other.number}/merge", {"into": ticket.number})
    assert response.status_code == 200, response.content
    assert response.json()["number"] == ticket.number
    other.refresh_from_db()
    assert other.merged_into_id == ticket.pk and other.state == StatusCategory.CLOSED
    assert Entry.objects.filter(ticket=ticket).count() == 2
    assert as_agent.get(f"/tickets/{other.number}").json()["merged_into"] == ticket.number


@pytest.mark.parametrize(
    ("into", "message"), [("self", "cannot be merged into itself"), (99999999, "No ticket #99999999")]
)
def test_merge_into_itself_or_nowhere_is_422(as_agent, ticket, into, message):
    response = as_agent.post(f"/tickets/{ticket.number}/merge", {"into": ticket.number if into == "self" else into})
    assert response.status_code == 422 and message in response.json()["detail"]
    assert Ticket.objects.get(pk=ticket.pk).merged_into_id is None


def test_merge_with_stale_version_is_409(as_agent, ticket, agent2):
    other = new_ticket("Second", email="x@example.org")
    seen = other.version
    update_ticket(other, agent2, TicketChanges(subject="Second, renamed"))
    response = as_agent.post(f"/tickets/{other.number}/merge", {"into": ticket.number, "expected_version": seen})
    assert response.status_code == 409 and response.json()["changes"][0]["field"] == "subject"


# --- Light agents -----------------------------------------------------------------------------------


def test_light_agent_reads_but_cannot_change(as_light, ticket):
    assert as_light.get("/tickets").status_code == 200
    assert as_light.get(f"/tickets/{ticket.number}").status_code == 200
    for response in (
        as_light.patch(f"/tickets/{ticket.number}", {"priority": 4}),
        as_light.post(f"/tickets/{ticket.number}/merge", {"into": ticket.number}),
        as_light.post("/tickets", {"subject": "x", "body_text": "y", "customer": {"email": "a@example.org"}}),
    ):
        assert response.status_code == 403
        assert response.json()["detail"] == "Light agents can add internal notes only"
    assert Ticket.objects.get(pk=ticket.pk).priority == Priority.NORMAL


# --- Statuses ---------------------------------------------------------------------------------------


def test_statuses_list_the_six_builtin_ones_in_order(as_agent, ticket):
    response = as_agent.get("/statuses")
    assert [s["name"] for s in response.json()] == ["New", "Open", "Pending", "On hold", "Solved", "Closed", "Spam"]
