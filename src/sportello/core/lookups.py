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

The agent UI's dropdowns (statuses, groups, categories, assignable agents) are kept the same way:
a page reads the version with `read_stamp()` (one short statement instead of one per dropdown).
Saving a user bumps the version only when it can change the agents' dropdown (an assignable
agent's name, role or active flag, or a user becoming or ceasing to be one), so a sign-in
(`last_login`) or a new customer does not make every process read everything again.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import connection
from django.db.models.signals import post_delete, post_init, post_migrate, post_save

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


def read_stamp() -> int:
    """The version, read with a plain SELECT (no write on a page view); made when missing."""
    table = connection.ops.quote_name("core_counter")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT value FROM {table} WHERE name = %s", [STAMP])
        row = cursor.fetchone()
    return ensure_stamp() if row is None or row[0] is None else int(row[0])


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


def known_stamp() -> int | None:
    """The version this process last read (None: none since a change it made or a flush), no query."""
    return _current[0]


def forget(**_signal: Any) -> None:
    global _current
    _current = (None, {})


def _new_version() -> int:
    return secrets.randbelow(2**62) + 1


# A user's fields that the agents' dropdown shows or filters on.
USER_FIELDS = ("username", "first_name", "last_name", "role", "is_active")
_UNKNOWN = object()  # a field deferred when the user was read


def _user_fields(user: Any) -> tuple[Any, ...]:
    values = user.__dict__  # never the attribute: a deferred field would cost a query
    return tuple(values.get(name, _UNKNOWN) for name in USER_FIELDS)


def _assignable(fields: tuple[Any, ...]) -> bool:
    """Whether a user with these fields is (or, some unknown, may be) in the agents' dropdown."""
    from sportello.accounts.models import Role

    role, is_active = fields[3], fields[4]
    return _UNKNOWN in (role, is_active) or (bool(is_active) and role in (Role.AGENT, Role.ADMIN))


def _user_read(instance: Any, **_signal: Any) -> None:
    instance._lookups_fields = _user_fields(instance)


def _user_saved(instance: Any, created: bool = False, update_fields: Any = None, **signal: Any) -> None:
    if update_fields is not None and not set(update_fields) & set(USER_FIELDS):
        return  # e.g. the sign-in's last_login
    now = _user_fields(instance)
    before = getattr(instance, "_lookups_fields", None)
    instance._lookups_fields = now
    if created:
        changed = _assignable(now)  # a new customer is no agent: nothing to forget
    else:
        changed = (before != now or _UNKNOWN in now) and (before is None or _assignable(before) or _assignable(now))
    if changed:
        bump(**signal)


def _user_deleted(instance: Any, **signal: Any) -> None:
    if _assignable(getattr(instance, "_lookups_fields", (_UNKNOWN,) * len(USER_FIELDS))):
        bump(**signal)


def connect() -> None:
    """Bump the version on every save and delete of the rows kept here (core's AppConfig.ready)."""
    from sportello.accounts.models import Group, User
    from sportello.customers.models import Organization
    from sportello.tickets.models import Category, Status, Tag

    post_init.connect(_user_read, sender=User, dispatch_uid="lookups-init-user")
    post_save.connect(_user_saved, sender=User, dispatch_uid="lookups-save-user")
    post_delete.connect(_user_deleted, sender=User, dispatch_uid="lookups-delete-user")
    for model in (Status, Organization, Tag, Group, Category):
        post_save.connect(bump, sender=model, dispatch_uid=f"lookups-save-{model._meta.label}")
        post_delete.connect(bump, sender=model, dispatch_uid=f"lookups-delete-{model._meta.label}")
    post_migrate.connect(forget, dispatch_uid="lookups-migrate")  # also sent after a test's flush
