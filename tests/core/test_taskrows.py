"""A task enqueued with core/taskrows.py's one statement is the row the database backend writes;
a delivery that a waiting one covers is not enqueued twice."""

from __future__ import annotations

import pytest

from sportello.core import taskrows
from sportello.core.tasks import deliver_events

pytestmark = pytest.mark.django_db

COMPARED = ("status", "args_kwargs", "priority", "task_path", "queue_name", "backend_name", "run_after",
            "worker_ids", "return_value", "exception_class_path", "traceback", "started_at", "finished_at")  # fmt: skip


@pytest.fixture
def database_backend(settings):  # type: ignore[no-untyped-def]
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


@pytest.mark.usefixtures("database_backend")
def test_the_row_is_the_backends_own():
    from django_tasks_db.models import DBTaskResult

    theirs = deliver_events.enqueue(43)  # from a later row: it does not cover 42
    taskrows.enqueue(deliver_events, 42)
    mine = DBTaskResult.objects.exclude(pk=theirs.id).get()
    stock = DBTaskResult.objects.get(pk=theirs.id)
    assert {name: getattr(mine, name) for name in COMPARED} == {name: getattr(stock, name) for name in COMPARED} | {
        "args_kwargs": {"args": [42], "kwargs": {}}
    }
    assert mine.enqueued_at >= stock.enqueued_at
    result = mine.task_result  # what the worker reads back to run it
    assert result.args == [42] and result.task.module_path == "sportello.core.tasks.deliver_events"
    assert list(DBTaskResult.objects.ready().order_by("enqueued_at").values_list("pk", flat=True)) == [
        stock.pk,
        mine.pk,
    ]


def test_another_backend_enqueues_as_usual(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    from django_tasks import default_task_backend

    taskrows.enqueue(deliver_events, 7)
    [result] = default_task_backend.results
    assert result.args == [7]


@pytest.mark.usefixtures("database_backend")
def test_a_waiting_delivery_from_an_earlier_row_covers_a_later_one():
    from django_tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    def firsts() -> list[int]:
        return sorted(args["args"][0] for args in DBTaskResult.objects.values_list("args_kwargs", flat=True))

    taskrows.enqueue(deliver_events, 10)
    taskrows.enqueue(deliver_events, 12)  # the waiting task from row 10 on will deliver row 12
    assert firsts() == [10]
    taskrows.enqueue(deliver_events, 5)  # an earlier row: not covered
    assert firsts() == [5, 10]
    DBTaskResult.objects.update(status=TaskResultStatus.RUNNING)  # a worker took them: they may be past row 12
    taskrows.enqueue(deliver_events, 12)
    assert firsts() == [5, 10, 12]
