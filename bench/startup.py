"""Start-up: how long a new user waits for the first page of `make run`, and its parts.

Legs, each on a temporary data directory of its own (SPORTELLO_DATA_DIR, so a new SQLite database):
  migrate   `sportello migrate` on an empty database
  demo      `sportello demo` on the database just migrated
  worker    `sportello worker --batch` then: the demo's events (SLA clocks, triggers) delivered by
            the worker that `run` starts once the server listens (the first page does not wait)
  floor     `sportello run --no-demo`: from start to the first 200 on / (migrate + server start-up)
  run       `sportello run`: from start to the first 200 on / (what `make run` does after `uv sync`)
  clone     (--clone) `make run` in a fresh `git clone` of HEAD (committed work only) with the warm
            package cache: `uv sync` into a new .venv, no bytecode cached yet, then as `run`.

Every leg prints wall seconds (p50 over --runs), CPU seconds, the load average before it, and `run` as
a ratio to `floor` of the same run. CPU is the command's and its children's (migrate, demo, worker);
for the legs that serve (floor, run, clone), the CPU every process of the run's session (make, uv,
`sportello run`, its worker and scheduler) had used when the first page came: on a loaded machine
that figure moves much less than the wall seconds.
The target (issue 11): demo < 10 s, `make run` first page < 30 s from a fresh clone.

    bash scripts/uv.sh run python bench/startup.py [--runs 3] [--clone] [--skip run,floor]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
UV = ["bash", str(ROOT / "scripts" / "uv.sh"), "run"]
# A run that shows no first page in this long has failed (a hang, not a slow machine).
GIVE_UP = 600


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


def environment(data_dir: Path, port: int | None = None) -> dict[str, str]:
    env = {**os.environ, "SPORTELLO_DATA_DIR": str(data_dir), "SPORTELLO_LOG_LEVEL": "WARNING"}
    # The embedded default: SQLite in the data directory, the database task backend, no Redis.
    for name in ("DATABASE_URL", "REDIS_URL", "SPORTELLO_TASK_BACKEND", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    if port is not None:
        env["SPORTELLO_PORT"] = str(port)
    return env


def timed(command: list[str], env: dict[str, str], cwd: Path = ROOT) -> tuple[float, float, str]:
    """(wall s, CPU s of the command and its waited-for children, output)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout + done.stderr


def session_cpu(session: int) -> float:
    """CPU seconds of the processes of a session, and of their children that ended (waited for)."""
    ticks = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session:  # after the name: state, ppid, pgrp, session, … utime at 11
            ticks += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def first_page(command: list[str], env: dict[str, str], port: int, cwd: Path, log: Path) -> tuple[float, float]:
    """Seconds from starting `command` to the first 200 on / (redirects followed), and the CPU
    seconds its processes had used by then; then stop it."""
    url = f"http://127.0.0.1:{port}/"
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, text=True
    )
    # Each line of the run's output with the second it came, for the phases (migrate, demo, serve).
    copier = threading.Thread(target=_copy_timed, args=(process, log, started), daemon=True)
    copier.start()
    try:
        with httpx.Client(timeout=30, follow_redirects=True) as client:
            while True:
                if process.poll() is not None:
                    raise SystemExit(f"{' '.join(command)} ended ({process.returncode}):\n{log.read_text()[-3000:]}")
                try:
                    if client.get(url).status_code == 200:
                        seconds = time.perf_counter() - started
                        cpu = session_cpu(process.pid)
                        with log.open("a") as out:
                            out.write(f"{seconds:7.2f} [bench] first 200 on / ({cpu:.1f} s of CPU)\n")
                        return seconds, cpu
                except httpx.TransportError:
                    pass
                if time.perf_counter() - started > GIVE_UP:
                    raise SystemExit(f"no first page in {GIVE_UP} s:\n{log.read_text()[-3000:]}")
                time.sleep(0.05)
    finally:
        # The whole session the run started (uv, sportello run, its worker and scheduler).
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _copy_timed(process: subprocess.Popen[str], log: Path, started: float) -> None:
    assert process.stdout is not None
    with log.open("w") as out:
        for line in process.stdout:
            out.write(f"{time.perf_counter() - started:7.2f} {line}")
            out.flush()


def phases(log: Path) -> str:
    """When the run printed its milestones, from its timed log."""
    marks = {
        "synced": "uv.sh run sportello run",  # make echoes it once `uv sync` is done
        "django set up": "Preparing the database",
        "migrated": "Loading the demo data",
        "demo loaded": "Demo data loaded",
        "banner": "Sportello is running at",
        "server up": "Uvicorn running on",
        "first page": "[bench] first 200",
    }
    found = []
    text = log.read_text() if log.exists() else ""
    for name, marker in marks.items():
        for line in text.splitlines():
            if marker in line and line[:7].strip().replace(".", "", 1).isdigit():
                found.append(f"{name} {float(line[:7]):.1f}")
                break
    return ", ".join(found)


def leg_migrate_demo(scratch: Path) -> dict[str, tuple[float, float | None, str]]:
    data = scratch / "md"
    env = environment(data)
    load_before = load()
    wall, cpu, _ = timed([*UV, "sportello", "migrate", "-v0"], env)
    results: dict[str, tuple[float, float | None, str]] = {"migrate": (wall, cpu, load_before)}
    load_before = load()
    wall, cpu, output = timed([*UV, "sportello", "demo"], env)
    results["demo"] = (wall, cpu, load_before)
    if found := re.search(r"Demo data loaded in ([\d.]+) s", output):
        results["demo (its own clock)"] = (float(found[1]), None, load_before)
    load_before = load()
    wall, cpu, _ = timed([*UV, "sportello", "worker", "--batch", "--no-startup-delay"], env)
    results["worker"] = (wall, cpu, load_before)
    shutil.rmtree(data, ignore_errors=True)
    return results


def leg_run(scratch: Path, *, demo: bool) -> tuple[float, float | None, str]:
    data, port = scratch / "run", free_port()
    load_before = load()
    command = [*UV, "sportello", "run", "--port", str(port)] + ([] if demo else ["--no-demo"])
    seconds, cpu = first_page(command, environment(data, port), port, ROOT, scratch / "run.log")
    print(f"    {'run' if demo else 'run --no-demo'}: {phases(scratch / 'run.log')} s", flush=True)
    shutil.rmtree(data, ignore_errors=True)
    return seconds, cpu, load_before


def leg_clone(scratch: Path) -> tuple[float, float | None, str]:
    clone = scratch / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    port = free_port()
    env = environment(clone / "var", port)
    env.pop("VIRTUAL_ENV", None)
    load_before = load()
    seconds, cpu = first_page(["make", "run"], env, port, clone, scratch / "clone.log")
    print(f"    make run (clone): {phases(scratch / 'clone.log')} s", flush=True)
    shutil.rmtree(clone, ignore_errors=True)
    return seconds, cpu, load_before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1, help="repeat each leg (p50 and the spread are printed)")
    parser.add_argument("--clone", action="store_true", help="also `make run` in a fresh clone of HEAD")
    parser.add_argument("--skip", default="", help="legs to leave out, comma-separated: migrate,demo,floor,run")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True
    ).stdout
    print(
        f"startup bench: HEAD {head.strip()}{' + uncommitted changes' if dirty else ''}, {os.cpu_count()} CPUs, "
        f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}, {load()}"
    )
    samples: dict[str, list[tuple[float, float | None, str]]] = {}
    legs: list[tuple[str, Callable[[Path], object]]] = []
    if not {"migrate", "demo"} <= skip:
        legs.append(("migrate+demo", leg_migrate_demo))
    if "floor" not in skip:
        legs.append(("floor", lambda scratch: leg_run(scratch, demo=False)))
    if "run" not in skip:
        legs.append(("run", lambda scratch: leg_run(scratch, demo=True)))
    if args.clone:
        legs.append(("clone", leg_clone))
    for _ in range(args.runs):
        for name, leg in legs:
            with tempfile.TemporaryDirectory(prefix="sportello-startup-") as scratch:
                result = leg(Path(scratch))
            if isinstance(result, dict):
                for part, sample in result.items():
                    samples.setdefault(part, []).append(sample)
            else:
                samples.setdefault(name, []).append(result)  # type: ignore[arg-type]
    titles = {
        "migrate": "sportello migrate (empty SQLite)",
        "demo": "sportello demo (process)",
        "demo (its own clock)": "demo load as the command reports it",
        "worker": "worker --batch: the demo's events",
        "floor": "run --no-demo: first 200 on /",
        "run": "sportello run: first 200 on /",
        "clone": "make run, fresh clone: first 200 on /",
    }
    p50s = {}
    for part, rows in samples.items():
        walls = sorted(row[0] for row in rows)
        p50s[part] = statistics.median(walls)
        cpus = [row[1] for row in rows if row[1] is not None]
        cpu = f"  CPU {statistics.median(cpus):5.1f} s" if cpus else ""
        spread = f"  (min {walls[0]:.1f}, max {walls[-1]:.1f}, n={len(walls)})" if len(walls) > 1 else ""
        print(f"  {titles.get(part, part):42} p50 {p50s[part]:5.1f} s{cpu}{spread}   [{rows[-1][2]} before]")
    if "run" in p50s and "floor" in p50s:
        print(f"  run / floor: {p50s['run'] / p50s['floor']:.2f}x (the demo's share of the wait)")
    print(f"  targets: demo < 10 s, first page < 30 s from a fresh clone; {load()} after")


if __name__ == "__main__":
    sys.exit(main())
