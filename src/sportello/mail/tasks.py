"""Mail tasks: they take ids, not objects, and are safe to run twice."""

from __future__ import annotations

import logging

from django_tasks import task

from sportello.mail import outbound
from sportello.tickets.models import DeliveryState, Entry, Ticket
from sportello.tickets.services import mark_delivery

log = logging.getLogger("sportello.mail")


@task()
def send_acknowledgement(ticket_id: int) -> bool:
    ticket = Ticket.objects.select_related("customer").filter(pk=ticket_id).first()
    if ticket is None:
        return False
    return outbound.send_acknowledgement(ticket)


@task()
def deliver_entry(entry_id: int) -> str:
    entry = Entry.objects.select_related("ticket__customer", "author_user").filter(pk=entry_id).first()
    if entry is None or entry.internal or entry.delivery == DeliveryState.SENT:
        return "skipped"  # a note is never sent; a sent reply is not sent twice
    try:
        message_id = outbound.deliver_reply(entry)
    except Exception as exc:
        log.warning("delivery of entry %s failed: %s", entry_id, exc)
        mark_delivery(entry_id, DeliveryState.FAILED, str(exc))
        raise
    metadata = {**entry.metadata, "message_id": message_id}
    Entry.objects.filter(pk=entry_id).update(metadata=metadata, delivery=DeliveryState.SENT, delivery_error="")
    return message_id
