"""Outgoing webhooks: a JSON POST signed with HMAC-SHA256, retried with backoff.

The receiver checks `X-Sportello-Signature: sha256=<hex>` computed over
`<X-Sportello-Timestamp>.<body>` with the secret set on the action (or, without one, a key derived
from the server's secret), and may refuse timestamps older than a few minutes (replays).
`X-Sportello-Delivery` is the same on every attempt of one call, so a receiver can drop a
repeat (a call is delivered at least once: see core/outbox.py).

A call is written to the outbox with its `WebhookCall` (the call log admins see), in the
trigger's transaction, and sent from there. Only public internet addresses are called (SSRF):
1. the URL's host is resolved at send time and every address it resolves to must be public
   (not loopback, private, link-local, shared, multicast or reserved, also inside an IPv4-mapped,
   6to4 or Teredo IPv6 address) — so hex, octal or decimal spellings of an address, which the
   resolver turns into the address itself, are judged by what they mean;
2. the connection goes to the very address that was checked (no second lookup that DNS
   rebinding could answer differently), with the host name kept for Host and TLS;
3. redirects are not followed at all: a 3xx answer fails the call (give the final address);
4. a refused address fails at once, before any connection, with one message whatever is there
   (an open port, a closed one, nothing), so the call log cannot be used to scan a network.
Hosts listed in SPORTELLO_WEBHOOK_ALLOW_HOSTS (an admin's setting: an internal receiver) skip
step 1; steps 2 and 3 still hold.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import socket
import ssl
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from sportello.automation.models import WebhookCall
from sportello.core import outbox
from sportello.core.models import OutboxMessage
from sportello.tickets.models import Ticket

if TYPE_CHECKING:
    from sportello.automation.actions import Run

log = logging.getLogger("sportello.automation")

RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))
TIMEOUT_SECONDS = 10
# The outbox kind of a webhook call; payload {"call": WebhookCall id}.
WEBHOOK = "automation.webhook"
# The one message for every address that is not called, whatever listens there.
REFUSED = (
    "Not sent: the receiver's address is not a public internet address "
    "(an administrator can allow a host with SPORTELLO_WEBHOOK_ALLOW_HOSTS)"
)
# NAT64 (RFC 6052): the last 32 bits are an IPv4 address a NAT64 gateway would reach.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def payload_for(ticket: Ticket, reason: str) -> dict[str, Any]:
    return {
        "reason": reason,
        "ticket": {
            "number": ticket.number,
            "subject": ticket.subject,
            "status": ticket.status.slug,
            "state": ticket.state,
            "priority": ticket.priority,
            "channel": ticket.channel,
            "group": ticket.group.name if ticket.group else None,
            "assignee": ticket.assignee.username if ticket.assignee else None,
            "customer": ticket.customer.name,
            "updated_at": ticket.updated_at.isoformat(),
            "url": f"{settings.SITE_URL.rstrip('/')}/tickets/{ticket.number}/",
        },
    }


def queue_webhook(ticket: Ticket, action: dict[str, Any], run: Run) -> WebhookCall:
    """Log the call and write it to the outbox, in one transaction; it is sent after commit."""
    with transaction.atomic():
        call = WebhookCall.objects.create(
            trigger_id=run.trigger_id,
            ticket=ticket,
            url=action["url"],
            secret=str(action.get("secret") or ""),
            payload=payload_for(ticket, run.reason),
        )
        outbox.put(WEBHOOK, {"call": call.pk}, key=f"{WEBHOOK}:{call.pk}")
    return call


def signing_key(secret: str) -> bytes:
    if secret:
        return secret.encode()
    return hmac.new(settings.SECRET_KEY.encode(), b"sportello-webhooks", hashlib.sha256).digest()


def sign(body: bytes, timestamp: str, secret: str) -> str:
    digest = hmac.new(signing_key(secret), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


# --- Sending -----------------------------------------------------------------------------------------


def handle_webhook(message: OutboxMessage) -> None:
    """The outbox handler: one attempt of the call; the call log says how it went.

    A call already sent or failed is left alone; one left "sending" by a worker that died is sent
    again (with the same X-Sportello-Delivery id).
    """
    call = WebhookCall.objects.filter(pk=message.payload.get("call")).first()
    if call is None or call.state in (WebhookCall.State.SENT, WebhookCall.State.FAILED):
        return
    WebhookCall.objects.filter(pk=call.pk).update(state=WebhookCall.State.SENDING, attempts=F("attempts") + 1)
    call.refresh_from_db()
    outcome = deliver(call)
    call.refresh_from_db()
    if outcome == "retrying":
        raise outbox.Retry(call.last_error, at=call.next_attempt_at)
    if outcome == "failed":
        raise outbox.Failed(call.last_error)


class Refused(Exception):
    """The receiver's address is not one a webhook may reach."""


def allowed_host(host: str) -> bool:
    """The host is on the admin's allow-list (SPORTELLO_WEBHOOK_ALLOW_HOSTS): any address goes."""
    wanted = {h.strip().lower().rstrip(".") for h in settings.WEBHOOK_ALLOW_HOSTS if h.strip()}
    return host.lower().rstrip(".") in wanted


def public_address(address: str) -> bool:
    """A global unicast address: not loopback, private, link-local, shared, multicast or reserved."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) is link-local anyway
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            candidates.append(ip.ipv4_mapped)
        if ip.sixtofour is not None:
            candidates.append(ip.sixtofour)
        if ip.teredo is not None:
            candidates.append(ip.teredo[1])
        if ip in _NAT64:
            candidates.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return all(c.is_global and not c.is_multicast and not c.is_reserved for c in candidates)


def addresses_for(host: str, port: int) -> list[str]:
    """The addresses to connect to, in the resolver's order; Refused when any is not public.

    All must pass, not one: a name that also resolves to an internal address is not called.
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not allowed_host(host) and not all(public_address(a) for a in addresses):
        raise Refused(REFUSED)
    return addresses


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to an address checked beforehand; `host` is only for the Host header."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """As above, with TLS: the certificate is checked against the host name (SNI too)."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self.tls)
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST `body` to `url` through a checked address; the answer's status. Raises Refused,
    ValueError (a malformed URL) or OSError (the receiver could not be reached)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        raise ValueError("The webhook address must be an http(s) URL with a host")
    port = parts.port or (443 if parts.scheme == "https" else 80)  # ValueError for a port out of range
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    last_error: OSError | None = None
    for address in addresses_for(host, port):
        pinned = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
        connection = pinned(host, port, address, TIMEOUT_SECONDS)
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read(65536)  # a receiver's answer is not kept; do not wait for a huge one
            return response.status
        except ConnectionRefusedError as exc:  # the next address of the name may answer
            last_error = exc
        finally:
            connection.close()
    raise last_error or OSError("no address")


def deliver(call: WebhookCall) -> str:
    """One attempt. 2xx is done; a network error, 429 or 5xx is retried; a refused address, a
    redirect and other 4xx fail at once."""
    body = json.dumps(call.payload, separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Sportello-Webhook/1",
        "X-Sportello-Timestamp": timestamp,
        "X-Sportello-Signature": sign(body, timestamp, call.secret),
        "X-Sportello-Delivery": str(call.pk),
    }
    status: int | None = None
    permanent = False
    try:
        status = post(call.url, body, headers)
    except Refused as exc:
        error, permanent = str(exc), True
    except ValueError as exc:
        error, permanent = f"Not sent: {exc}", True
    except socket.gaierror:
        error = "Could not reach the receiver: its host name does not resolve"
    except (OSError, http.client.HTTPException) as exc:
        error = f"Could not reach the receiver: {exc or type(exc).__name__}"
    else:
        if 200 <= status < 300:
            WebhookCall.objects.filter(pk=call.pk).update(
                state=WebhookCall.State.SENT, last_status=status, last_error="", sent_at=timezone.now()
            )
            return "sent"
        error = f"The receiver answered {status} {http.client.responses.get(status, '')}".rstrip()
        if 300 <= status < 400:
            error += "; redirects are not followed: give the webhook its final address"
    transient = not permanent and (status is None or status == 429 or status >= 500)
    if transient and call.attempts <= len(RETRY_DELAYS):
        when = timezone.now() + RETRY_DELAYS[call.attempts - 1]
        WebhookCall.objects.filter(pk=call.pk).update(
            state=WebhookCall.State.RETRYING, last_status=status, last_error=error, next_attempt_at=when
        )
        log.info(
            "webhook %s to %s failed (attempt %s), retrying at %s: %s", call.pk, call.url, call.attempts, when, error
        )
        return "retrying"
    WebhookCall.objects.filter(pk=call.pk).update(state=WebhookCall.State.FAILED, last_status=status, last_error=error)
    log.warning("webhook %s to %s failed: %s", call.pk, call.url, error)
    return "failed"


def retry_due_webhooks(now: datetime | None = None) -> int:
    """The periodic safety net, kept under its old name: enqueue a drain when webhook calls are due
    (a retry, a lost task, a worker that died mid-call); returns how many. The outbox sweep
    (core/outbox.py) covers every kind of message; this one looks at webhooks only."""
    from sportello.core.tasks import drain_outbox

    due = outbox.due_messages(now, kinds=[WEBHOOK]).count()
    if due:
        drain_outbox.enqueue()
    return due


# Registered when the app's ready() imports this module (automation/apps.py). The call log keeps
# the attempts and the backoff; the handler tells the outbox when to try again.
outbox.register(WEBHOOK, handle_webhook)
