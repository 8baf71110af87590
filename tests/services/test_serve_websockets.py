"""`sportello serve` (uvicorn, as in production) speaks websockets: a visitor chats through it."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.processes import BOUND, copy_database, serve_log, serving, shell, sportello_env


@pytest.mark.own_sqlite
def test_serve_routes_websockets_to_the_chat(tmp_path: Path, migrated_sqlite: Path):
    env = sportello_env(tmp_path)
    copy_database(migrated_sqlite, tmp_path)
    shell(env, "from sportello.chat.models import ChatChannel; ChatChannel.objects.create(name='Web', key='web')")
    with serving(env, tmp_path) as port:
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=BOUND)
        assert health.status_code == 200, f"/healthz answered {health.status_code}:\n" + serve_log(tmp_path)
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
