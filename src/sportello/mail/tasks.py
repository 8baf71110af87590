"""Mail tasks: they take ids, not objects, and are safe to run twice.

Also the outbox handlers of automatic mails (registered below; core/outbox.py runs them): each
sends under the Message-ID of its outbox row (mail/outbound.py, outbox_message_id).
"""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from sportello.core import outbox
from sportello.core.models import OutboxMessage
from sportello.customers.models import Customer
from sportello.mail import outbound
from sportello.tickets.models import PENDING_DELIVERY, DeliveryState, Entry, Ticket
from sportello.tickets.services import claim_delivery, record_delivery

log = logging.getLogger("sportello.mail")

# Waits after the 1st, 2nd, … failed attempt; past the last one the delivery has failed.
RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))
# A claim older than this was left by a worker that died while sending: the sweep tries again.
STALE_SENDING = timedelta(minutes=10)


@task()
def send_acknowledgement(ticket_id: int) -> str:
    """Kept for tasks enqueued before the outbox: writes the acknowledgement's outbox row (once
    per ticket) and delivers it."""
    message = outbox.put(outbound.ACKNOWLEDGEMENT, {"ticket": ticket_id}, key=f"{outbound.ACKNOWLEDGEMENT}:{ticket_id}")
    return outbox.drain(message.pk)


# --- Outbox handlers of automatic mails --------------------------------------------------------------


def _ticket(message: OutboxMessage) -> Ticket | None:
    ticket = Ticket.objects.select_related("customer").filter(pk=message.payload.get("ticket")).first()
    if ticket is None:  # deleted meanwhile: nothing to say to anybody
        log.info("outbox %s (%s): the ticket is gone; nothing sent", message.pk, message.kind)
    return ticket


def handle_acknowledgement(message: OutboxMessage) -> None:
    if (ticket := _ticket(message)) is not None:
        outbound.send_acknowledgement(ticket, message_id=outbound.outbox_message_id(message, "ack", ticket))


def handle_notification(message: OutboxMessage) -> None:
    if (ticket := _ticket(message)) is not None:
        p = message.payload
        outbound.send_notification(
            ticket, to=list(p["to"]), subject=p["subject"], text=p["text"], reason=p["reason"],
            message_id=outbound.outbox_message_id(message, "auto", ticket),
        )  # fmt: skip


def handle_transcript(message: OutboxMessage) -> None:
    if (ticket := _ticket(message)) is not None:
        message_id = outbound.outbox_message_id(message, "transcript", ticket)
        outbound.deliver_chat_transcript(ticket, to=message.payload["to"], message_id=message_id)


def handle_sign_in_link(message: OutboxMessage) -> None:
    p = message.payload
    customer = Customer.objects.filter(pk=p.get("customer")).first()
    if customer is None:
        return
    message_id = outbound.outbox_message_id(message, "signin")
    outbound.send_sign_in_link(customer, to=p["to"], url=p["url"], minutes=int(p["minutes"]), message_id=message_id)


@task()
def deliver_entry(entry_id: int) -> str:
    """One delivery attempt of a reply; a transient failure schedules the next one with backoff.

    1. Claim the entry (queued, or retrying and due); anything else — a note, a reply already
       sent or being sent by another worker, a retry that is not due — is skipped.
    2. Send it. On success record the Message-ID and the recipients.
    3. On a transient failure (no connection, a 4xx answer) record the error and the time of the
       next attempt, and enqueue it for then; after the last delay, or on a permanent failure
       (a 5xx answer, no deliverable address), the delivery has failed and the agent sees why.
    """
    entry = claim_delivery(entry_id)
    if entry is None:
        return "skipped"
    entry = Entry.objects.select_related("ticket__customer", "author_user").get(pk=entry.pk)
    state = entry.metadata["delivery"]
    try:
        sent = outbound.deliver_reply(entry)
    except Exception as exc:
        error = describe(exc)
        attempt = int(state["attempts"]) - int(state.get("round_start", 0))
        if is_transient(exc) and attempt <= len(RETRY_DELAYS):
            when = timezone.now() + RETRY_DELAYS[attempt - 1]
            log.info("delivery of entry %s failed (attempt %s), retrying at %s: %s", entry_id, attempt, when, error)
            record_delivery(entry, DeliveryState.RETRYING, error=error, next_attempt_at=when)
            schedule_retry(entry_id, when)
            return "retrying"
        if is_transient(exc):
            error = f"Gave up after {attempt} attempts: {error}"
        log.warning("delivery of entry %s failed: %s", entry_id, error, exc_info=not isinstance(exc, OSError))
        record_delivery(entry, DeliveryState.FAILED, error=error)
        return "failed"
    record_delivery(entry, DeliveryState.SENT, sent=sent)
    return str(sent["message_id"])


def is_transient(exc: BaseException) -> bool:
    """Worth trying again later: the server was unreachable or answered 4xx (RFC 5321 4.2.1)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return any(400 <= code < 500 for code, _message in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return False
    # Refused or reset connections, timeouts, DNS failures, a server that hung up (all OSError).
    return isinstance(exc, OSError)


def describe(exc: BaseException) -> str:
    """The error in words an agent can act on (the SMTP answer, not a Python repr)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{address} refused: {code} {_text(message)}" for address, (code, message) in exc.recipients.items()
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"The mail server answered {exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, ConnectionRefusedError):
        return f"The mail server refused the connection ({exc.strerror or exc})"
    return str(exc) or type(exc).__name__


def _text(message: bytes | str) -> str:
    return message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)


def schedule_retry(entry_id: int, when: datetime) -> None:
    """Enqueue the next attempt for `when`; a backend that cannot defer leaves it to the sweep."""
    if not deliver_entry.get_backend().supports_defer:
        return
    transaction.on_commit(lambda: deliver_entry.using(run_after=when).enqueue(entry_id))


def retry_due_deliveries(now: datetime | None = None) -> int:
    """The periodic safety net: enqueue deliveries whose task is due but was lost or never deferred.

    Retries past their time, queued replies whose task never ran, and claims left by a worker
    that died while sending (the mail may then go out twice: at least once beats never). The
    claim in `deliver_entry` keeps a task enqueued twice from sending twice.
    """
    now = now or timezone.now()
    defers = deliver_entry.get_backend().supports_defer
    # With deferred tasks a retry is normally on its way: only one well past its time was lost.
    slack = timedelta(minutes=5) if defers else timedelta(0)
    due = []
    rows = Entry.objects.filter(delivery__in=PENDING_DELIVERY).values_list("pk", "delivery", "metadata", "created_at")
    for pk, delivery, metadata, created_at in rows:
        state = (metadata or {}).get("delivery") or {}
        if delivery == DeliveryState.RETRYING:
            next_at = state.get("next_attempt_at")
            if next_at is None or datetime.fromisoformat(next_at) + slack <= now:
                due.append(pk)
        elif delivery == DeliveryState.SENDING:
            started = datetime.fromisoformat(state["last_attempt_at"]) if state.get("last_attempt_at") else created_at
            if started + STALE_SENDING <= now:
                stale = {**metadata, "delivery": {**state, "next_attempt_at": now.isoformat()}}
                Entry.objects.filter(
                    pk=pk, delivery=DeliveryState.SENDING, metadata__delivery__attempts=state.get("attempts", 0)
                ).update(
                    delivery=DeliveryState.RETRYING, metadata=stale,
                    delivery_error="The worker stopped while sending; trying again",
                )  # fmt: skip
                due.append(pk)
        elif created_at + STALE_SENDING <= now:
            due.append(pk)  # queued long ago: its task was lost
    for pk in due:
        deliver_entry.enqueue(pk)
    return len(due)


# Registered here, where the mail app's ready() imports them (mail/apps.py imports this module).
for _kind, _handler in (
    (outbound.ACKNOWLEDGEMENT, handle_acknowledgement),
    (outbound.NOTIFICATION, handle_notification),
    (outbound.TRANSCRIPT, handle_transcript),
):
    outbox.register(_kind, _handler, delays=RETRY_DELAYS, transient=is_transient, describe=describe)
# A sign-in link is good for minutes: one quick retry, and the link leaves the row once it is sent.
outbox.register(
    outbound.SIGN_IN_LINK, handle_sign_in_link, delays=RETRY_DELAYS[:1],
    transient=is_transient, describe=describe, secret=True,
)  # fmt: skip
