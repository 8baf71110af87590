"""The lean write path of a ticket create: what it costs in statements, and that what it no longer
reads back (token, statuses, organizations, tags, the new rows) is still right.

Statements are counted from the request to its answer. The test's own transaction never commits,
so the event listeners (they run after commit, or in a worker) are not counted; nor are the
SAVEPOINT and RELEASE that the test's transaction turns intake's own transaction into.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from sportello.customers.models import Customer, Identity, Organization
from sportello.customers.services import Sender, find_or_create_customer
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import Tag, Ticket
from tests.api.conftest import Api
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _own_token_stamp(settings, tmp_path):  # type: ignore[no-untyped-def]
    """The API token stamp is a file in the data directory (no Redis here), shared by every test
    process of the checkout: other processes' saves of users would make the token be read again."""
    settings.DATA_DIR = tmp_path


def body(email: str, **extra: Any) -> dict[str, Any]:
    return {
        "subject": "Screen arrived broken",
        "body_text": "Order 1234 arrived with a broken screen.",
        "customer": {"name": "Rosa Blue", "email": email},
        "tags": ["damaged", "order"],
        **extra,
    }


def statements(api: Api, email: str, **extra: Any) -> tuple[list[str], dict[str, Any]]:
    with CaptureQueriesContext(connection) as captured:
        response = api.post("/tickets", body(email, **extra))
    assert response.status_code == 201, response.content
    sql = [query["sql"] for query in captured.captured_queries]
    return [s for s in sql if not s.startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))], response.json()


def warm_up(api: Api) -> None:
    """The token's first use; the lookups read once (the first create makes the tags, which
    bumps their version, so the second reads them again)."""
    for _ in range(2):
        assert api.post("/tickets", body("rosa@example.org")).status_code == 201


def test_a_create_for_a_known_customer_takes_2_statements_on_postgresql_8_on_sqlite(as_agent):
    warm_up(as_agent)
    sql, answer = statements(as_agent, "rosa@example.org")
    assert len(sql) <= (2 if connection.vendor == "postgresql" else 8), "\n".join(sql)
    assert answer["customer"]["name"] == "Rosa Blue" and answer["tags"] == ["damaged", "order"]


def test_a_create_for_a_new_customer_takes_3_statements_on_postgresql(as_agent):
    warm_up(as_agent)
    statements(as_agent, "new.person@example.org")  # the first new customer reads the domains
    sql, answer = statements(as_agent, "another.person@example.org")
    # On PostgreSQL: the look-up, the customer with its address (a data-modifying WITH), and
    # every other row in one more.
    assert len(sql) <= (3 if connection.vendor == "postgresql" else 9), "\n".join(sql)
    customer = Customer.objects.get(pk=answer["customer"]["id"])
    assert [(i.kind, i.value) for i in customer.identities.all()] == [("email", "another.person@example.org")]


@pytest.mark.parametrize("name", ["Rosa Blue", ""])
def test_the_answer_is_the_ticket_as_stored(as_agent, first_level, name):
    as_agent.post("/tickets", body("warm@example.org"))
    created = as_agent.post(
        "/tickets",
        body("rosa@example.org", group=first_level.pk, priority=3)
        | {"customer": {"name": name, "email": "Rosa@Example.org"}},
    )
    assert created.status_code == 201
    answer = created.json()
    stored = as_agent.get(f"/tickets/{answer['number']}").json()
    assert answer == stored
    assert answer["customer"]["name"] == (name or "rosa@example.org")
    assert answer["status"]["slug"] == "new" and answer["group"]["id"] == first_level.pk


@pytest.mark.parametrize(
    "extra",
    [
        {"direction": "outbound"},  # a mail to the customer: no longer the lean path
        {"assignee": "agent", "channel": "phone"},
        {"tags": []},
    ],
)
def test_every_create_answers_what_a_read_answers_in_the_same_order(as_agent, agent, first_level, extra):
    if extra.get("assignee") == "agent":
        extra = {**extra, "assignee": agent.pk}
    created = as_agent.post("/tickets", body("rosa@example.org", group=first_level.pk, **extra))
    assert created.status_code == 201, created.content
    answer = created.json()
    stored = as_agent.get(f"/tickets/{answer['number']}").json()
    assert list(answer) == list(stored) and answer == stored
    assert created["Content-Type"] == "application/json; charset=utf-8"


def test_the_search_document_holds_every_address_of_a_known_customer(as_agent):
    """The document is built in memory: a known customer's other addresses must be in it too."""
    customer = find_or_create_customer(Sender(name="Rosa", email="rosa@example.org", phone="+39 06 1234 5678"))
    number = as_agent.post("/tickets", body("rosa@example.org")).json()["number"]
    found = as_agent.get("/search", {"q": "+390612345678"}).json()["items"]
    assert [item["number"] for item in found] == [number]
    assert Ticket.objects.get(number=number).customer == customer


def test_a_new_organization_domain_counts_at_once(as_agent):
    as_agent.post("/tickets", body("first@acme.example"))  # the domains are read and kept
    acme = Organization.objects.create(name="Acme", domain="acme.example")
    number = as_agent.post("/tickets", body("second@acme.example")).json()["number"]
    assert Ticket.objects.get(number=number).customer.organization == acme


def test_a_renamed_or_deleted_tag_is_not_used_from_memory(as_agent):
    as_agent.post("/tickets", body("rosa@example.org", tags=["damaged", "vip"]))
    Tag.objects.filter(name="vip").get().delete()
    Tag.objects.filter(name="damaged").update(name="broken")  # an UPDATE sends no signal…
    Tag.objects.get(name="broken").save()  # …the admin's save does
    answer = as_agent.post("/tickets", body("rosa@example.org", tags=["damaged", "vip"])).json()
    assert answer["tags"] == ["damaged", "vip"]
    ticket = Ticket.objects.get(number=answer["number"])
    assert sorted(ticket.tags.values_list("name", flat=True)) == ["damaged", "vip"]
    assert Tag.objects.filter(name="broken").exists()


def test_a_change_that_was_rolled_back_is_not_kept_in_memory():
    def intake(email: str) -> Ticket:
        return ingest(Inbound(channel="api", sender=Sender(email=email), body_text="Hello")).ticket

    intake("warm@example.org")
    with pytest.raises(RuntimeError), transaction.atomic():
        Organization.objects.create(name="Ghost", domain="ghost.example")
        assert intake("one@ghost.example").customer.organization is not None
        raise RuntimeError("roll back")
    assert intake("two@ghost.example").customer.organization is None


# --- Two intakes of one new address at once (PostgreSQL: real concurrent transactions) ------------


@pytest.mark.django_db(transaction=True)
def test_two_intakes_of_one_new_address_make_one_customer():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one writer at a time")
    from django.db import connections

    sender = Sender(name="Rosa", email="race@example.org", phone="+390611112222")
    first_may_commit = threading.Event()
    results: dict[str, Customer] = {}
    failures: list[BaseException] = []

    def first() -> None:
        try:
            with transaction.atomic():
                results["first"] = find_or_create_customer(sender)
                first_may_commit.wait(120)
        except BaseException as exc:  # reported by the test thread
            failures.append(exc)
        finally:
            connections.close_all()

    def second() -> None:
        try:
            with transaction.atomic():
                results["second"] = find_or_create_customer(Sender(email="race@example.org", phone="+390633334444"))
        except BaseException as exc:
            failures.append(exc)
        finally:
            connections.close_all()

    one = threading.Thread(target=first)
    one.start()
    wait_for(lambda: "first" in results or failures, "the first intake holds its new customer")
    two = threading.Thread(target=second)
    two.start()

    def second_waits_on_the_first() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            return bool(cursor.fetchone()[0]) or bool(failures)

    wait_for(second_waits_on_the_first, "the second intake waits for the first one's address")
    first_may_commit.set()
    one.join(120)
    two.join(120)
    assert not failures, failures
    assert results["first"].pk == results["second"].pk
    assert Customer.objects.count() == 1
    assert sorted(Identity.objects.values_list("value", flat=True)) == [
        "+390611112222",
        "+390633334444",
        "race@example.org",
    ]


def test_a_create_with_its_commit_hooks_is_these_statements(as_agent, settings, django_capture_on_commit_callbacks):
    """The whole request of a new customer's ticket, the work after its commit included (the
    events' delivery task, on the database backend). Listed table by table, so that a statement
    more is seen as which. A second create while the first one's task waits for a worker only
    looks that task up: it will deliver the second's events too."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    warm_up(as_agent)
    statements(as_agent, "new.person@example.org")  # the first new customer reads the domains
    postgresql = connection.vendor == "postgresql"
    in_the_transaction = [
        "core_counter",  # the reference number (the sequence) and the lookups' version in one
        "customers_identity",  # the sender's addresses and their customers' other addresses
        "customers_customer",
        "customers_identity",
        "tickets_ticket",
        "tickets_ticket_tags",
        "tickets_entry",
        "search_fts",
        "core_outboxmessage",  # the events, delivered by a worker
    ]
    if postgresql:
        in_the_transaction = [
            # The reference number, the lookups' version, the new rows' keys and the sender's
            # customers with every address of theirs, in one.
            "core_counter",
            "customers_customer",  # the customer with its addresses (a data-modifying WITH)
            # The ticket, its entry, its tags, its search document and its events' outbox row.
            "core_outboxmessage",
        ]
    after_the_commit = [
        'SELECT 1 FROM "django_tasks_database_dbtaskresult"',  # a delivery task waiting? none yet
        'INSERT INTO "django_tasks_database_dbtaskresult"',  # so the worker's task
    ]
    for email, expected in (
        ("another.person@example.org", in_the_transaction + after_the_commit),
        ("third.person@example.org", in_the_transaction + after_the_commit[:1]),
    ):
        with CaptureQueriesContext(connection) as captured, django_capture_on_commit_callbacks(execute=True):
            response = as_agent.post("/tickets", body(email))
        assert response.status_code == 201, response.content
        sql = [q["sql"] for q in captured.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
        assert len(sql) == len(expected), "\n".join(sql)
        for statement, table in zip(sql, expected, strict=True):
            assert table in statement, (table, statement)
        if postgresql:
            for table in ("customers_identity", "tickets_ticket", "tickets_entry", "tickets_ticket_tags"):
                assert table in sql[0 if table == "customers_identity" else 2]
            assert "search_ticketdocument" in sql[2]
