"""Live chat under load: concurrent visitor websockets against the production-style server with Redis.

    uv run python bench/chat_load.py [--visitors 1000] [--seconds 10] [--workers 2]

1. A fresh PostgreSQL database `sportello_bench_chat_<pid>_<random>` (dropped at the end)
   is migrated; an online agent and a chat
   channel (no per-agent limit worth the name) are created. REDIS_URL points the channel layer
   (and the cache) at the local Redis, database 7, so other users of that Redis are left alone.
2. `sportello serve` (uvicorn, --workers) starts on loopback. The visitors connect, at most 50
   handshakes at a time; each says hello and writes its first line, which opens its ticket
   through intake. All conversations are then given to the agent in one UPDATE (accepting is
   not what is measured), and the agent's console socket connects with a real session.
3. Each visitor writes one more line at a random moment within --seconds; the time from the
   visitor's send to the agent console's receipt is the delivery latency (visitor socket →
   intake transaction → domain event after commit → Redis group → console socket). Prints
   p50/p95 and the server's memory per open visitor connection (RSS of the server's processes
   with all visitors connected, minus before, divided by the visitors).

Bounded: every wait has a timeout, the whole run stops after --timeout seconds, loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bench_database, env_for, login, percentiles, server, sportello

SETUP = """
import django; django.setup()
from sportello.accounts.models import Availability, Role, User
from sportello.chat.models import AskIdentity, ChatChannel
User.objects.create_user("agent", password="bench-password-1", role=Role.AGENT, first_name="Bea",
                         availability=Availability.ONLINE)
ChatChannel.objects.create(name="Bench", key="bench", ask_identity=AskIdentity.NOTHING, max_chats_per_agent=30000)
"""

GIVE_ALL = """
import django; django.setup()
from sportello.accounts.models import User
from sportello.chat.models import Conversation
print(Conversation.objects.update(state="active", agent=User.objects.get(username="agent")))
"""


def server_rss_kb(port: int) -> int:
    """Resident memory of `sportello serve --port PORT` and all its descendants (uvicorn workers)."""
    roots = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"serve" in cmdline and str(port).encode() in cmdline:
                roots.append(int(entry.name))
    total, seen, todo = 0, set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
            for task in Path(f"/proc/{pid}/task").iterdir():
                todo += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, StopIteration):
            continue
    return total


async def expect(socket: ClientConnection, kind: str, timeout: float = 30) -> dict:
    while True:
        frame = json.loads(await asyncio.wait_for(socket.recv(), timeout))
        if frame.get("type") == kind:
            return frame
        if frame.get("type") == "error":
            raise RuntimeError(f"server refused: {frame}")


async def open_visitor(ws_base: str, number: int, gate: asyncio.Semaphore) -> ClientConnection:
    async with gate:
        socket = await connect(f"{ws_base}/ws/chat/bench/", origin="http://shop.example", open_timeout=30)
        await socket.send(json.dumps({"type": "hello"}))
        await expect(socket, "welcome")
        await socket.send(json.dumps({"type": "message", "text": f"visitor {number} says hello"}))
        await expect(socket, "joined")
        return socket


async def drain(socket: ClientConnection) -> None:
    """Read and drop what a visitor receives (its own echoes), so no buffer fills up."""
    try:
        async for _ in socket:
            pass
    except Exception:
        return


async def run(base: str, port: int, env: dict[str, str], args: argparse.Namespace) -> None:
    ws_base = base.replace("http://", "ws://")
    gate = asyncio.Semaphore(50)
    warm = await open_visitor(ws_base, -1, gate)  # every import done, pools filled, before measuring memory
    await asyncio.sleep(1)
    before = server_rss_kb(port)
    started = time.perf_counter()
    results = await asyncio.gather(
        *(open_visitor(ws_base, i, gate) for i in range(args.visitors)), return_exceptions=True
    )
    visitors = [r for r in results if isinstance(r, ClientConnection)]
    failed = [r for r in results if not isinstance(r, ClientConnection)]
    print(
        f"{len(visitors)} visitors connected and wrote their first line in {time.perf_counter() - started:.1f} s"
        f" ({len(failed)} failed{': ' + repr(failed[0]) if failed else ''})"
    )
    drains = [asyncio.create_task(drain(v)) for v in [warm, *visitors]]
    await asyncio.sleep(2)
    after = server_rss_kb(port)
    print(
        f"server memory: {before / 1024:.0f} MiB before, {after / 1024:.0f} MiB with {len(visitors)} visitors: "
        f"{(after - before) / max(1, len(visitors)):.1f} KiB per connection (all processes)"
    )

    print("conversations given to the agent:", sportello(env, code=GIVE_ALL).strip().splitlines()[-1])
    session = login(base, "agent", "bench-password-1").cookies.get("sessionid")
    console = await connect(
        f"{ws_base}/ws/agent/console/",
        origin=base,
        additional_headers={"Cookie": f"sessionid={session}"},
        open_timeout=60,
        max_size=None,
    )
    await asyncio.sleep(1)

    sent: dict[str, float] = {}
    arrived: dict[str, float] = {}
    done = asyncio.Event()

    async def listen() -> None:
        async for raw in console:
            frame = json.loads(raw)
            if frame.get("type") == "message" and frame.get("text", "").startswith("probe "):
                arrived[frame["text"]] = time.perf_counter()
                if len(arrived) == len(visitors):
                    done.set()

    async def probe(number: int, socket: ClientConnection) -> None:
        await asyncio.sleep(random.uniform(0, args.seconds))
        text = f"probe {number}"
        sent[text] = time.perf_counter()
        await socket.send(json.dumps({"type": "message", "text": text}))

    listener = asyncio.create_task(listen())
    load_before = os.getloadavg()[0]
    await asyncio.gather(*(probe(i, v) for i, v in enumerate(visitors)))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), timeout=60)
    latencies = [arrived[text] - sent[text] for text in arrived if text in sent]
    print(
        f"visitor → agent delivery: {percentiles(latencies) if latencies else 'nothing arrived'}"
        f"; {len(sent) - len(arrived)} lost or late (>60 s)"
    )
    # The machine is shared (PostgreSQL, Redis and this client run beside the server): a figure
    # means little without the load it was taken under.
    print(f"load average (1 min): {load_before:.2f} when the probes began, {os.getloadavg()[0]:.2f} at the end")
    listener.cancel()
    await console.close()
    for socket in [warm, *visitors]:
        await socket.close()
    for task in drains:
        task.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10, help="the probes are spread over this time")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8774)
    parser.add_argument("--timeout", type=float, default=600, help="the whole run stops after this")
    args = parser.parse_args()
    if not 1 <= args.visitors <= 5000:
        raise SystemExit("--visitors: 1 to 5000")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 4 * args.visitors + 1024))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))  # the server inherits it

    with bench_database("sportello_bench_chat") as url:
        data_dir = Path(tempfile.mkdtemp(prefix="sportello-bench-chat-"))
        env = env_for(
            url,
            data_dir,
            REDIS_URL=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7"),
            SPORTELLO_TASK_BACKEND="immediate",
            # Every simulated visitor comes from 127.0.0.1: the per-address limit would refuse most.
            SPORTELLO_CHAT_MAX_CONNECTIONS_PER_IP="0",
        )
        sportello(env, "migrate", "-v0")
        sportello(env, code=SETUP)
        print(
            f"Sportello chat load: {args.visitors} visitor websockets, {args.workers} uvicorn workers, "
            f"PostgreSQL, Redis channel layer, probes over {args.seconds:.0f} s"
        )
        with server(env, args.port, workers=args.workers) as base:
            asyncio.run(asyncio.wait_for(run(base, int(base.rsplit(":", 1)[1]), env, args), timeout=args.timeout))


if __name__ == "__main__":
    main()
