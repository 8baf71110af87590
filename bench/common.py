"""Shared pieces of the benchmarks: a throwaway PostgreSQL database and a production-style server."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def database_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def _stop(signum: int, frame: FrameType | None) -> Any:
    raise SystemExit(f"stopped by signal {signum}")


@contextmanager
def bench_database(prefix: str, *, keep: bool = False) -> Iterator[str]:
    """A new database `<prefix>_<pid>_<random>` for this run only; yields its URL.

    It is dropped at the end, also on Ctrl-C, SIGTERM or an error, unless `keep` (then its name is
    printed, for --reuse). Only this run's database is ever dropped, so two benches on one server
    leave each other alone.
    """
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        yield database_url(name)
    finally:
        signal.signal(signal.SIGTERM, previous)
        if keep:
            print(f"  kept database {name} (use --reuse {name})")
        else:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                # FORCE: only leftover connections of this run's own servers can be on it.
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def reusable_database(prefix: str, reuse: str | None, keep: bool) -> Iterator[tuple[str, bool]]:
    """(URL, reused): the database kept by an earlier run (--reuse NAME, never dropped here), or a
    new one of this run's own (see bench_database; --keep keeps it)."""
    if reuse:
        if not reuse.startswith(prefix + "_"):
            raise SystemExit(f"--reuse {reuse}: not a {prefix} database")
        yield database_url(reuse), True
    else:
        with bench_database(prefix, keep=keep) as url:
            yield url, False


def env_for(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "sportello.settings",
        "DATABASE_URL": database_url,
        "SPORTELLO_DATA_DIR": str(data_dir),
        "SPORTELLO_LOG_LEVEL": "warning",
        **extra,
    }


def sportello(env: dict[str, str], *args: str, code: str | None = None) -> str:
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "sportello.cli", *args]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} failed:\n{result.stderr[-3000:]}")
    return result.stdout


@contextmanager
def webhook_site(prefix: str, setup: str) -> Iterator[tuple[dict[str, str], str]]:
    """A fresh database (`bench_database`) and data folder, migrated, with the worker's tasks run
    at once (as `make run` does) and `setup` (Python) run in it; yields the environment and the
    last line `setup` printed (the webhook's secret). The data folder is removed at the end."""
    with bench_database(prefix) as url:
        data_dir = Path(tempfile.mkdtemp(prefix=prefix.replace("_", "-") + "-"))
        try:
            env = env_for(url, data_dir, SPORTELLO_TASK_BACKEND="immediate")
            sportello(env, "migrate", "-v0")
            yield env, sportello(env, code=setup).strip().splitlines()[-1]
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)


def in_threads(base: str, count: int, concurrency: int, one: Callable[[httpx.Client, int], None]) -> float:
    """`one(client, n)` for each n in 0..count-1, shared out among `concurrency` threads, each with
    its own client on `base`; returns the wall time in seconds. `one` guards what it records."""
    lock = threading.Lock()
    numbers = iter(range(count))

    def work() -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            while True:
                with lock:
                    number = next(numbers, None)
                if number is None:
                    return
                one(client, number)

    started = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


@contextmanager
def server(env: dict[str, str], port: int, workers: int, extra: list[str] | None = None) -> Iterator[str]:
    """`sportello serve` as in production, on loopback; yields its base URL. Its log goes to a file.

    `extra` goes to `sportello serve` (e.g. ["--wsgi"]); the `Server` header of the first answer is
    checked to be gunicorn's for --wsgi and uvicorn's otherwise, so a leg cannot silently measure the
    wrong server.
    """
    expected = "gunicorn" if "--wsgi" in (extra or []) else "uvicorn"
    if not _port_free(port):  # another bench's server: its answers would be measured as ours
        taken, port = port, _free_port()
        print(f"(port {taken} is taken, by another bench perhaps: this server listens on {port})", file=sys.stderr)
    log_path = Path(env["SPORTELLO_DATA_DIR"]) / "server.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sportello.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            *(extra or []),
        ],
        env={**env, "SPORTELLO_LOG_LEVEL": "warning"},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so that its workers go with it
    )
    base = f"http://127.0.0.1:{port}"
    _server_groups[port] = process.pid  # its own session: the group of every worker it starts
    if env.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        _server_databases[port] = env["DATABASE_URL"].rsplit("/", 1)[1].split("?")[0]
    try:
        deadline = time.monotonic() + 180  # collectstatic and several workers importing, on a busy machine
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"{base}/healthz", timeout=1)
                if response.status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise SystemExit("the server did not start:\n" + log_path.read_text()[-3000:])
        served_by = response.headers.get("server", "")
        if expected not in served_by.lower():
            raise SystemExit(f"expected {expected} but the server says {served_by!r}")
        yield base
    except SystemExit:
        print("--- server log (tail) ---\n" + log_path.read_text()[-4000:], file=sys.stderr)
        raise
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)
        # A uvicorn worker that did not finish its shutdown outlives the supervisor (orphaned,
        # holding connections and CPU into the next run): whatever is left of the group goes.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def login(base: str, username: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30, follow_redirects=False)
    page = client.get("/accounts/login/")
    token = client.cookies.get("csrftoken", "")
    response = client.post(
        "/accounts/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/accounts/login/"},
    )
    if response.status_code != 302:
        raise SystemExit(f"login failed ({response.status_code}); page said {page.status_code}")
    return client


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min, {os.cpu_count()} cores)"


@contextmanager
def load_report() -> Iterator[None]:
    """Prints the load average when the measurements begin and when they end (also on failure):
    a figure from a machine busy with something else is not the bench's."""
    print(f"load average at start: {load_average()}", flush=True)
    try:
        yield
    finally:
        print(f"load average at end:   {load_average()}", flush=True)


def of_floor(rate: float, floor: float, floor_name: str) -> str:
    """A rate as a share of the floor measured in the same run (e.g. 54% of the one-INSERT rate)."""
    return f"{rate / floor:6.1%} of {floor_name}" if floor else f"(no {floor_name} measured)"


def p50_p95(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, round(0.95 * len(ordered)) - 1)]


def over_floor(samples: list[float], floor: list[float]) -> str:
    """Latencies as multiples of the floor's (the same server's cheapest request, same run)."""
    (p50, p95), (f50, f95) = p50_p95(samples), p50_p95(floor)
    return f"{p50 / f50:5.1f}x / {p95 / f95:5.1f}x the floor"


def percentiles(samples: list[float]) -> str:
    p50, p95 = p50_p95(samples)
    return f"p50 {p50 * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms   (n={len(samples)})"


def latency_line(label: str, samples: list[float], floor: list[float]) -> str:
    return f"{label:<40} {percentiles(samples)}   {over_floor(samples, floor)}{_cpu_since_last_line()}"


def floor_samples(client: httpx.Client, n: int) -> list[float]:
    """The floor of an HTTP bench: GET /healthz (one SELECT 1) through the same server and client."""
    samples = timed(client, "/healthz", n)
    print(f"{'floor: GET /healthz (SELECT 1)':<40} {percentiles(samples)}{_cpu_since_last_line()}")
    return samples


# CPU the server and the database spent on the requests `timed` made since the last printed line.
_cpu_spent = {"web": 0.0, "database": 0.0, "requests": 0.0}


def _cpu_since_last_line() -> str:
    requests = int(_cpu_spent["requests"])
    if not requests or not (_cpu_spent["web"] or _cpu_spent["database"]):
        return ""
    web, database = (_cpu_spent[k] * 1000 / requests for k in ("web", "database"))
    _cpu_spent.update(web=0.0, database=0.0, requests=0.0)
    return f"\n{'':<41}CPU per request: web {web:5.2f} ms + database {database:5.2f} ms"


def timed(client: httpx.Client, path: str, n: int, expect: int = 200) -> list[float]:
    port = client.base_url.port or 80
    before = cpu_seconds(port)
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(path)
        samples.append(time.perf_counter() - start)
        if response.status_code != expect:
            raise SystemExit(f"GET {path} gave {response.status_code}")
    web, database = cpu_spent(before, cpu_seconds(port))
    _cpu_spent["web"] += web
    _cpu_spent["database"] += database
    _cpu_spent["requests"] += n
    return samples


# --- CPU time spent by the server and the database (a figure the machine's other load barely moves) ---

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_server_groups: dict[int, int] = {}  # port -> process group of the server started by `server`
_server_databases: dict[int, str] = {}  # port -> the PostgreSQL database that server uses


def _stat_fields(pid: str) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    return [pid, text[text.index("(") + 1 : text.rindex(")")], *text[text.rindex(")") + 2 :].split()]


# PostgreSQL's own processes (not backends): the work they do (WAL, checkpoints, vacuum) follows
# from the writes measured, so they count, whoever else uses the server meanwhile.
_PG_AUXILIARY = ("walwriter", "checkpointer", "background writer", "autovacuum launcher", "walsummarizer")


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def cpu_seconds(port: int) -> dict[str, float]:
    """CPU seconds used so far (user + system) by the server listening on `port` (its supervisor's
    process group: every web worker, with reaped ones) and, per process, by the PostgreSQL backends
    connected to its database and PostgreSQL's auxiliary processes (WAL writer, checkpointer, …;
    none when the server runs on SQLite).
    Backends of other databases (another bench, a test run) are left out, and so is the
    postmaster, whose reaped children are every database's closed connections. Linux only; zeros
    elsewhere. Read before and after a run: `cpu_spent` gives what the requests in between cost."""
    totals: dict[str, float] = {"web": 0.0}
    proc = Path("/proc")
    if not proc.is_dir():
        return totals
    stats = {pid.name: fields for pid in proc.iterdir() if pid.name.isdigit() and (fields := _stat_fields(pid.name))}
    group = str(_server_groups.get(port))
    database = _server_databases.get(port)
    for pid, fields in stats.items():
        if fields[4] == group:
            totals["web"] += sum(int(value) for value in fields[13:17]) / _TICKS  # utime, stime, cutime, cstime
        elif fields[1] in ("postgres", "postmaster"):
            title = _cmdline(pid)
            if database is None or not title.startswith("postgres: "):
                continue  # the postmaster
            role = title.removeprefix("postgres: ")
            cluster, _, rest = role.partition(": ")  # Debian names the cluster first: "15/main: walwriter"
            if rest and " " not in cluster:
                role = rest
            ours = f" {database} " in f" {role} " or role.startswith(_PG_AUXILIARY)
            if ours:
                totals[f"pg:{pid}"] = sum(int(value) for value in fields[13:15]) / _TICKS  # utime, stime
    return totals


def cpu_spent(before: dict[str, float], after: dict[str, float]) -> tuple[float, float]:
    """(web, database) CPU seconds between two `cpu_seconds` readings. A PostgreSQL process counts
    from the first reading, or from its start if it began in between; one that ended in between
    is lost (its CPU since the first reading is not known)."""
    database = sum(used - before.get(key, 0.0) for key, used in after.items() if key.startswith("pg:"))
    return after["web"] - before["web"], database


def cpu_per_request(before: dict[str, float], after: dict[str, float], requests: int) -> str:
    """'web 6.1 ms + database 1.9 ms of CPU per request' from two `cpu_seconds` readings."""
    web, database = (seconds * 1000 / max(requests, 1) for seconds in cpu_spent(before, after))
    return f"CPU per request: web {web:5.2f} ms + database {database:5.2f} ms = {web + database:5.2f} ms"
