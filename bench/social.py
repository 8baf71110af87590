"""Inbound webhook messages per second through the full path, against the production server on PostgreSQL.

    uv run python bench/social.py [--messages 600] [--concurrency 8] [--workers 2]

1. A fresh database `sportello_bench_social_<pid>_<random>` (dropped at the end) is migrated; a
   WhatsApp channel account (its app secret) is made.
2. `sportello serve` (uvicorn) with the worker's tasks run at once, as `make run` does.
3. --concurrency threads post --messages WhatsApp text notifications as Meta does (signed with
   X-Hub-Signature-256): each checked, stored once in the event log, threaded onto the sender's
   conversation and taken by intake. 50 senders, so most messages land on an open ticket; one in
   ten is a replay of an earlier message (stored once, answered "duplicate").
   Prints messages/s, p50 and p95, and the floor (GET /healthz).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import floor_samples, in_threads, percentiles, server, webhook_site

APP_SECRET = "bench-app-secret-0123456789"
SETUP = f"""
import django; django.setup()
from sportello.social.services import create_account
account = create_account("whatsapp", "bench", credentials={{"access_token": "t", "app_secret": "{APP_SECRET}",
                         "verify_token": "v"}}, settings={{"phone_number_id": "1"}})
print(account.key)
"""


def notification(number: int) -> bytes:
    sender = f"3933{3100000 + number % 50}"
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "1"},
        "contacts": [{"profile": {"name": f"Sender {number % 50}"}, "wa_id": sender}],
        "messages": [{"from": sender, "id": f"wamid.bench.{number}", "timestamp": "1733212800", "type": "text",
                      "text": {"body": f"Message {number}: where is my order?"}}],
    }  # fmt: skip
    payload = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"value": value,
               "field": "messages"}]}]}  # fmt: skip
    return json.dumps(payload).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8776)
    args = parser.parse_args()

    with webhook_site("sportello_bench_social", SETUP) as (env, key):
        print(
            f"Sportello social: {args.messages} WhatsApp webhooks (1 in 10 a replay), concurrency "
            f"{args.concurrency}, {args.workers} uvicorn workers, PostgreSQL"
        )
        samples: list[float] = []
        failures: list[str] = []
        replays: list[int] = []
        lock = threading.Lock()

        def one_message(client: httpx.Client, number: int) -> None:
            body = notification(number - 5 if number % 10 == 9 else number)
            signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
            started = time.perf_counter()
            response = client.post(
                f"/social/hooks/{key}/", content=body,
                headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature},
            )  # fmt: skip
            elapsed = time.perf_counter() - started
            with lock:
                samples.append(elapsed)
                if response.status_code != 200:
                    failures.append(f"{response.status_code}: {response.text[:100]}")
                elif response.json()["results"][0].get("duplicate"):
                    replays.append(number)

        with server(env, args.port, workers=args.workers) as base:
            with httpx.Client(base_url=base, timeout=60) as client:
                floor_samples(client, 200)
            wall = in_threads(base, args.messages, args.concurrency, one_message)
    print(f"{'POST /social/hooks/<key>/':<40} {percentiles(samples)}")
    print(f"{len(samples) / wall:.0f} messages/s ({wall:.1f} s); replays answered duplicate: {len(replays)}; "
          f"failures: {len(failures)}")  # fmt: skip
    if failures:
        print("  first failures:", failures[:5])


if __name__ == "__main__":
    main()
