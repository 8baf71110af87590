"""Mail tasks: they take ids, not objects, and are safe to run twice.

Also the outbox handlers of automatic mails (registered below; core/outbox.py runs them): each
sends under the Message-ID of its outbox row (mail/outbound.py, outbox_message_id).
"""

from __future__ import annotations

import logging
import smtplib

from django_tasks import task

from sportello.core import outbox
from sportello.core.models import OutboxMessage
from sportello.customers.models import Customer
from sportello.mail import outbound
from sportello.tickets.delivery import RETRY_DELAYS
from sportello.tickets.delivery import STALE_SENDING as STALE_SENDING
from sportello.tickets.delivery import deliver_entry as deliver_entry
from sportello.tickets.delivery import retry_due_deliveries as retry_due_deliveries
from sportello.tickets.delivery import schedule_retry as schedule_retry
from sportello.tickets.models import Ticket

log = logging.getLogger("sportello.mail")

# Replies are delivered by the channel-neutral delivery task (tickets/delivery.py) through the
# email adapter that mail/apps.py registers; its names stay importable from here.


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
