"""Production-style background work: tasks on Redis Queue, run by a real `sportello worker`.

A ticket is created in one process with SPORTELLO_TASK_BACKEND=rq; a separate worker process
takes the event delivery from Redis (a listener writes the acknowledgement), then its drain, and
writes the mail. Redis is the real server on
127.0.0.1:6379 (database 15, emptied first).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import service_or_skip, tcp_open
from tests.processes import copy_database, sportello_env

REDIS_URL = os.environ.get("SPORTELLO_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

CREATE = """
import django; django.setup()
from sportello.customers.services import Sender
from sportello.tickets.intake import Inbound, ingest
r = ingest(Inbound(channel="web", sender=Sender(name="Rq", email="rq@example.com"), subject="Queued", body_text="hi"))
print(r.ticket.number)
"""


@pytest.mark.own_sqlite
def test_acknowledgement_is_delivered_by_an_rq_worker(tmp_path: Path, migrated_sqlite: Path):
    service_or_skip("Redis", tcp_open("127.0.0.1", 6379))
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    env = sportello_env(tmp_path, SPORTELLO_TASK_BACKEND="rq", REDIS_URL=REDIS_URL)
    env.pop("SPORTELLO_EMAIL_BACKEND", None)
    copy_database(migrated_sqlite, tmp_path)

    def sportello(*args: str, code: str | None = None) -> str:
        command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "sportello.cli", *args]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)  # bounds a hang only
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout

    number = sportello(code=CREATE).strip().splitlines()[-1]
    mail_dir = tmp_path / "sent-mail"
    assert not mail_dir.exists() or not any(mail_dir.iterdir()), "the mail must wait for the worker"
    # The delivery of the ticket's events to the listeners: one of them writes the acknowledgement,
    # whose drain the worker then takes too.
    assert redis.Redis.from_url(REDIS_URL).llen("rq:queue:default") == 1

    sportello("worker", "--burst")
    sent = "".join(p.read_text() for p in mail_dir.iterdir())
    assert f"#{number}" in sent and "rq@example.com" in sent
