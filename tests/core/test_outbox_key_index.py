"""An outbox row without a key (every event batch's) costs no key index entry; a key stays unique."""

from __future__ import annotations

import pytest
from django.db import connection

from sportello.core import outbox
from sportello.core.models import OutboxMessage

pytestmark = pytest.mark.django_db


def key_indexes() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = %s AND indexdef LIKE %s",
            [OutboxMessage._meta.db_table, "%(key%"],
        )
        return [row[0] for row in cursor.fetchall()]


def test_every_index_of_the_key_leaves_rows_without_one_out():
    if connection.vendor != "postgresql":
        pytest.skip("read from PostgreSQL's catalogue")
    indexes = key_indexes()
    assert len(indexes) == 1 and "UNIQUE" in indexes[0] and "WHERE (key IS NOT NULL)" in indexes[0], indexes


def test_a_key_is_written_once_and_rows_without_one_any_number_of_times():
    first = outbox.put("test.kind", {"n": 1}, key="test:1")
    assert outbox.put("test.kind", {"n": 2}, key="test:1").pk == first.pk
    assert outbox.put_keyed("test.kind", {"test:1": {"n": 3}, "test:2": {"n": 4}}) != []
    outbox.put("test.kind", {"n": 5})
    outbox.put("test.kind", {"n": 6})
    assert sorted(OutboxMessage.objects.values_list("key", flat=True), key=str) == [None, None, "test:1", "test:2"]
