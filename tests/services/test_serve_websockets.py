"""`sportello serve` (uvicorn, as in production) speaks websockets: a visitor chats through it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.servers import free_port


def test_serve_routes_websockets_to_the_chat(tmp_path: Path):
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "sportello.settings",
        "SPORTELLO_DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'sportello.sqlite3'}",
        "SPORTELLO_LOG_LEVEL": "WARNING",
        "SPORTELLO_TASK_BACKEND": "immediate",
    }
    env.pop("REDIS_URL", None)
    cli = [sys.executable, "-m", "sportello.cli"]
    subprocess.run([*cli, "migrate", "--verbosity", "0"], env=env, check=True)
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
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise AssertionError("sportello serve did not come up:\n" + log.read_text()[-3000:])
        with connect(f"ws://127.0.0.1:{port}/ws/chat/web/", origin="https://shop.example") as socket:
            socket.send(json.dumps({"type": "hello"}))
            welcome = json.loads(socket.recv(timeout=10))
            assert welcome["type"] == "welcome" and welcome["token"]
            socket.send(json.dumps({"type": "message", "text": "Hello through uvicorn"}))
            assert json.loads(socket.recv(timeout=10))["type"] == "joined"
            assert json.loads(socket.recv(timeout=10))["text"] == "Hello through uvicorn"
        with connect(f"ws://127.0.0.1:{port}/ws/chat/nope/") as socket:
            try:
                socket.recv(timeout=10)
                raise AssertionError("an unknown channel must be refused")
            except ConnectionClosed as closed:
                assert closed.rcvd is not None and closed.rcvd.code == 4404
                assert closed.rcvd.reason == "unknown chat channel"
    finally:
        process.terminate()
        process.wait(timeout=30)
