"""A ticket created with no transaction open (the API's create, PostgreSQL): a new sender's in ONE
statement that commits by itself (its first part takes the number and keys only when the cached
lookups are current and none of her addresses is known), a known sender's in two (the look-up,
then every row). What a user notices is that every row is there and right, that reference
numbers run on without gaps whichever way a create went, and that a sender whose address another
new file took meanwhile ends up in that file, not in a second one.

Real transactions (a test's own would put intake inside it), so PostgreSQL only.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.test.utils import CaptureQueriesContext

from sportello.core.models import OutboxMessage
from sportello.customers.models import Customer, Identity
from sportello.tickets import intake
from sportello.tickets.models import Ticket
from tests.waiting import wait_for

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


def test_a_new_senders_ticket_is_stored_whole_in_one_statement_without_a_transaction(as_agent, agent):
    warm_up(as_agent)
    sql, answer = create(as_agent, "rosa@example.org")
    assert len(sql) == 1 and sql[0].startswith("WITH "), sql
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


def test_a_known_sender_with_nothing_new_is_two_statements_and_takes_no_number_twice(as_agent):
    warm_up(as_agent)
    _sql, first = create(as_agent, "rosa@example.org")
    sql, second = create(as_agent, "rosa@example.org")
    assert len(sql) == 2 and "COMMIT" not in sql, sql
    assert second["customer"]["id"] == first["customer"]["id"] and Customer.objects.count() == 3
    # The first statement found her file: it wrote nothing and took no number of its own.
    assert second["number"] == first["number"] + 1
    ticket = Ticket.objects.get(number=second["number"])
    assert ticket.entries.get().author_customer_id == first["customer"]["id"]
    assert sorted(ticket.tags.values_list("name", flat=True)) == ["damaged", "order"]


def test_a_process_whose_senders_write_again_looks_them_up_first(as_agent):
    """The one statement builds every row before it knows whether the sender is new; for a known
    sender that work is thrown away. Once more than a quarter of the last senders were known,
    a create looks the sender up first (the two statements' way, nothing built twice); when new
    senders come again, it goes back to one statement."""
    warm_up(as_agent)
    create(as_agent, "rosa@example.org")
    ways = [create(as_agent, "rosa@example.org")[0][0].split(" ", 1)[0] for _ in range(4)]
    assert ways == ["WITH", "WITH", "SELECT", "SELECT"]  # tried twice, then the look-up
    for n in range(9):  # then 12 of the last 16 senders were new, 4 known: a quarter
        create(as_agent, f"new.{n}@example.org")
    sql, _answer = create(as_agent, "new.again@example.org")
    assert len(sql) == 1, sql
    assert Customer.objects.filter(identities__value="rosa@example.org").count() == 1
    numbers = sorted(Ticket.objects.values_list("number", flat=True))
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))  # none lost either way


def test_lookups_changed_by_another_process_are_read_again_before_anything_is_written(as_agent):
    """Another process renamed the New status (its save bumps the lookups' version): this
    process's copy is stale, so the one statement writes nothing and the create goes on with
    what the database holds now, its ticket showing the status as renamed."""
    warm_up(as_agent)
    _sql, first = create(as_agent, "first@example.org")
    with connection.cursor() as cursor:  # as the other process's save does, behind this one's back
        cursor.execute("UPDATE tickets_status SET name = 'Fresh' WHERE slug = 'new'")
        cursor.execute("UPDATE core_counter SET value = value + 1 WHERE name = 'lookups'")
    sql, answer = create(as_agent, "second@example.org")
    # The one statement (it wrote nothing), the lookups read again, then every row in one more.
    assert sql[0].startswith("WITH k AS") and sql[-1].startswith("WITH w0 AS"), sql
    assert all(query.startswith("SELECT") for query in sql[1:-1]), sql
    assert answer["status"]["name"] == "Fresh" and answer["number"] == first["number"] + 1
    ticket = Ticket.objects.select_related("customer").get(number=answer["number"])
    assert ticket.customer.name == "Rosa Blue" and ticket.customer.identities.get().value == "second@example.org"
    assert Customer.objects.filter(identities__value="second@example.org").count() == 1
    assert [item["number"] for item in as_agent.get("/search", {"q": "second@example.org"}).json()["items"]] == [
        ticket.number
    ]
    sql, _answer = create(as_agent, "third@example.org")  # the new version is this process's now
    assert len(sql) == 1, sql


def test_a_document_near_its_cap_is_cut_as_a_rebuild_cuts_it(as_agent):
    """The one statement joins the number to the document in SQL; where the cut depends on the
    number's length it is not used, and the stored document is the one a rebuild makes."""
    from sportello.search.backend import DOCUMENT_CAP, build_document

    warm_up(as_agent)
    long_body = {**body("long@example.org", "Rosa Blue"), "body_text": "word " * (DOCUMENT_CAP // 5)}
    with CaptureQueriesContext(connection) as captured:
        response = as_agent.post("/tickets", long_body)
    assert response.status_code == 201, response.content
    assert len(captured.captured_queries) == 2
    ticket = Ticket.objects.get(number=response.json()["number"])
    with connection.cursor() as cursor:
        cursor.execute("SELECT body FROM search_ticketdocument WHERE ticket_id = %s", [ticket.pk])
        stored = cursor.fetchone()[0]
    assert stored == build_document(ticket.pk) and len(stored) <= DOCUMENT_CAP + 100


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
    monkeypatch.setattr(intake, "_open_new_sender", lambda *args: None)  # the two statements' way
    _sql, second = create(as_agent, "rosa@example.org")
    assert len(heads) == 2  # the refused statement, then the look-up again
    assert second["customer"]["id"] == first["customer"]["id"]
    assert Customer.objects.count() == 1 and Identity.objects.count() == 1
    assert Ticket.objects.count() == tickets_before + 1
    assert not Ticket.objects.filter(number=heads[0].number).exists()  # nothing of the refused one
    assert Ticket.objects.get(number=second["number"]).customer_id == first["customer"]["id"]


def test_a_new_sender_whose_address_a_concurrent_create_takes_ends_up_in_that_file(as_agent):
    """Another request stores the same new address while this create's one statement runs: the
    statement found no such address, so it inserts hers and waits on the unique index for the
    other transaction; when that commits, the statement is refused whole, and the create goes the
    transaction's way, into the other file. No half ticket, one file."""
    warm_up(as_agent)
    tickets_before = Ticket.objects.count()
    answers: list[Any] = []
    failures: list[BaseException] = []
    other = connections.create_connection(DEFAULT_DB_ALIAS)  # the other request's own connection
    other.set_autocommit(False)
    with other.cursor() as cursor:
        cursor.execute(
            "INSERT INTO customers_customer (name, language, notes, custom_fields, created_at, updated_at) "
            "VALUES ('Rosa (by phone)', 'en', '', '{}', now(), now()) RETURNING id"
        )
        theirs = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO customers_identity (customer_id, kind, value, undeliverable, verified, created_at) "
            "VALUES (%s, 'email', 'rosa@example.org', false, false, now())",
            [theirs],
        )

    def creating() -> None:
        try:
            answers.append(create(as_agent, "rosa@example.org"))
        except BaseException as exc:  # reported by the test thread
            failures.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=creating)
    thread.start()

    def waits_for_the_other() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'transactionid' AND NOT granted")
            return bool(cursor.fetchone()[0]) or bool(failures) or bool(answers)

    try:
        wait_for(waits_for_the_other, "the create's statement waits for the other transaction")
        assert not answers and not failures, (answers, failures)
    finally:
        other.commit()
        other.close()
    thread.join(120)
    assert not failures, failures
    sql, answer = answers[0]
    assert sql[0].startswith("WITH k AS") and "COMMIT" in sql  # refused, then the transaction's way
    assert answer["customer"] == {"id": theirs, "name": "Rosa (by phone)"}
    assert Customer.objects.filter(identities__value="rosa@example.org").count() == 1
    assert Identity.objects.filter(value="rosa@example.org").count() == 1
    assert Ticket.objects.count() == tickets_before + 1
    assert Ticket.objects.get(number=answer["number"]).entries.get().author_customer_id == theirs
