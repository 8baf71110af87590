"""The admins' tools for webhooks: a test call signed as real calls are, and retrying a failed call.

A test call goes through the same SSRF rules as a real one (webhooks.py: the host's addresses
are checked, the connection is pinned to a checked address, redirects are not followed), signs
its body the same way (`X-Sportello-Signature` over `<timestamp>.<body>`), and is not logged as a
`WebhookCall`: it belongs to no trigger and no ticket. Unlike a real call it keeps the start of
the receiver's answer, for the admin to read.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from sportello.accounts.models import User
from sportello.audit import services as audit
from sportello.automation import webhooks
from sportello.automation.models import Trigger, WebhookCall
from sportello.core import outbox
from sportello.core.errors import Conflict, Forbidden

EXCERPT_BYTES = 2000


@dataclass
class TestCallResult:
    url: str
    status: int | None
    elapsed_ms: int
    excerpt: str
    error: str

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def test_payload() -> dict[str, Any]:
    """The shape of a real call's payload (webhooks.payload_for), with made-up values."""
    site = settings.SITE_URL.rstrip("/")
    return {
        "reason": "Test call from Sportello's settings",
        "test": True,
        "ticket": {
            "number": 0,
            "subject": "Test call",
            "status": "open",
            "state": "open",
            "priority": 2,
            "channel": "web",
            "group": None,
            "assignee": None,
            "customer": "Test customer",
            "updated_at": timezone.now().isoformat(),
            "url": f"{site}/tickets/0/",
        },
    }


def send_test_call(url: str, secret: str = "", *, trigger: Trigger | None = None) -> TestCallResult:
    """POST a signed test payload to `url` now; what the receiver answered, or why not sent.
    `trigger`: the trigger whose webhook action this is, named in the audit trail."""
    body = json.dumps(test_payload(), separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Sportello-Webhook/1",
        "X-Sportello-Timestamp": timestamp,
        "X-Sportello-Signature": webhooks.sign(body, timestamp, secret),
        "X-Sportello-Delivery": f"test-{uuid.uuid4().hex}",
    }
    started = time.monotonic()
    status: int | None = None
    excerpt = error = ""
    try:
        status, answer = _post(url, body, headers)
        excerpt = answer.decode("utf-8", errors="replace")
    except webhooks.Refused as exc:
        error = str(exc)
    except ValueError as exc:
        error = f"Not sent: {exc}"
    except socket.gaierror:
        error = "Could not reach the receiver: its host name does not resolve"
    except (OSError, http.client.HTTPException) as exc:
        error = f"Could not reach the receiver: {exc or type(exc).__name__}"
    elapsed = int((time.monotonic() - started) * 1000)
    if status is not None and 300 <= status < 400:
        error = "Redirects are not followed: give the webhook its final address"
    result = TestCallResult(url=url, status=status, elapsed_ms=elapsed, excerpt=excerpt, error=error)
    _record_test_call(result, own_secret=bool(secret), trigger=trigger)
    return result


def _record_test_call(result: TestCallResult, *, own_secret: bool, trigger: Trigger | None) -> None:
    """A test call posts to another system in the help desk's name: the audit trail says who
    (the request's user), where (without the query, which may hold a key), and what came back;
    never the secret nor the answer."""
    url = audit.trail_url(result.url)
    audit.power_used(
        "webhook.test_call",
        target=trigger,  # the trigger's type and id, or none for an address typed
        target_type="" if trigger is not None else "automation.webhook",
        target_label=f"{trigger.name} → {url}" if trigger is not None else url,
        details={
            "url": url,
            "own_secret": own_secret,  # False: signed with the server's key
            "status": result.status,
            "ok": result.ok,
            "error": result.error[:300],
            "elapsed_ms": result.elapsed_ms,
        },
    )


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """webhooks.post, keeping the start of the answer."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        raise ValueError("The webhook address must be an http(s) URL with a host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    last_error: OSError | None = None
    for address in webhooks.addresses_for(host, port):
        pinned = webhooks._PinnedHTTPSConnection if parts.scheme == "https" else webhooks._PinnedHTTPConnection
        connection = pinned(host, port, address, webhooks.TIMEOUT_SECONDS)
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read(EXCERPT_BYTES)
        except ConnectionRefusedError as exc:
            last_error = exc
        finally:
            connection.close()
    raise last_error or OSError("no address")


def retry_webhook_call(actor: User, call: WebhookCall) -> WebhookCall:
    """Send a failed call once more, as it was (same payload, secret and delivery id).

    Its attempts go on counting, so a call that used up its automatic retries gets one attempt;
    the outbox sends it after commit.
    """
    if not actor.is_admin:
        raise Forbidden("Only admins can retry webhook calls")
    with transaction.atomic():
        updated = WebhookCall.objects.filter(pk=call.pk, state=WebhookCall.State.FAILED).update(
            state=WebhookCall.State.QUEUED, next_attempt_at=None
        )
        if not updated:
            raise Conflict("Only a failed call can be sent again")
        call.refresh_from_db()
        outbox.put(webhooks.WEBHOOK, {"call": call.pk}, key=f"{webhooks.WEBHOOK}:{call.pk}:retry:{call.attempts}")
        url = audit.trail_url(call.url)
        audit.power_used(
            "webhook.retry",
            target=call,
            target_label=f"{call.trigger.name if call.trigger else '—'} → {url}"[:200],
            details={"url": url, "attempts": call.attempts},
            actor=actor,
        )
    return call
