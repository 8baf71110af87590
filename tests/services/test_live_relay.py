"""With the embedded default (SQLite, no Redis), an agent's open inbox hears of a ticket that
another process created: the web process relays the events other processes committed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from websockets.sync.client import connect

from tests.processes import CLI, copy_database, sportello_env
from tests.servers import free_port
from tests.waiting import answering_or_ended, wait_for

BOUND = 120  # seconds; what takes well under one on a quiet machine: only a hang reaches it

SIGN_IN = """
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from sportello.accounts.models import Role, User
agent = User.objects.create_user("anna", password="a-long-password-1", role=Role.ADMIN)
session = SessionStore()
session[SESSION_KEY] = str(agent.pk)
session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
session[HASH_SESSION_KEY] = agent.get_session_auth_hash()
session.create()
print(session.session_key)
"""

WRITE_IN = """
from sportello.customers.services import Sender
from sportello.tickets.intake import Inbound, ingest
ticket = ingest(Inbound(channel="web", sender=Sender(name="Carla Rossi", email="carla@example.com"),
                        subject="Printer on fire", body_text="Help")).ticket
print(ticket.number)
"""


@pytest.mark.own_sqlite
def test_an_inbox_hears_of_a_ticket_another_process_created(tmp_path: Path, migrated_sqlite: Path):
    port = free_port()
    # The in-memory channel layer: nothing shared between processes but the database.
    env = sportello_env(tmp_path, SPORTELLO_EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
    copy_database(migrated_sqlite, tmp_path)
    cli = CLI
    session = subprocess.run(
        [*cli, "shell", "-c", SIGN_IN], env=env, check=True, capture_output=True, text=True
    ).stdout.split()[-1]
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [*cli, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        healthz = f"http://127.0.0.1:{port}/healthz"
        wait_for(answering_or_ended(process, healthz, BOUND), "sportello serve answering", bound=BOUND)
        assert process.poll() is None, "sportello serve ended:\n" + log.read_text()[-3000:]
        with connect(
            f"ws://127.0.0.1:{port}/ws/agent/inbox/",
            origin=f"http://127.0.0.1:{port}",
            additional_headers={"Cookie": f"sessionid={session}"},
        ) as socket:
            # Another process (as the worker, the mail listener or `mail import` would) takes a ticket in.
            number = int(
                subprocess.run(
                    [*cli, "shell", "-c", WRITE_IN], env=env, check=True, capture_output=True, text=True
                ).stdout.split()[-1]
            )
            heard = json.loads(socket.recv(timeout=BOUND))
            assert heard == {"type": "changed", "ticket": number}, log.read_text()[-3000:]
    finally:
        process.terminate()
        process.wait(timeout=BOUND)
