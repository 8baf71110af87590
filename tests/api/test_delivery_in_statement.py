"""A new ticket's events reach the worker listeners though its statement, not a look-up after the
commit, enqueues their delivery (PostgreSQL with the database task backend), and a worker that
takes the waiting task meanwhile still delivers them.

Real transactions (the test's own would never commit), so PostgreSQL only; SQLite keeps the
look-up after the commit.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from sportello.core import events, taskrows
from sportello.core.models import OutboxMessage
from sportello.core.tasks import deliver_events
from tests.waiting import wait_for

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgresql_and_database_tasks(settings, tmp_path):  # type: ignore[no-untyped-def]
    if connection.vendor != "postgresql":
        pytest.skip("the delivery is enqueued in the statement on PostgreSQL only")
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.DATA_DIR = tmp_path  # the API token stamp: this test's own


def waiting_firsts() -> list[int]:
    from django_tasks_db.models import DBTaskResult

    rows = DBTaskResult.objects.filter(status="READY", task_path=deliver_events.module_path)
    return sorted(args["args"][0] for args in rows.values_list("args_kwargs", flat=True))


def body(email: str) -> dict[str, Any]:
    return {"subject": "Screen arrived broken", "body_text": "It is broken.", "customer": {"email": email}}


def test_a_new_ticket_enqueues_its_delivery_before_its_commit_and_nothing_after(as_agent):
    with CaptureQueriesContext(connection) as captured:
        first = as_agent.post("/tickets", body("rosa@example.org"))
    assert first.status_code == 201
    sql = [query["sql"] for query in captured.captured_queries]
    # The ticket's statement is the last (it commits by itself): no look-up of a task after it.
    assert 'INSERT INTO "tickets_ticket"' in sql[-1], "\n".join(sql)
    row = OutboxMessage.objects.get()
    assert row.state == OutboxMessage.State.PENDING and waiting_firsts() == [row.pk]

    # The next ticket's row is covered by that waiting task: no second one.
    assert as_agent.post("/tickets", body("luca@example.org")).status_code == 201
    assert OutboxMessage.objects.count() == 2 and waiting_firsts() == [row.pk]

    assert deliver_events.call(row.pk) == 2  # what the worker does with the task
    assert set(OutboxMessage.objects.values_list("state", flat=True)) == {OutboxMessage.State.DONE}


def test_a_worker_that_takes_the_task_waits_for_a_ticket_that_counted_on_it():
    from django_tasks_db.models import DBTaskResult

    taskrows.enqueue(deliver_events, 1)  # a delivery task waiting for a worker
    counted = threading.Event()
    may_commit = threading.Event()
    delivered: list[int] = []
    failures: list[BaseException] = []

    def new_ticket() -> None:
        try:
            with transaction.atomic():
                row = events.outbox_row(events.Event(events.TICKET_CREATED, ticket_id=1))
                assert row is not None and row.delivers
                with connection.cursor() as cursor:
                    cursor.execute(row.sql, row.params)
                    assert cursor.fetchone()[1] is False  # it counts on the waiting task
                counted.set()
                may_commit.wait(120)
        except BaseException as exc:  # reported by the test thread
            failures.append(exc)
        finally:
            connections.close_all()

    def worker() -> None:
        try:
            delivered.append(events.deliver_pending(1))
        except BaseException as exc:
            failures.append(exc)
        finally:
            connections.close_all()

    creating = threading.Thread(target=new_ticket)
    creating.start()
    wait_for(lambda: counted.is_set() or failures, "the new ticket's statement saw the waiting task")
    assert not failures, failures
    DBTaskResult.objects.update(status="RUNNING")  # a worker takes the task before the commit
    delivering = threading.Thread(target=worker)
    delivering.start()

    def worker_waits() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            return bool(cursor.fetchone()[0]) or bool(failures) or bool(delivered)

    wait_for(worker_waits, "the worker waits for the new ticket's transaction")
    assert delivered == [], "the worker read the outbox before the new ticket committed"
    may_commit.set()
    creating.join(120)
    delivering.join(120)
    assert not failures, failures
    assert delivered == [1]
    assert list(OutboxMessage.objects.values_list("state", flat=True)) == [OutboxMessage.State.DONE]


def test_a_listener_of_task_enqueued_hears_every_delivery(as_agent):
    """The statement's own enqueue sends no `task_enqueued`: with a listener connected, the
    delivery is enqueued the backend's way after the commit, and the listener hears it."""
    from django_tasks.signals import task_enqueued

    heard: list[str] = []

    def listener(sender: Any, task_result: Any, **kwargs: Any) -> None:
        heard.append(task_result.task.module_path)

    task_enqueued.connect(listener)
    try:
        assert as_agent.post("/tickets", body("marta@example.org")).status_code == 201
    finally:
        task_enqueued.disconnect(listener)
    row = OutboxMessage.objects.get()
    assert heard == [deliver_events.module_path] and waiting_firsts() == [row.pk]
    # Without it, the next ticket's statement finds that task waiting: nothing more is enqueued.
    assert as_agent.post("/tickets", body("piero@example.org")).status_code == 201
    assert len(heard) == 1 and OutboxMessage.objects.count() == 2 and waiting_firsts() == [row.pk]
