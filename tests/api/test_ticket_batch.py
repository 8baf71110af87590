"""POST /tickets/batch: many tickets in one call and one transaction, each item answered on its own."""

from __future__ import annotations

from typing import Any

import pytest

from sportello.tickets.models import Ticket

pytestmark = pytest.mark.django_db


def body(email: str, **extra: Any) -> dict[str, Any]:
    return {
        "subject": "Screen arrived broken",
        "body_text": "Order 1234 arrived with a broken screen.",
        "customer": {"name": "Rosa Blue", "email": email},
        "tags": ["damaged", "order"],
        **extra,
    }


def test_a_batch_opens_every_good_item_and_reports_the_bad_ones(as_agent, customer):
    before = Ticket.objects.count()
    items = [
        body("one@example.org"),
        {"subject": "Known", "body_text": "Hi", "customer_id": 987654},  # no such customer
        {"subject": "Empty", "body_text": "   ", "customer": {"email": "empty@example.org"}},
        {"subject": "By id", "body_text": "Hi", "customer_id": customer.pk},
        body("one@example.org", subject="Again"),
    ]
    response = as_agent.post("/tickets/batch", {"tickets": items})
    assert response.status_code == 200, response.content
    answer = response.json()
    assert (answer["created"], answer["failed"]) == (3, 2)
    assert [r["status"] for r in answer["results"]] == [201, 422, 422, 201, 201]
    assert [r["index"] for r in answer["results"]] == [0, 1, 2, 3, 4]
    assert "987654" in answer["results"][1]["error"]["detail"]
    assert "empty" in answer["results"][2]["error"]["detail"]
    opened = [r["ticket"] for r in answer["results"] if r["ticket"]]
    for ticket in opened:
        assert as_agent.get(f"/tickets/{ticket['number']}").json() == ticket
    assert opened[0]["customer"]["id"] == opened[2]["customer"]["id"]  # one customer per address
    assert Ticket.objects.count() == before + 3


def test_a_batch_that_breaks_the_schema_opens_nothing(as_agent):
    before = Ticket.objects.count()
    for bad in (
        {"tickets": []},
        {"tickets": [body("a@example.org")] * 101},
        {"tickets": [body("a@example.org"), {"subject": "x" * 300, "customer": {"email": "b@example.org"}}]},
        {"tickets": [body("a@example.org")], "extra": 1},
        [body("a@example.org")],
    ):
        response = as_agent.post("/tickets/batch", bad)
        assert response.status_code == 422, (bad, response.content)
    assert Ticket.objects.count() == before
    located = as_agent.post(
        "/tickets/batch", {"tickets": [body("a@example.org"), {"subject": "x" * 300, "customer": {"email": "b@x.org"}}]}
    ).json()
    assert any(error["loc"][:4] == ["body", "data", "tickets", 1] for error in located["errors"])


def test_a_batch_of_a_hundred_is_taken(as_agent):
    response = as_agent.post("/tickets/batch", {"tickets": [body(f"c{i}@example.org") for i in range(100)]})
    assert response.status_code == 200 and response.json()["created"] == 100
    assert Ticket.objects.count() == 100


def test_a_light_agent_may_not_open_tickets_in_a_batch(as_light):
    response = as_light.post("/tickets/batch", {"tickets": [body("a@example.org")]})
    assert response.status_code == 403
    assert not Ticket.objects.exists()
