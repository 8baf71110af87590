"""With the embedded default (SQLite, no Redis), an agent's open inbox hears of a ticket that
another process created: the web process relays the events other processes committed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.processes import BOUND, agent_socket, copy_database, serve_log, serving, shell, signed_in, sportello_env

WRITE_IN = """
from sportello.customers.services import Sender
from sportello.tickets.intake import Inbound, ingest
ticket = ingest(Inbound(channel="web", sender=Sender(name="Carla Rossi", email="carla@example.com"),
                        subject="Printer on fire", body_text="Help")).ticket
print(ticket.number)
"""


@pytest.mark.own_sqlite
def test_an_inbox_hears_of_a_ticket_another_process_created(tmp_path: Path, migrated_sqlite: Path):
    # The in-memory channel layer: nothing shared between processes but the database.
    env = sportello_env(tmp_path, SPORTELLO_EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
    copy_database(migrated_sqlite, tmp_path)
    session = signed_in(env, role="ADMIN")
    with serving(env, tmp_path) as port, agent_socket(port, "/ws/agent/inbox/", session) as socket:
        # Another process (as the worker, the mail listener or `mail import` would) takes a ticket in.
        number = int(shell(env, WRITE_IN))
        heard = json.loads(socket.recv(timeout=BOUND))
        assert heard == {"type": "changed", "ticket": number}, serve_log(tmp_path)
