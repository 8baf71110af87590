"""`sportello run` — what `make run` starts — sets up a fresh SQLite database and serves the product."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.servers import free_port
from tests.waiting import answering_or_ended, wait_for

# Seconds: a request the demo answers in milliseconds, and how long the run may show no progress at
# all (no line in its log, no write to its database) before it counts as hung. A busy machine takes
# minutes to migrate and load the demo; the wait lasts as long as the run keeps moving.
REQUEST_BOUND = 120
STALL_BOUND = 300


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

    def progress() -> tuple[int, ...]:
        files = [log, *tmp_path.glob("sportello.sqlite3*")]
        return tuple(f.stat().st_size if f.exists() else -1 for f in files) + tuple(
            f.stat().st_mtime_ns for f in files if f.exists()
        )

    try:
        wait_for(
            answering_or_ended(process, f"{base}/healthz", REQUEST_BOUND), "sportello run answering",
            bound=STALL_BOUND, progress=progress,
            detail=lambda: log.read_text()[-3000:],
        )  # fmt: skip
        assert process.poll() is None, "sportello run ended:\n" + log.read_text()[-3000:]
        health = httpx.get(f"{base}/healthz", timeout=REQUEST_BOUND)
        assert health.status_code == 200, f"/healthz answered {health.status_code}:\n" + log.read_text()[-3000:]
        printed = log.read_text()
        assert f"{base}/" in printed and "admin" in printed and "demo" in printed  # URL and logins
        assert httpx.get(f"{base}/support/new", timeout=REQUEST_BOUND).status_code == 200
        client = httpx.Client(base_url=base, timeout=REQUEST_BOUND)
        client.get("/accounts/login/")
        response = client.post(
            "/accounts/login/",
            data={"username": "anna", "password": "demo", "csrfmiddlewaretoken": client.cookies["csrftoken"]},
        )
        assert response.status_code == 302
        inbox = client.get("/inbox/?view=open")
        assert inbox.status_code == 200 and "#100" in inbox.text  # demo tickets are listed
        assert httpx.get(f"{base}/static/vendor/htmx.min.js", timeout=REQUEST_BOUND).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=STALL_BOUND)
    assert _processes_of(tmp_path) == [], "the worker or the scheduler outlived `sportello run`"


def _processes_of(data_dir: Path) -> list[int]:
    """Processes still running with this test's data directory in their environment, once they had
    time to end (children get SIGTERM and finish their task); [] as soon as none is left."""
    marker = f"SPORTELLO_DATA_DIR={data_dir}".encode()

    def alive() -> list[int]:
        found = []
        for proc in Path("/proc").iterdir():
            try:
                if proc.name.isdigit() and marker in (proc / "environ").read_bytes().split(b"\0"):
                    found.append(int(proc.name))
            except OSError:
                continue
        return found

    try:
        wait_for(lambda: not alive(), "the run's processes ending", bound=STALL_BOUND)
    except AssertionError:
        return alive()
    return []
