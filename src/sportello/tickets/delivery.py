"""The registry of channel adapters' outgoing side, and the one delivery path of outgoing entries.

Every channel is only an adapter (ARCHITECTURE.md). Each channel app registers one `Adapter` in
its AppConfig.ready(): how to deliver an outgoing entry (a reply, a template message), how to read
its failures (worth a retry or not, in words an agent can act on), and what the composer and the
thread should say about it. Tickets know the registry only: `tickets/` never imports a channel by
name.

Inbound needs no registry: each channel's own endpoint verifies and parses what arrives and hands
`Inbound` values to `tickets.intake.ingest`, answering the sender in the sender's terms (SMTP
codes, Meta's handshake, Twilio's TwiML), which no one shape would fit. Where each lives:
mail in `mail/` (IMAP polls, the LMTP listener, the raw-MIME endpoint); the messaging platforms in
`social/platforms/` (the `Platform` protocol of `base.py`: `verify`, `parse`, `fetch_media`,
`send` — each platform's both ways), driven by `social/services.receive`; phone calls in
`phone/parse.py` (generic CTI and Twilio fields read into call events) and `phone/views.py`
(tokens and X-Twilio-Signature), turned into call entries by `phone/services.py`; the web form,
portal, chat and API in their apps' views.

Outbound: a reply is stored first (tickets/services.py), then `schedule_delivery` enqueues
`deliver_entry`, which claims the entry, asks the registry for its adapter and delivers it; a
transient failure (no connection, a platform's 429 or 5xx) is retried with backoff, and after
the last try the entry shows that it failed and why. Which adapter: the one the agent chose
(`metadata["via"]`), else the channel of the customer's latest message on the ticket, else the
ticket's channel, else the fallback (mail: replies to web form, portal and API tickets are mailed).

Delivery state after sending: platforms that report it (WhatsApp's status callbacks) move the
entry on through `report_state` — sent → delivered → read, or failed with the platform's reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from sportello.tickets.models import PENDING_DELIVERY, DeliveryState, Direction, Entry

log = logging.getLogger("sportello.delivery")

# Waits after the 1st, 2nd, … failed attempt; past the last one the delivery has failed.
RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))
# A claim older than this was left by a worker that died while sending: the sweep tries again.
STALE_SENDING = timedelta(minutes=10)


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, OSError)


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


@dataclass(frozen=True)
class Adapter:
    """One channel, both ways.

    `deliver(entry)` sends an outgoing entry and returns what the entry keeps (the platform's
    message id, the recipients); it raises on failure, and `is_transient(exc)` says whether the
    failure is worth another try. `explain(metadata)` says why an inbound message is on its ticket
    (None when the adapter has nothing to say).
    """

    name: str
    channels: tuple[str, ...]
    deliver: Callable[[Entry], dict[str, Any]]
    is_transient: Callable[[BaseException], bool] = _transient
    describe: Callable[[BaseException], str] = _describe
    retry_delays: tuple[timedelta, ...] = RETRY_DELAYS
    explain: Callable[[dict[str, Any]], dict[str, str] | None] | None = None
    # Carries replies on channels with no adapter of their own (web form, portal, API, chat tickets).
    fallback: bool = False
    # What the composer must tell the agent before a reply on this ticket goes out by this channel
    # (WhatsApp's closed 24-hour window), or None; called with the ticket's id.
    composer_notice: Callable[[int], str | None] | None = None
    # Refuses what comes from now on from a sender (an address, or a whole domain for mail), for
    # "Block sender" on a ticket; called with the value and the agent.
    block: Callable[[str, Any], Any] | None = None


_by_channel: dict[str, Adapter] = {}
_fallback: list[Adapter] = []


def register(adapter: Adapter) -> None:
    """Make `adapter` the one for its channels (registering again replaces it: tests, reloads)."""
    for channel in adapter.channels:
        _by_channel[channel] = adapter
    if adapter.fallback:
        _fallback[:] = [adapter]


def adapters() -> list[Adapter]:
    return list(dict.fromkeys(_by_channel.values()))


def adapter_of(channel: str) -> Adapter | None:
    """The adapter registered for `channel` itself (no fallback)."""
    return _by_channel.get(channel)


def adapter_for(entry: Entry) -> Adapter:
    """The adapter that delivers `entry`: the agent's choice, else the channel of the customer's
    latest message on the ticket, else the ticket's channel, else the fallback (mail)."""
    if "forward" in (entry.metadata or {}):  # a forward goes to a third party's address
        return _fallback_adapter(entry)
    chosen = _by_channel.get(str((entry.metadata or {}).get("via") or ""))
    if chosen is not None:
        return chosen
    latest = (
        Entry.objects.filter(ticket_id=entry.ticket_id, direction=Direction.INBOUND, internal=False)
        .order_by("-created_at", "-id")
        .values_list("channel", flat=True)
        .first()
    )
    for channel in (latest, entry.channel):
        if channel and channel in _by_channel:
            return _by_channel[channel]
    return _fallback_adapter(entry)


def _fallback_adapter(entry: Entry) -> Adapter:
    if not _fallback:
        raise LookupError(f"No channel adapter delivers entry {entry.pk} (channel {entry.channel!r})")
    return _fallback[0]


def composer_notice(ticket_id: int, channel: str) -> str | None:
    """What the ticket's channel says the agent should know before replying (None: nothing, and
    no statement for channels that never have anything to say, as mail)."""
    adapter = _by_channel.get(channel)
    if adapter is None or adapter.composer_notice is None:
        return None
    return adapter.composer_notice(ticket_id)


def threading_reason(metadata: dict[str, Any] | None) -> dict[str, str] | None:
    """Why an inbound message is on its ticket, as the adapter that explains it says; None when none does."""
    for adapter in adapters():
        if adapter.explain is not None and (reason := adapter.explain(metadata or {})) is not None:
            return reason
    return None


def delivery_attempts(metadata: dict[str, Any] | None) -> dict[str, Any]:
    """The attempts so far, the last one's time and error, and the next try (an aware datetime or None)."""
    state = (metadata or {}).get("delivery") or {}
    next_at = state.get("next_attempt_at")
    return {
        "attempts": int(state.get("attempts", 0)),
        "next_attempt_at": datetime.fromisoformat(next_at) if next_at else None,
        "last_error": state.get("last_error", ""),
    }


# --- The delivery task ------------------------------------------------------------------------------


def schedule_delivery(entry_id: int) -> None:
    """Deliver the entry once the caller's transaction commits."""
    transaction.on_commit(lambda: deliver_entry.enqueue(entry_id))


@task()
def deliver_entry(entry_id: int) -> str:
    """One delivery attempt of an outgoing entry; a transient failure schedules the next with backoff.

    1. Claim the entry (queued, or retrying and due); anything else — a note, a reply already
       sent or being sent by another worker, a retry that is not due — is skipped.
    2. Deliver it through its adapter; on success record what the adapter returns (message id,
       recipients).
    3. On a transient failure record the error and the time of the next attempt, and enqueue it
       for then; after the last delay, or on a permanent failure, the delivery has failed and
       the agent sees why.
    """
    from sportello.tickets.services import claim_delivery, record_delivery

    entry = claim_delivery(entry_id)
    if entry is None:
        return "skipped"
    entry = Entry.objects.select_related("ticket__customer", "author_user").get(pk=entry.pk)
    state = entry.metadata["delivery"]
    try:
        adapter = adapter_for(entry)
    except LookupError as exc:
        record_delivery(entry, DeliveryState.FAILED, error=str(exc))
        return "failed"
    try:
        sent = adapter.deliver(entry)
    except Exception as exc:
        error = adapter.describe(exc)
        attempt = int(state["attempts"]) - int(state.get("round_start", 0))
        transient = adapter.is_transient(exc)
        if transient and attempt <= len(adapter.retry_delays):
            when = timezone.now() + adapter.retry_delays[attempt - 1]
            log.info("delivery of entry %s failed (attempt %s), retrying at %s: %s", entry_id, attempt, when, error)
            record_delivery(entry, DeliveryState.RETRYING, error=error, next_attempt_at=when)
            schedule_retry(entry_id, when)
            return "retrying"
        if transient:
            error = f"Gave up after {attempt} attempts: {error}"
        log.warning("delivery of entry %s failed: %s", entry_id, error, exc_info=not isinstance(exc, OSError))
        record_delivery(entry, DeliveryState.FAILED, error=error)
        return "failed"
    record_delivery(entry, DeliveryState.SENT, sent=sent)
    return str(sent.get("message_id") or adapter.name)


def schedule_retry(entry_id: int, when: datetime) -> None:
    """Enqueue the next attempt for `when`; a backend that cannot defer leaves it to the sweep."""
    if not deliver_entry.get_backend().supports_defer:
        return
    transaction.on_commit(lambda: deliver_entry.using(run_after=when).enqueue(entry_id))


def retry_due_deliveries(now: datetime | None = None) -> int:
    """The periodic safety net: enqueue deliveries whose task is due but was lost or never deferred.

    Retries past their time, queued replies whose task never ran, and claims left by a worker
    that died while sending (the message may then go out twice: at least once beats never). The
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


# --- Delivery state reported by the platform ------------------------------------------------------

# How far a delivery has come; a platform's late or repeated report never moves it back.
_PROGRESS: dict[str, int] = {DeliveryState.SENT: 1, DeliveryState.DELIVERED: 2, DeliveryState.READ: 3}


def report_state(entry: Entry, state: str, *, error: str = "", at: datetime | None = None) -> bool:
    """A platform's word on a delivered entry: sent, delivered, read, or failed (with its reason).

    Reports come out of order and more than once (webhooks are retried): a state only moves
    forward, and a failure after `read` is ignored. The time of each report is kept in the
    metadata (`platform_states`). Returns whether the entry changed.
    """
    if state == DeliveryState.FAILED:
        if entry.delivery == DeliveryState.READ:
            return False
    elif state not in _PROGRESS or _PROGRESS[state] <= _PROGRESS.get(entry.delivery, 0):
        return False
    reports = dict((entry.metadata or {}).get("platform_states") or {})
    reports[state] = (at or timezone.now()).isoformat()
    fields: dict[str, Any] = {"metadata": {**(entry.metadata or {}), "platform_states": reports}, "delivery": state}
    if state == DeliveryState.FAILED:
        fields["delivery_error"] = error[:2000] or "The platform reported the message as failed"
    Entry.objects.filter(pk=entry.pk).update(**fields)
    for name, value in fields.items():
        setattr(entry, name, value)
    return True
