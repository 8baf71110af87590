"""Without Redis, a call another process took in (another web worker got the PBX's request) still
pops up on a socket of this web process: the call's event travels the outbox, and the web
process's relay builds the same pop-up from it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.processes import BOUND, agent_socket, copy_database, serve_log, serving, shell, signed_in, sportello_env

RING = """
from django.http import QueryDict
from sportello.phone import services
from sportello.phone.models import CtiAccount
from sportello.phone.parse import parse_generic
account = CtiAccount.objects.create(name="sipgate", region="DE")
form = QueryDict("event=newCall&from=493023125741&to=492214710334&direction=in&callId=relay-1")
print(services.receive(account, form, parse_generic).call.pk)
"""


@pytest.mark.own_sqlite
def test_a_call_another_process_took_in_pops_up_here(tmp_path: Path, migrated_sqlite: Path):
    # The in-memory channel layer: nothing shared between processes but the database.
    env = sportello_env(tmp_path, SPORTELLO_EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
    copy_database(migrated_sqlite, tmp_path)
    session = signed_in(env, availability="ONLINE")
    with serving(env, tmp_path) as port, agent_socket(port, "/ws/agent/phone/", session) as socket:
        call = int(shell(env, RING))  # the PBX's request, taken by another process
        heard = json.loads(socket.recv(timeout=BOUND))
        assert (heard["type"], heard["id"], heard["state"]) == ("call", call, "ringing"), serve_log(tmp_path)
        assert heard["number"] == "+493023125741"
