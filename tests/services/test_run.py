"""`sportello run` — what `make run` starts — sets up a fresh SQLite database and serves the product."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.servers import free_port


def test_run_migrates_loads_the_demo_and_serves(tmp_path: Path):
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "sportello.settings",
        "SPORTELLO_DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'sportello.sqlite3'}",
        "SPORTELLO_LOG_LEVEL": "WARNING",
    }
    env.pop("SPORTELLO_TASK_BACKEND", None)
    log = tmp_path / "run.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "sportello.cli", "run", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            raise AssertionError("sportello run did not come up:\n" + log.read_text()[-3000:])
        printed = log.read_text()
        assert f"{base}/" in printed and "admin" in printed and "demo" in printed  # URL and logins
        assert httpx.get(f"{base}/support/new", timeout=10).status_code == 200
        client = httpx.Client(base_url=base, timeout=10)
        client.get("/accounts/login/")
        response = client.post(
            "/accounts/login/",
            data={"username": "anna", "password": "demo", "csrfmiddlewaretoken": client.cookies["csrftoken"]},
        )
        assert response.status_code == 302
        inbox = client.get("/inbox/?view=open")
        assert inbox.status_code == 200 and "#100" in inbox.text  # demo tickets are listed
        assert httpx.get(f"{base}/static/vendor/htmx.min.js", timeout=10).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert _processes_of(tmp_path) == [], "the worker or the scheduler outlived `sportello run`"


def _processes_of(data_dir: Path) -> list[int]:
    """Processes still running with this test's data directory in their environment."""
    marker = f"SPORTELLO_DATA_DIR={data_dir}".encode()
    alive = []
    deadline = time.monotonic() + 10  # children get SIGTERM and a moment to finish their task
    while time.monotonic() < deadline:
        alive = []
        for proc in Path("/proc").iterdir():
            try:
                if proc.name.isdigit() and marker in (proc / "environ").read_bytes().split(b"\0"):
                    alive.append(int(proc.name))
            except OSError:
                continue
        if not alive:
            break
        time.sleep(0.2)
    return alive
