"""Instructions the web process spends on an API ticket create, against the one-INSERT floor, counted
by callgrind: a figure that does not move with the machine's load, for changes too small for
bench/api_create.py's rates to show.

    uv run python bench/api_instructions.py [--requests 100]

On this machine kind the same tree's create rate moves by a third between minutes (other
tenants), so a change worth 2-3 % of a create cannot be seen in requests a second. Instructions
can: valgrind's callgrind counts them, and the same tree gives the same count within ~0.3 %
whatever else the machine runs. What it does not count: the database's work (another process),
waiting, and what load itself costs (cache misses, context switches, GIL hand-overs: a round trip
costs far more under load than its instructions). So it complements bench/api_create.py; it does
not replace it.

1. A fresh database `sportello_bench_instr_<pid>_<random>` (dropped at the end) is migrated; an
   agent and an API token are created.
2. Two processes under `valgrind --tool=callgrind --instr-atstart=no`, side by side: each sets
   Django up, calls Django's WSGI handler (the request path of `sportello serve` without the HTTP
   server) 30 times to warm up, freezes its start-up objects as a web process does, then turns
   the instrumentation on (`callgrind_control -i on`) for --requests requests: one makes
   `POST /api/v1/tickets` with a new customer and two tags each time (the body of
   bench/api_create.py), the other `POST /bench/insert` (one INSERT, the floor).
3. Prints the instructions per request of each and the floor's as a share of the create's (the
   create's count as a share of the floor's rate, if instructions were all a request cost).

Needs valgrind (Debian's package; on every machine of this kind); `make bench` runs it when present.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_create import agent_database
from common import load_report

# Run under callgrind: argv = [what ("create" or "floor"), requests, token].
DRIVER = """
import gc, io, json, os, subprocess, sys
import django; django.setup()
from django.core.handlers.wsgi import WSGIHandler

what, count, token = sys.argv[1], int(sys.argv[2]), sys.argv[3]
app = WSGIHandler()
made = 0

def call(path, body):
    data = json.dumps(body).encode()
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": path, "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80",
               "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(data),
               "wsgi.errors": sys.stderr, "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(data)),
               "HTTP_AUTHORIZATION": "Bearer " + token}
    status = []
    response = app(environ, lambda line, headers, exc_info=None: status.append(line))
    content = b"".join(response)
    response.close()
    if not status[0].startswith("201"):
        raise SystemExit(f"{path}: {status[0]} {content[:500]!r}")

def create():
    global made
    made += 1
    n = f"{what}-{os.getpid()}-{made}"
    call("/api/v1/tickets", {"subject": f"Order {n} arrived damaged",
         "body_text": f"Hello, order {n} arrived with a broken screen. Please send a replacement.",
         "customer": {"name": f"Customer {n}", "email": f"c{n}@example.com"}, "priority": 2,
         "tags": ["damaged", "order"]})

def floor():
    call("/bench/insert", {"subject": "the floor"})

one = create if what == "create" else floor
for _ in range(30):
    one()
gc.collect()
gc.freeze()  # as core/settle.py leaves a web process
control = ["callgrind_control", "-i"]
subprocess.run([*control, "on", str(os.getpid())], check=True, capture_output=True)
for _ in range(count):
    one()
subprocess.run([*control, "off", str(os.getpid())], check=True, capture_output=True)
"""


def counted(env: dict[str, str], what: str, requests: int, token: str, folder: Path) -> int:
    """Instructions the process spent on `requests` requests of `what` (callgrind's total)."""
    out = folder / f"{what}.callgrind"
    command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]
    command += [sys.executable, "-c", DRIVER, what, str(requests), token]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"{what} under callgrind failed:\n{done.stderr[-3000:]}")
    # "totals:" is what was collected; "summary:" stays 0 when the instrumentation starts off.
    totals = [int(line.split()[1]) for line in out.read_text().splitlines() if line.startswith("totals:")]
    if not totals or not totals[0]:
        raise SystemExit(f"callgrind counted nothing for {what}:\n{done.stderr[-2000:]}")
    return totals[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100, help="counted requests of each kind")
    args = parser.parse_args()
    if not (shutil.which("valgrind") and shutil.which("callgrind_control")):
        raise SystemExit("valgrind is not installed: apt-get install valgrind")

    with agent_database("sportello_bench_instr") as (env, token, folder):
        print(f"Sportello API create, instructions in the web process (callgrind, {args.requests} requests each)")
        with load_report(), ThreadPoolExecutor(max_workers=2) as pool:
            create, floor = pool.map(lambda what: counted(env, what, args.requests, token, folder), ("create", "floor"))
        per_create, per_floor = create / args.requests, floor / args.requests
        print(f"POST /api/v1/tickets   {per_create / 1e6:7.3f} M instructions a request")
        print(f"POST /bench/insert     {per_floor / 1e6:7.3f} M instructions a request   (the floor: one INSERT)")
        print(f"the floor's count is {per_floor / per_create:.1%} of a create's")


if __name__ == "__main__":
    main()
