"""Sportello in processes of its own, on a SQLite file: the environment and a migrated database.

Tests that start `sportello` processes (serve, worker, shell) give them a SQLite file in the
test's folder. Migrating a new file costs about ten seconds of CPU, so it is done once per test
session (the xdist workers share it through a lock) and each test copies the result.

Such a test never touches the database the suite runs on, so the PostgreSQL leg would only run it
a second time: mark it `own_sqlite` and that leg skips it (tests/conftest.py).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from websockets.sync.client import ClientConnection, connect

from tests.servers import free_port
from tests.waiting import answering_or_ended, wait_for

CLI = [sys.executable, "-m", "sportello.cli"]


def sportello_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a `sportello` process whose data (and SQLite file) live in `tmp_path`."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}  # in-memory layer unless asked
    env |= {
        "DJANGO_SETTINGS_MODULE": "sportello.settings",
        "SPORTELLO_DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'sportello.sqlite3'}",
        "SPORTELLO_LOG_LEVEL": "WARNING",
        "SPORTELLO_TASK_BACKEND": "immediate",
        **extra,
    }
    return env


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """A SQLite file with every migration applied; copy it with `copy_database`, never write it."""
    root = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        root = root.parent  # shared by the xdist workers of this run
    path = root / "migrated.sqlite3"
    with (root / "migrated.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            building = root / "migrating.sqlite3"
            building.unlink(missing_ok=True)
            env = sportello_env(root / "migrating-data", DATABASE_URL=f"sqlite:///{building}")
            done = subprocess.run([*CLI, "migrate", "--verbosity", "0"], env=env, capture_output=True, text=True)
            assert done.returncode == 0, done.stderr[-3000:]
            _backup(building, root / "migrated.tmp")  # whole, whatever its journal mode left beside it
            (root / "migrated.tmp").rename(path)
    return path


def copy_database(migrated: Path, tmp_path: Path) -> None:
    """Put a copy of the migrated database where `sportello_env(tmp_path)` points."""
    _backup(migrated, tmp_path / "sportello.sqlite3")


def _backup(source: Path, target: Path) -> None:
    with closing(sqlite3.connect(source)) as reading, closing(sqlite3.connect(target)) as writing:
        reading.backup(writing)


BOUND = 120  # seconds; what takes well under one on a quiet machine: only a hang reaches it

SIGN_IN = """
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from sportello.accounts.models import Availability, Role, User
user = User.objects.create_user("anna", password="a-long-password-1", role=Role.{role},
                                availability=Availability.{availability})
session = SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.create()
print(session.session_key)
"""


def shell(env: dict[str, str], code: str) -> str:
    """Run `code` in `sportello shell` against the process database; the last word it printed ("": none)."""
    done = subprocess.run([*CLI, "shell", "-c", code], env=env, check=True, capture_output=True, text=True)
    return (done.stdout.split() or [""])[-1]


def signed_in(env: dict[str, str], *, role: str = "AGENT", availability: str = "OFFLINE") -> str:
    """A staff user "anna" (`role`, `availability`: the enums' member names) and the key of a
    session signed in as her, for the `sessionid` cookie."""
    return shell(env, SIGN_IN.format(role=role, availability=availability))


@contextmanager
def serving(env: dict[str, str], tmp_path: Path) -> Iterator[int]:
    """`sportello serve` (uvicorn, one worker) on a free port, answering /healthz; yields the port.
    Its output goes to `tmp_path / "serve.log"` (`serve_log` reads the end of it)."""
    port = free_port()
    with (tmp_path / "serve.log").open("w") as out:
        process = subprocess.Popen(
            [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        healthz = f"http://127.0.0.1:{port}/healthz"
        wait_for(answering_or_ended(process, healthz, BOUND), "sportello serve answering", bound=BOUND)
        assert process.poll() is None, "sportello serve ended:\n" + serve_log(tmp_path)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=BOUND)


def serve_log(tmp_path: Path) -> str:
    return (tmp_path / "serve.log").read_text()[-3000:]


def agent_socket(port: int, path: str, session: str) -> ClientConnection:
    """The websocket at `path` of the server on `port`, opened as the page of `session`'s browser."""
    return connect(
        f"ws://127.0.0.1:{port}{path}",
        origin=f"http://127.0.0.1:{port}",
        additional_headers={"Cookie": f"sessionid={session}"},
    )
