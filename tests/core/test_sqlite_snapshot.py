"""A new installation's SQLite database, started from the snapshot (core/snapshot.py) by `sportello
run`, is the database `migrate` makes from nothing: the same tables, columns, indexes and full-text
tables, the same migrations recorded, the same rows seeded."""

from __future__ import annotations

import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import pytest

from sportello.core import snapshot
from tests.processes import CLI, sportello_env

LOAD_AND_MIGRATE = (
    "import django; django.setup(); from django.core.management import call_command; "
    "from sportello.core import snapshot; print('loaded' if snapshot.load_if_empty() else 'migrated'); "
    "call_command('migrate', interactive=False, verbosity=0)"
)
REGENERATE = "the snapshot no longer matches the migrations: run `sportello sqlite_snapshot` and commit it"


def _contents(path: Path) -> tuple[set[tuple[str, ...]], dict[str, int], set[tuple[str, ...]]]:
    with closing(sqlite3.connect(path)) as db:
        schema = set(db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name != 'sqlite_sequence'"))
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        counts = {name: db.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in tables}
        kinds = set(db.execute("SELECT app_label, model FROM django_content_type"))
        kinds |= {("permission", codename) for (codename,) in db.execute("SELECT codename FROM auth_permission")}
        kinds |= {("status", key) for (key,) in db.execute("SELECT slug FROM tickets_status")}
    counts.pop("sqlite_sequence", None)
    return schema, counts, kinds


@pytest.mark.own_sqlite
def test_a_database_from_the_snapshot_is_the_one_migrate_makes(tmp_path: Path, migrated_sqlite: Path):
    env = sportello_env(tmp_path)
    done = subprocess.run([*CLI[:1], "-c", LOAD_AND_MIGRATE], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["loaded"], REGENERATE

    from_snapshot, migrated = _contents(tmp_path / "sportello.sqlite3"), _contents(migrated_sqlite)
    assert from_snapshot[0] == migrated[0]  # every table, index and full-text table, as written
    assert from_snapshot[1] == migrated[1]  # rows per table: migrations recorded, seeded rows
    assert from_snapshot[2] == migrated[2]  # content types, permissions, the built-in statuses


def test_the_snapshot_is_refused_once_a_migration_it_recorded_changed():
    text = snapshot.SNAPSHOT.read_text()
    assert snapshot.current(text), REGENERATE
    line = next(line for line in text.splitlines() if line.startswith(snapshot.HEADER + "tickets "))
    edited = text.replace(line, line[:-8] + "00000000")
    assert not snapshot.current(edited)


@pytest.mark.django_db
def test_an_installation_with_tables_is_never_loaded_over():
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("the snapshot is for the embedded SQLite database only")
    assert snapshot.load_if_empty() is False
