"""`sportello import zendesk` killed with SIGKILL in the middle of a batch, then run again.

The in-process tests (test_zendesk.py and the others) interrupt a batch with an exception, which
unwinds through Python. This one kills a real process while it waits for the fake server in the
middle of a batch's transaction: nothing unwinds, the database file is left as the kill found it,
and the next run must finish the import from the saved cursor with every ticket and every comment
exactly once.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from tests.importers.common import Gate, serve
from tests.importers.zendesk_server import EMAIL, TOKEN, ZendeskServer
from tests.processes import BOUND, CLI, copy_database, sportello_env
from tests.waiting import wait_for

pytestmark = pytest.mark.own_sqlite

GENERATED = 40  # tickets besides the fixture's, 3 comments each
PAGE = 10  # tickets a page of Zendesk's export: a batch, committed at each page's checkpoint


@pytest.fixture
def zendesk_paged() -> Iterator[ZendeskServer]:
    server = ZendeskServer(page_size=PAGE)
    server.generate(GENERATED, comments=3)
    yield from serve(server)


def rows(database: Path, sql: str) -> list[tuple]:  # type: ignore[type-arg]
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)) as db:
        return db.execute(sql).fetchall()


def importing(server: ZendeskServer, tmp_path: Path, report: str) -> list[str]:
    return [
        *CLI,
        "import",
        "zendesk",
        "--url",
        server.url,
        "--email",
        EMAIL,
        "--token",
        TOKEN,
        "--no-progress",
        "--report",
        str(tmp_path / report),
    ]


def test_an_import_killed_with_sigkill_mid_batch_finishes_on_the_next_run_exactly_once(
    zendesk_paged: ZendeskServer, migrated_sqlite: Path, tmp_path: Path
) -> None:
    server = zendesk_paged
    copy_database(migrated_sqlite, tmp_path)
    env = sportello_env(tmp_path)
    database = tmp_path / "sportello.sqlite3"
    # The tickets that come (the fixture's deleted one does not) and their comments.
    wanted = {t["id"]: len(server.comments[str(t["id"])]) for t in server.tickets if t.get("status") != "deleted"}
    # Two pages' threads pass, the third page's are held: the process waits in that batch.
    server.gate = gate = Gate(open_for=2 * PAGE + 3)
    log = (tmp_path / "first.log").open("w")
    process = subprocess.Popen(importing(server, tmp_path, "first.json"), env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(
            lambda: gate.holding or process.poll() is not None,
            "the import waiting for a held thread",
            bound=BOUND,
            progress=lambda: database.stat().st_size,
        )
        assert process.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
        process.kill()  # SIGKILL: no handler, no rollback, no report
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        gate.release()
        log.close()
    assert process.returncode == -9
    assert not (tmp_path / "first.json").exists()
    partial = rows(database, "SELECT number FROM tickets_ticket")
    partial_entries = rows(database, "SELECT count(*) FROM tickets_entry")[0][0]
    assert 0 < len(partial) < len(wanted)  # some pages committed, the held one not

    done = subprocess.run(importing(server, tmp_path, "second.json"), env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]

    per_ticket = dict(
        rows(
            database,
            "SELECT t.number, count(e.id) FROM tickets_ticket t LEFT JOIN tickets_entry e ON e.ticket_id = t.id "
            "GROUP BY t.number",
        )
    )
    assert per_ticket == wanted  # every ticket once, each with its whole thread once
    imported_ids = rows(
        database, "SELECT json_extract(metadata, '$.imported.id') FROM tickets_entry WHERE metadata LIKE '%imported%'"
    )
    assert len(imported_ids) == len({i for (i,) in imported_ids}) == sum(wanted.values())
    records = rows(
        database, "SELECT kind, count(*), count(DISTINCT local_id) FROM importers_importedrecord GROUP BY kind"
    )
    counted = {kind: (n, distinct) for kind, n, distinct in records}
    assert counted["ticket"] == (len(wanted), len(wanted))
    assert counted["comment"] == (sum(wanted.values()), sum(wanted.values()))
    report = json.loads((tmp_path / "second.json").read_text())
    assert report["counts"]["ticket"]["created"] == len(wanted) - len(partial)
    assert report["counts"]["comment"]["created"] == sum(wanted.values()) - partial_entries
    assert "tickets: " + str(len(wanted) - len(partial)) + " were created" in done.stdout
