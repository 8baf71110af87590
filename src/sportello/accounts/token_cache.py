"""API token → user, remembered per process for a short while, forgotten everywhere at once.

A client sending many requests would otherwise pay a token lookup on each. Each process keeps the
users of the tokens it saw for TOKEN_SECONDS, under a shared stamp; revoking a token, or any
change of a token or a user (deactivation, a new role), writes a new stamp, and every process
reads the token afresh at its next request.

The stamp is shared by every process using the same database: a key in the cache when the cache
is shared (Redis, production), else a small file in the data directory (the default one-machine
install, whose in-memory cache each process has for itself), named after the database. It is written when the change is
made and again after it commits, so no process keeps the state from before a committed change.
A stamp that cannot be read means nothing is remembered: tokens are read from the database.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models.signals import post_delete, post_save

if TYPE_CHECKING:
    from sportello.accounts.models import User

log = logging.getLogger("sportello.accounts")

TOKEN_SECONDS = 30
MAX_REMEMBERED = 10_000
STAMP_KEY = "sportello:api-token-stamp"
_PROCESS_LOCAL = ("django.core.cache.backends.locmem.LocMemCache", "django.core.cache.backends.dummy.DummyCache")


@dataclass
class Remembered:
    user: User
    token_id: int
    last_used_at: datetime | None
    until: float  # time.monotonic()
    stamp: str
    scopes: frozenset[str] = frozenset()
    expires_at: datetime | None = None  # checked on every request: time passing changes no stamp


_remembered: dict[str, Remembered] = {}
_lock = threading.Lock()


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def recall(hashed: str) -> Remembered | None:
    """What this process remembers of a token, when the shared stamp says it still holds."""
    found = _remembered.get(hashed)
    if found is None or found.until < time.monotonic():
        return None
    stamp = current_stamp()
    if stamp is None or stamp != found.stamp:
        return None
    user, stamp = _copy_of(found.user), found.stamp
    return Remembered(user, found.token_id, found.last_used_at, found.until, stamp, found.scopes, found.expires_at)


def _copy_of(user: User) -> User:
    """A copy of the user for one request (the request may set attributes on it): what
    `copy.copy` makes of a model instance, without its trip through pickling's protocol (which
    looks the model up by name), ~1% of an API create."""
    clone = object.__new__(type(user))
    state = user.__dict__.copy()
    state["_state"] = copy.copy(state["_state"])  # its fields cache is copied with it
    clone.__dict__.update(state)
    return clone


def remember(
    hashed: str,
    user: User,
    token_id: int,
    last_used_at: datetime | None,
    stamp: str | None,
    *,
    scopes: frozenset[str] = frozenset(),
    expires_at: datetime | None = None,
) -> None:
    """Keep a token's user; `stamp` is the one read BEFORE the token was read from the database."""
    if stamp is None:
        return
    with _lock:
        if len(_remembered) >= MAX_REMEMBERED:
            _remembered.clear()
        _remembered[hashed] = Remembered(
            copy.copy(user), token_id, last_used_at, time.monotonic() + TOKEN_SECONDS, stamp, scopes, expires_at
        )


def used(hashed: str, when: datetime) -> None:
    found = _remembered.get(hashed)
    if found is not None:
        found.last_used_at = when


def forget_tokens(**_signal: Any) -> None:
    """Every process reads tokens and users afresh from now on, and again once the caller's
    transaction commits (a revocation, a deactivation, any change of a token or a user)."""
    _new_stamp()
    transaction.on_commit(_new_stamp)


def _new_stamp() -> None:
    with _lock:
        _remembered.clear()
    value = secrets.token_hex(8)
    try:
        if _shared_cache():
            cache.set(_stamp_key(), value, None)
        else:
            path = Path(_stamp_file())
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f"{path.name}.{os.getpid()}.{value}")
            temporary.write_text(value)
            os.replace(temporary, path)  # a new file (inode) every time: readers compare its identity
    except Exception:
        # Not raised: a user's save (a sign-in) must not fail for it. Where the stamp cannot be
        # written it cannot be made either, so no process remembers tokens (see current_stamp).
        log.exception("accounts: could not write the API token stamp")


def current_stamp() -> str | None:
    """The shared stamp now; None when it cannot be read (then nothing is remembered)."""
    try:
        if _shared_cache():
            value = cache.get(_stamp_key())
            if value is None:  # never written, or evicted: write one so that it can be trusted
                cache.add(_stamp_key(), secrets.token_hex(8), None)
                value = cache.get(_stamp_key())
            return None if value is None else str(value)
        try:
            found = os.stat(_stamp_file())
        except FileNotFoundError:
            _new_stamp()
            found = os.stat(_stamp_file())
        return f"{found.st_ino}:{found.st_mtime_ns}"
    except Exception:
        log.warning("accounts: could not read the API token stamp; reading tokens from the database", exc_info=True)
        return None


def _shared_cache() -> bool:
    return settings.CACHES["default"]["BACKEND"] not in _PROCESS_LOCAL


def _database() -> str:
    """Which database the tokens are rows of: processes on one database share a stamp (a test
    process on its own test database has a stamp of its own)."""
    db = connection.settings_dict
    return _named(f"{connection.vendor}:{db.get('HOST') or ''}:{db.get('PORT') or ''}:{db.get('NAME') or ''}")


@functools.lru_cache(maxsize=16)
def _named(where: str) -> str:
    return hashlib.sha256(where.encode()).hexdigest()[:16]


def _stamp_key() -> str:
    return f"{STAMP_KEY}:{_database()}"


def _stamp_file() -> str:
    return _stamp_path(str(settings.DATA_DIR), _database())


@functools.lru_cache(maxsize=16)
def _stamp_path(data_dir: str, database: str) -> str:
    """Its path, as a string: built once (a Path joined on every request cost more than the stat)."""
    return os.path.join(data_dir, f"api-token-stamp-{database}")


def connect() -> None:
    """Any save or delete of a token or a user forgets the remembered tokens (core's AppConfig)."""
    from sportello.accounts.models import ApiToken, User

    for model in (ApiToken, User):
        post_save.connect(forget_tokens, sender=model, dispatch_uid=f"token-cache-save-{model._meta.label}")
        post_delete.connect(forget_tokens, sender=model, dispatch_uid=f"token-cache-delete-{model._meta.label}")
