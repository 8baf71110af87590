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
from contextlib import closing
from pathlib import Path

import pytest

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
