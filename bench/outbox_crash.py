"""Acknowledgements across SIGKILLs: N processes each take a ticket and are killed right after commit.

Each process registers an on-commit hook that SIGKILLs it *before* intake runs, so the kill runs
before any hook intake registers (Django runs them in order): the ticket is committed and the
process dies before it can enqueue anything. Then one scheduler pass (`sportello scheduler
--once`, whose outbox sweep enqueues the drain) and a database-backed worker run in batch mode,
as in production. Prints how many tickets got their acknowledgement.

    python bench/outbox_crash.py [N]                 # this checkout
    python bench/outbox_crash.py N /path/to/old/src  # another tree's code (git archive … | tar -x)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from email import message_from_bytes
from pathlib import Path

CREATE_AND_DIE = """
import os, signal, django
django.setup()
from django.db import transaction
from sportello.customers.services import Sender
from sportello.tickets.intake import Inbound, ingest
with transaction.atomic():
    transaction.on_commit(lambda: os.kill(os.getpid(), signal.SIGKILL))
    sender = Sender(name="K", email="k{i}@example.com")
    ingest(Inbound(channel="web", sender=sender, subject="Crash {i}", body_text="hi"))
"""


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    src = sys.argv[2] if len(sys.argv) > 2 else str(Path(__file__).resolve().parents[1] / "src")
    data = Path(tempfile.mkdtemp(prefix="sportello-crash-"))
    env = {
        **os.environ,
        "PYTHONPATH": src,
        "DJANGO_SETTINGS_MODULE": "sportello.settings",
        "SPORTELLO_DATA_DIR": str(data),
        "DATABASE_URL": f"sqlite:///{data / 'db.sqlite3'}",
        "SPORTELLO_TASK_BACKEND": "database",
        "SPORTELLO_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, cwd=data)

    run("-m", "sportello.cli", "migrate", "-v0").check_returncode()
    killed = sum(run("-c", CREATE_AND_DIE.format(i=i)).returncode == -signal.SIGKILL for i in range(n))
    run("-m", "sportello.cli", "scheduler", "--once")
    run("-m", "sportello.cli", "db_worker", "--batch", "--no-startup-delay")
    mails = (
        [message_from_bytes(p.read_bytes()) for p in (data / "sent-mail").glob("*")]
        if (data / "sent-mail").exists()
        else []
    )
    acks = [m for m in mails if "received" in str(m["Subject"])]
    tickets = {str(m["To"]) for m in acks}
    print(
        f"{killed} of {n} processes killed after commit; acknowledgements: {len(acks)} mails to {len(tickets)} tickets"
    )


if __name__ == "__main__":
    main()
