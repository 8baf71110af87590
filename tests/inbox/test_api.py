"""The inbox in the API: POST /tickets/bulk and /views, with refusals for every stranger."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from sportello.inbox.models import SavedView
from sportello.tickets.models import Priority, Ticket
from sportello.tickets.services import TicketChanges, update_ticket
from tests.conftest import api_client
from tests.web.conftest import new_ticket

pytestmark = pytest.mark.django_db

BULK = "/api/v1/tickets/bulk"
VIEWS = "/api/v1/views"


@pytest.fixture
def three(db) -> list[Ticket]:
    return [new_ticket(f"API bulk {i}", email=f"apibulk{i}@example.org") for i in range(3)]


def post(client: Client, path: str, body: object):  # type: ignore[no-untyped-def]
    return client.post(path, json.dumps(body), content_type="application/json")


def test_bulk_update_with_versions_reports_each_refusal(agent, agent2, three):
    body = {"tickets": [{"number": t.number, "version": t.version} for t in three], "assignee": agent2.pk}
    update_ticket(three[0], agent2, TicketChanges(priority=Priority.HIGH))
    response = post(api_client(agent), BULK, body)
    assert response.status_code == 200
    data = response.json()
    assert sorted(data["updated"]) == sorted(t.number for t in three[1:])
    assert data["refused"][0]["number"] == three[0].number and "Bob Agent" in data["refused"][0]["reason"]
    assert Ticket.objects.filter(assignee=agent2).count() == 2


def test_bulk_by_filter_and_tags(agent, three):
    update_ticket(three[1], agent, TicketChanges(priority=Priority.URGENT))
    response = post(api_client(agent), BULK, {"filter": {"priority": [4]}, "add_tags": ["escalated"]})
    assert response.status_code == 200 and response.json()["updated"] == [three[1].number]
    assert list(Ticket.objects.filter(tags__name="escalated")) == [three[1]]


def test_bulk_merge_and_delete(agent, admin, three):
    merged = post(
        api_client(agent), BULK, {"tickets": [{"number": t.number} for t in three], "merge_into": three[0].number}
    )
    assert merged.status_code == 200 and len(merged.json()["updated"]) == 2
    assert post(api_client(agent), BULK, {"tickets": [{"number": three[0].number}], "delete": True}).status_code == 403
    deleted = post(api_client(admin), BULK, {"tickets": [{"number": three[0].number}], "delete": True})
    assert deleted.status_code == 200 and not Ticket.objects.filter(pk=three[0].pk).exists()


def test_bulk_refusals(customer_user, light_agent, restricted_agent, three):
    body = {"tickets": [{"number": t.number} for t in three], "priority": 1}
    assert post(Client(), BULK, body).status_code == 401
    assert post(api_client(customer_user), BULK, body).status_code == 403
    assert post(api_client(light_agent), BULK, body).status_code == 403
    # An agent restricted to a group whose tickets these are not: each refused as not found.
    response = post(api_client(restricted_agent), BULK, body)
    assert response.status_code == 200 and response.json()["updated"] == []
    assert {r["number"] for r in response.json()["refused"]} == {t.number for t in three}
    assert all("not found" in r["reason"] for r in response.json()["refused"])
    assert not Ticket.objects.filter(priority=Priority.LOW).exists()


@pytest.mark.parametrize(
    "body",
    [
        {"tickets": [{"number": "abc"}], "priority": 1},
        {"tickets": [{"number": 1}], "priority": 9},
        {"tickets": [{"number": 1}], "colour": "red"},
        {"tickets": [{"number": 1}]},  # no action
        {"tickets": [{"number": 1}], "priority": 1, "delete": True},  # two actions
        {"tickets": [{"number": 1}], "filter": {"priority": [4]}, "priority": 1},
        {"tickets": [{"number": 1}], "status": 999999},
        {"filter": {"sla": "someday"}, "priority": 1},
        [],
    ],
)
def test_bulk_malformed_bodies_are_422(agent, body):
    response = post(api_client(agent), BULK, body)
    assert response.status_code == 422, response.content
    assert response.json()["detail"]


def test_views_list_with_counts_create_and_delete(agent, light_agent, first_level, three):
    update_ticket(three[2], agent, TicketChanges(tags=["vip"]))
    client = api_client(agent)
    created = post(
        client, VIEWS, {"name": "VIP", "sharing": "group", "group": first_level.pk, "filter": {"tag": ["vip"]}}
    )
    assert created.status_code == 201, created.content
    view_id = created.json()["id"]
    listed = api_client(light_agent).get(VIEWS).json()
    assert [(v["name"], v["count"]) for v in listed["saved"]] == [("VIP", 1)]
    assert {v["slug"]: v["count"] for v in listed["builtin"]}["unassigned"] == 3
    assert api_client(light_agent).delete(f"{VIEWS}/{view_id}").status_code == 403  # not the owner
    assert client.delete(f"{VIEWS}/{view_id}").status_code == 204
    assert not SavedView.objects.exists()


def test_views_refusals(agent, agent2, admin, customer_user, second_level):
    assert Client().get(VIEWS).status_code == 401
    assert api_client(customer_user).get(VIEWS).status_code == 403
    body = {"name": "X", "sharing": "everyone", "filter": {"priority": [4]}}
    assert post(api_client(agent), VIEWS, body).status_code == 403
    assert post(api_client(agent), VIEWS, {**body, "sharing": "group", "group": second_level.pk}).status_code == 403
    assert post(api_client(agent), VIEWS, {**body, "sharing": "personal", "filter": {}}).status_code == 422
    assert post(api_client(agent), VIEWS, {**body, "sharing": "personal", "filter": {"size": 3}}).status_code == 422
    theirs = post(api_client(agent2), VIEWS, {**body, "sharing": "personal"}).json()["id"]
    assert api_client(agent).delete(f"{VIEWS}/{theirs}").status_code == 404  # a personal view of someone else
    assert api_client(agent).delete(f"{VIEWS}/999999").status_code == 404


def test_the_openapi_document_has_them(agent):
    paths = Client().get("/api/v1/openapi.json").json()["paths"]
    assert "post" in paths["/api/v1/tickets/bulk"] and {"get", "post"} <= set(paths["/api/v1/views"])
    assert "delete" in paths["/api/v1/views/{view_id}"]
    responses = paths["/api/v1/tickets/bulk"]["post"]["responses"]
    assert {"200", "401", "403", "422"} <= set(responses)
