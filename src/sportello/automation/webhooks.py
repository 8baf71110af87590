"""Outgoing webhooks: a JSON POST signed with HMAC-SHA256, retried with backoff.

The receiver checks `X-Sportello-Signature: sha256=<hex>` computed over
`<X-Sportello-Timestamp>.<body>` with the secret set on the action (or, without one, a key derived
from the server's secret), and may refuse timestamps older than a few minutes (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from sportello.automation.models import WebhookCall
from sportello.tickets.models import Ticket

if TYPE_CHECKING:
    from sportello.automation.actions import Run

log = logging.getLogger("sportello.automation")

RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))
TIMEOUT_SECONDS = 10


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
    from sportello.automation.tasks import deliver_webhook

    call = WebhookCall.objects.create(
        trigger_id=run.trigger_id,
        ticket=ticket,
        url=action["url"],
        secret=str(action.get("secret") or ""),
        payload=payload_for(ticket, run.reason),
    )
    transaction.on_commit(lambda: deliver_webhook.enqueue(call.pk))
    return call


def signing_key(secret: str) -> bytes:
    if secret:
        return secret.encode()
    return hmac.new(settings.SECRET_KEY.encode(), b"sportello-webhooks", hashlib.sha256).digest()


def sign(body: bytes, timestamp: str, secret: str) -> str:
    digest = hmac.new(signing_key(secret), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def claim(call_id: int) -> WebhookCall | None:
    """Take a queued or due call; None when another worker has it or it is done."""
    now = timezone.now()
    call = WebhookCall.objects.filter(pk=call_id).first()
    if call is None or call.state not in (WebhookCall.State.QUEUED, WebhookCall.State.RETRYING):
        return None
    if call.state == WebhookCall.State.RETRYING and call.next_attempt_at and call.next_attempt_at > now:
        return None
    taken = WebhookCall.objects.filter(pk=call_id, state=call.state, attempts=call.attempts).update(
        state=WebhookCall.State.SENDING, attempts=call.attempts + 1
    )
    if not taken:
        return None
    call.refresh_from_db()
    return call


def deliver(call: WebhookCall) -> str:
    """One attempt. 2xx is done; a network error, 429 or 5xx is retried; other 4xx fail at once."""
    body = json.dumps(call.payload, separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    request = urllib.request.Request(
        call.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Sportello-Webhook/1",
            "X-Sportello-Timestamp": timestamp,
            "X-Sportello-Signature": sign(body, timestamp, call.secret),
            "X-Sportello-Delivery": str(call.pk),
        },
    )
    status: int | None = None
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status, error = exc.code, f"The receiver answered {exc.code} {exc.reason}"
    except (urllib.error.URLError, OSError) as exc:
        error = f"Could not reach the receiver: {getattr(exc, 'reason', exc)}"
    else:
        WebhookCall.objects.filter(pk=call.pk).update(
            state=WebhookCall.State.SENT, last_status=status, last_error="", sent_at=timezone.now()
        )
        return "sent"
    transient = status is None or status == 429 or status >= 500
    if transient and call.attempts <= len(RETRY_DELAYS):
        when = timezone.now() + RETRY_DELAYS[call.attempts - 1]
        WebhookCall.objects.filter(pk=call.pk).update(
            state=WebhookCall.State.RETRYING, last_status=status, last_error=error, next_attempt_at=when
        )
        log.info(
            "webhook %s to %s failed (attempt %s), retrying at %s: %s", call.pk, call.url, call.attempts, when, error
        )
        schedule_retry(call.pk, when)
        return "retrying"
    WebhookCall.objects.filter(pk=call.pk).update(state=WebhookCall.State.FAILED, last_status=status, last_error=error)
    log.warning("webhook %s to %s failed: %s", call.pk, call.url, error)
    return "failed"


def schedule_retry(call_id: int, when: datetime) -> None:
    """Enqueue the next attempt for `when`; a backend that cannot defer leaves it to the sweep."""
    from sportello.automation.tasks import deliver_webhook

    if deliver_webhook.get_backend().supports_defer:
        deliver_webhook.using(run_after=when).enqueue(call_id)


def retry_due_webhooks(now: datetime | None = None) -> int:
    """The periodic safety net: calls whose retry is due (or whose task was lost) are enqueued."""
    from sportello.automation.tasks import deliver_webhook

    now = now or timezone.now()
    slack = timedelta(minutes=5) if deliver_webhook.get_backend().supports_defer else timedelta(0)
    due = list(
        WebhookCall.objects.filter(state=WebhookCall.State.RETRYING, next_attempt_at__lte=now - slack).values_list(
            "pk", flat=True
        )
    )
    due += WebhookCall.objects.filter(
        state=WebhookCall.State.QUEUED, created_at__lte=now - timedelta(minutes=10)
    ).values_list("pk", flat=True)
    for pk in due:
        deliver_webhook.enqueue(pk)
    return len(due)
