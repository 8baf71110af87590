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

from tests.conftest import service_or_skip, tcp_open

REDIS_URL = os.environ.get("SPORTELLO_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

CREATE = """
import django; django.setup()
from sportello.customers.services import Sender
from sportello.tickets.intake import Inbound, ingest
r = ingest(Inbound(channel="web", sender=Sender(name="Rq", email="rq@example.com"), subject="Queued", body_text="hi"))
print(r.ticket.number)
"""


def test_acknowledgement_is_delivered_by_an_rq_worker(tmp_path: Path):
    service_or_skip("Redis", tcp_open("127.0.0.1", 6379))
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "sportello.settings",
        "SPORTELLO_DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "SPORTELLO_TASK_BACKEND": "rq",
        "REDIS_URL": REDIS_URL,
    }
    env.pop("SPORTELLO_EMAIL_BACKEND", None)

    def sportello(*args: str, code: str | None = None) -> str:
        command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "sportello.cli", *args]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)  # bounds a hang only
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout

    sportello("migrate", "-v0")
    number = sportello(code=CREATE).strip().splitlines()[-1]
    mail_dir = tmp_path / "sent-mail"
    assert not mail_dir.exists() or not any(mail_dir.iterdir()), "the mail must wait for the worker"
    # The delivery of the ticket's events to the listeners: one of them writes the acknowledgement,
    # whose drain the worker then takes too.
    assert redis.Redis.from_url(REDIS_URL).llen("rq:queue:default") == 1

    sportello("worker", "--burst")
    sent = "".join(p.read_text() for p in mail_dir.iterdir())
    assert f"#{number}" in sent and "rq@example.com" in sent
