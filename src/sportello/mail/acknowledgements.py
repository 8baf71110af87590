"""The acknowledgement of a new ticket: "we received your request, its number is #…".

A listener of `ticket.created` (events whose payload says `acknowledge`), run by a worker with
the rest of the event's batch: the acknowledgements of a whole batch are written to the outbox in
one statement, one per ticket (their key is the ticket's), so a batch delivered again after a
crash writes nothing twice. Intake itself knows no channel: it only says whether the customer
should be acknowledged (a web form or a first mail: yes; a chat, an automatic mail: no).
"""

from __future__ import annotations

from sportello.core import events, outbox
from sportello.mail.outbound import ACKNOWLEDGEMENT


def acknowledge(batch: list[events.Event]) -> None:
    outbox.put_keyed(
        ACKNOWLEDGEMENT,
        {
            f"{ACKNOWLEDGEMENT}:{event.ticket_id}": {"ticket": event.ticket_id}
            for event in batch
            if event.data.get("acknowledge")
        },
    )


@events.batched(acknowledge)
def on_ticket_created(event: events.Event) -> None:
    acknowledge([event])
