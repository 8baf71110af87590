"""A ticket created with no transaction open (the API's create, PostgreSQL): the look-up, then
every row in one statement that commits by itself. What a user notices is that every row is
there and right, and that a sender whose address another new file took meanwhile ends up in that
file, not in a second one.

Real transactions (a test's own would put intake inside it), so PostgreSQL only.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sportello.core.models import OutboxMessage
from sportello.customers.models import Customer, Identity
from sportello.tickets import intake
from sportello.tickets.models import Ticket

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgresql(settings, tmp_path):  # type: ignore[no-untyped-def]
    if connection.vendor != "postgresql":
        pytest.skip("one statement without a transaction is the PostgreSQL path")
    settings.DATA_DIR = tmp_path  # the API token stamp: this test's own
    # As in production: the events' delivery waits for a worker (tests deliver them at once).
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def body(email: str, name: str) -> dict[str, Any]:
    return {
        "subject": "Screen arrived broken",
        "body_text": f"Order 1234 of {name or 'mine'} arrived with a cracked screen.",
        "customer": {"name": name, "email": email},
        "tags": ["damaged", "order"],
    }


def create(api: Any, email: str, name: str = "Rosa Blue") -> tuple[list[str], dict[str, Any]]:
    with CaptureQueriesContext(connection) as captured:
        response = api.post("/tickets", body(email, name))
    assert response.status_code == 201, response.content
    return [query["sql"] for query in captured.captured_queries], response.json()


def warm_up(api: Any) -> None:
    """The token's first use; the lookups read once (the first create makes the tags, which
    bumps their version, so the second reads them again, and the organizations' domains)."""
    for n in range(2):
        create(api, f"warm.up.{n}@example.org", name="Warm Up")


def test_a_new_senders_ticket_is_stored_whole_in_two_statements_without_a_transaction(as_agent, agent):
    warm_up(as_agent)
    sql, answer = create(as_agent, "rosa@example.org")
    assert len(sql) == 2 and not any(s in ("BEGIN", "COMMIT") or s.startswith("SAVEPOINT") for s in sql), sql
    ticket = Ticket.objects.select_related("customer").get(number=answer["number"])
    customer = ticket.customer
    assert answer["customer"] == {"id": customer.pk, "name": "Rosa Blue"}
    assert [(i.kind, i.value, i.verified) for i in customer.identities.all()] == [("email", "rosa@example.org", False)]
    assert sorted(ticket.tags.values_list("name", flat=True)) == ["damaged", "order"] == answer["tags"]
    entry = ticket.entries.get()
    assert entry.author_customer_id == customer.pk and "cracked screen" in entry.body_text
    assert entry.metadata["recorded_by"]["id"] == agent.pk
    for words in ("Rosa cracked", "rosa@example.org", "Rosa Blue"):
        found = as_agent.get("/search", {"q": words}).json()["items"]
        assert [item["number"] for item in found] == [ticket.number], words
    events = OutboxMessage.objects.order_by("-pk").first()
    assert events is not None and events.state == OutboxMessage.State.PENDING
    assert [e["name"] for e in events.payload["events"]] == ["entry.added", "ticket.created"]
    assert {e["ticket_id"] for e in events.payload["events"]} == {ticket.pk}


def test_a_known_sender_with_nothing_new_is_two_statements_too(as_agent):
    warm_up(as_agent)
    _sql, first = create(as_agent, "rosa@example.org")
    sql, second = create(as_agent, "rosa@example.org")
    assert len(sql) == 2 and "COMMIT" not in sql, sql
    assert second["customer"]["id"] == first["customer"]["id"] and Customer.objects.count() == 3


def test_a_known_nameless_sender_gets_her_name_in_a_transaction(as_agent):
    _sql, first = create(as_agent, "rosa@example.org", name="")
    assert Customer.objects.get().name == ""
    sql, second = create(as_agent, "rosa@example.org", name="Rosa Blue")
    assert "COMMIT" in sql  # her file changes too: the transaction's way
    assert second["customer"] == {"id": first["customer"]["id"], "name": "Rosa Blue"}
    assert Customer.objects.get().name == "Rosa Blue"


def test_an_address_taken_after_the_look_up_leaves_one_file_and_no_half_ticket(as_agent, monkeypatch):
    """Another new sender's ticket stored the address between this create's look-up and its
    statement (PostgreSQL makes the statement wait for that commit, then refuses the address):
    the statement writes nothing and the create goes the transaction's way, into her file."""
    _sql, first = create(as_agent, "rosa@example.org")
    tickets_before = Ticket.objects.count()
    real = intake._new_ticket_head
    heads: list[intake._Head] = []

    def look_up_that_missed_her(pairs: list[tuple[str, str]]) -> intake._Head:
        head = real(pairs)
        if not heads:  # the first look-up ran before her file existed
            head = intake._Head(head.number, head.stamp, head.ticket_id, head.entry_id, head.customer_id, [])
        heads.append(head)
        return head

    monkeypatch.setattr(intake, "_new_ticket_head", look_up_that_missed_her)
    _sql, second = create(as_agent, "rosa@example.org")
    assert len(heads) == 2  # the refused statement, then the look-up again
    assert second["customer"]["id"] == first["customer"]["id"]
    assert Customer.objects.count() == 1 and Identity.objects.count() == 1
    assert Ticket.objects.count() == tickets_before + 1
    assert not Ticket.objects.filter(number=heads[0].number).exists()  # nothing of the refused one
    assert Ticket.objects.get(number=second["number"]).customer_id == first["customer"]["id"]
