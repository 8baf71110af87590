"""`sportello serve` (uvicorn, as in production) speaks websockets: a visitor chats through it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.processes import CLI, copy_database, sportello_env
from tests.servers import free_port
from tests.waiting import answering_or_ended, wait_for

BOUND = 120  # seconds; what takes well under one on a quiet machine: only a hang reaches it


@pytest.mark.own_sqlite
def test_serve_routes_websockets_to_the_chat(tmp_path: Path, migrated_sqlite: Path):
    port = free_port()
    env = sportello_env(tmp_path)
    copy_database(migrated_sqlite, tmp_path)
    cli = CLI
    create = "from sportello.chat.models import ChatChannel; ChatChannel.objects.create(name='Web', key='web')"
    subprocess.run([*cli, "shell", "-c", create], env=env, check=True)
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
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=BOUND)
        assert health.status_code == 200, f"/healthz answered {health.status_code}:\n" + log.read_text()[-3000:]
        with connect(f"ws://127.0.0.1:{port}/ws/chat/web/", origin="https://shop.example") as socket:
            socket.send(json.dumps({"type": "hello"}))
            welcome = json.loads(socket.recv(timeout=BOUND))
            assert welcome["type"] == "welcome" and welcome["token"]
            socket.send(json.dumps({"type": "message", "text": "Hello through uvicorn"}))
            assert json.loads(socket.recv(timeout=BOUND))["type"] == "joined"
            assert json.loads(socket.recv(timeout=BOUND))["text"] == "Hello through uvicorn"
        with connect(f"ws://127.0.0.1:{port}/ws/chat/nope/") as socket:
            try:
                socket.recv(timeout=BOUND)
                raise AssertionError("an unknown channel must be refused")
            except ConnectionClosed as closed:
                assert closed.rcvd is not None and closed.rcvd.code == 4404
                assert closed.rcvd.reason == "unknown chat channel"
    finally:
        process.terminate()
        process.wait(timeout=BOUND)
