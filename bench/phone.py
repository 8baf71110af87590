"""CTI call events per second through the full path, against the production server on PostgreSQL.

    uv run python bench/phone.py [--calls 300] [--concurrency 8] [--workers 2]

1. A fresh database `sportello_bench_phone_<pid>_<random>` (dropped at the end) is migrated; a
   generic CTI account (its token), three online agents and 100 customers with a phone number and
   an open ticket are made.
2. `sportello serve` (uvicorn) with the worker's tasks run at once, as `make run` does.
3. --concurrency threads post --calls calls as a PBX does (form-encoded, Zammad's generic format),
   each three events in order: newCall (caller looked up, agents chosen, pop-up pushed), answer
   (agent and ticket chosen), hangup (the call entry through intake, in one transaction). Half the
   callers are known (their open ticket gets the entry), half new (a customer and a phone ticket).
   Prints events/s and calls/s, p50 and p95 per event kind, and the floor (GET /healthz).
"""

from __future__ import annotations

import argparse
import secrets
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import floor_samples, in_threads, percentiles, server, webhook_site

SETUP = """
import django; django.setup()
from sportello.accounts.models import Availability, Role, User
from sportello.customers.services import Sender
from sportello.phone import services
from sportello.phone.models import CtiAccount
from sportello.tickets.intake import Inbound, ingest
for name in ("anna", "marco", "petar"):
    User.objects.create_user(name, password="bench-password-1", role=Role.AGENT, availability=Availability.ONLINE)
for i in range(100):
    ingest(Inbound(channel="email", sender=Sender(name=f"Caller {i}", email=f"caller{i}@example.com",
                   phone=f"+4930{5550000 + i}"), subject=f"Order {i}", body_text="Where is my order?",
                   acknowledge=False))
account = CtiAccount.objects.create(name="bench", region="DE")
print(services.rotate_token(account))
"""


def call_events(number: int, known: bool) -> list[dict[str, str]]:
    caller = f"4930{5550000 + number % 100}" if known else f"4989{7000000 + number}"
    base = {"from": caller, "to": "493055571600", "direction": "in", "callId": f"bench-{number}-{secrets.token_hex(4)}"}
    return [
        {**base, "event": "newCall"},
        {**base, "event": "answer", "answeringNumber": "anna"},
        {**base, "event": "hangup", "answeringNumber": "anna", "cause": "normalClearing"},
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8775)
    args = parser.parse_args()

    with webhook_site("sportello_bench_phone", SETUP) as (env, token):
        print(
            f"Sportello phone: {args.calls} calls x 3 CTI events, concurrency {args.concurrency}, "
            f"{args.workers} uvicorn workers, PostgreSQL"
        )
        samples: dict[str, list[float]] = {"newCall": [], "answer": [], "hangup": []}
        failures: list[str] = []
        lock = threading.Lock()

        def one_call(client: httpx.Client, number: int) -> None:
            for event in call_events(number, known=number % 2 == 0):
                started = time.perf_counter()
                response = client.post(f"/phone/cti/{token}", data=event)
                elapsed = time.perf_counter() - started
                with lock:
                    samples[event["event"]].append(elapsed)
                    if response.status_code != 200:
                        failures.append(f"{event['event']}: {response.status_code}")

        with server(env, args.port, workers=args.workers) as base:
            with httpx.Client(base_url=base, timeout=60) as client:
                floor_samples(client, 200)
            wall = in_threads(base, args.calls, args.concurrency, one_call)
    events = sum(len(s) for s in samples.values())
    for kind, values in samples.items():
        print(f"{'POST /phone/cti ' + kind:<40} {percentiles(values)}")
    print(f"{events / wall:.0f} events/s, {args.calls / wall:.0f} calls/s ({wall:.1f} s); failures: {len(failures)}")
    if failures:
        print("  first failures:", failures[:5])


if __name__ == "__main__":
    main()
