"""Near-static rows (built-in statuses, organizations' mail domains, tags by name) kept per process.

Intake reads them on every message; they change a few times a year. Each process keeps what it
read, stamped with the version it was read at. The version is a random number in a row of the
counters table (`core_counter`, name `lookups`), written in the same transaction as any save or
delete of those rows (model signals, so the admin and the shell bump it too), so:

- a change that commits is seen by every process at its next lookup, and a change that is rolled
  back (a failed request, a test) leaves the version as it was, so no process trusts a row that
  never existed;
- reading the version costs no statement of its own: intake reads it with the ticket number
  (`core.numbers.next_number_and_stamp`), in the statement it runs anyway, and passes it on.

A lookup given no version (`stamp=None`) reads the database, as before.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import connection
from django.db.models.signals import post_delete, post_migrate, post_save

STAMP = "lookups"  # the counter row that holds the version
T = TypeVar("T")

# (version, values read at it); replaced whole, so threads never see a half-cleared dict.
_current: tuple[int | None, dict[str, Any]] = (None, {})


def cached(key: str, stamp: int | None, load: Callable[[], T]) -> T:
    """`load()`'s value, read once per process for the version `stamp` (None: always read)."""
    global _current
    if stamp is None:
        return load()
    version, values = _current
    if version != stamp:
        values = {}
        _current = (stamp, values)
    try:
        return values[key]  # type: ignore[no-any-return]
    except KeyError:
        value = values[key] = load()
        return value


def bump(**_signal: Any) -> None:
    """Record that a near-static row changed (in the caller's transaction) and forget this
    process's copies."""
    global _current
    _current = (None, {})
    table = connection.ops.quote_name("core_counter")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (name, value) VALUES (%s, %s) "
            "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
            [STAMP, _new_version()],
        )


def ensure_stamp() -> int:
    """The version, its row made first when missing (a new or flushed database)."""
    table = connection.ops.quote_name("core_counter")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (name, value) VALUES (%s, %s) "
            f"ON CONFLICT (name) DO UPDATE SET value = {table}.value RETURNING value",
            [STAMP, _new_version()],
        )
        return int(cursor.fetchone()[0])


def forget(**_signal: Any) -> None:
    global _current
    _current = (None, {})


def _new_version() -> int:
    return secrets.randbelow(2**62) + 1


def connect() -> None:
    """Bump the version on every save and delete of the rows kept here (core's AppConfig.ready)."""
    from sportello.customers.models import Organization
    from sportello.tickets.models import Status, Tag

    for model in (Status, Organization, Tag):
        post_save.connect(bump, sender=model, dispatch_uid=f"lookups-save-{model._meta.label}")
        post_delete.connect(bump, sender=model, dispatch_uid=f"lookups-delete-{model._meta.label}")
    post_migrate.connect(forget, dispatch_uid="lookups-migrate")  # also sent after a test's flush
