"""Retention rules: customers inactive for N years are erased, closed tickets older than N months
deleted with their files. Run by the scheduler a few batches an hour (`scheduled_run`), by
`sportello privacy retention` to the end, and counted without a change by a dry run.

Order matters and is fixed: customers first, then tickets. Erasing a customer leaves their tickets
in place (subject and texts redacted, `updated_at` untouched), so the tickets a dry run counts are
the ones the real run deletes; deleting tickets first could make a customer whose only recent
ticket just went look inactive, which the dry run would not have counted.

A deleted ticket takes its report facts with it (the reports' figures for that old period drop);
erased customers keep theirs (erasure.py). Each batch is one transaction; files go after commit.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from sportello.audit import services as audit
from sportello.audit.models import Action
from sportello.customers.models import Customer
from sportello.privacy.erasure import delete_files, erase_customer, files_of
from sportello.privacy.models import Erasure, ErasureReason, RetentionPolicy

log = logging.getLogger("sportello.privacy")

# Batches one scheduled run may do (of each rule); the next hour goes on where it stopped.
SCHEDULED_BATCHES = 10
DAYS_PER_YEAR = 365
DAYS_PER_MONTH = 30


@dataclass
class RetentionCounts:
    customers: int = 0
    tickets: int = 0
    files: int = 0
    batches: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def inactive_customers(policy: RetentionPolicy, now: Any = None) -> QuerySet[Customer]:
    """Customers not yet erased, not merged away, created before the cutoff and with no ticket
    updated since it."""
    from sportello.tickets.models import Ticket

    if not policy.anonymise_inactive_years:
        return Customer.objects.none()
    cutoff = (now or timezone.now()) - timedelta(days=DAYS_PER_YEAR * policy.anonymise_inactive_years)
    recent = Ticket.objects.filter(customer=OuterRef("pk"), updated_at__gte=cutoff)
    erased = Erasure.objects.filter(customer_id=OuterRef("pk"))
    return (
        Customer.objects.filter(created_at__lt=cutoff, merged_into__isnull=True)
        .exclude(Exists(recent))
        .exclude(Exists(erased))
        .order_by("pk")
    )


def old_closed_tickets(policy: RetentionPolicy, now: Any = None) -> QuerySet[Any]:
    from sportello.tickets.models import StatusCategory, Ticket

    if not policy.delete_closed_months:
        return Ticket.objects.none()
    cutoff = (now or timezone.now()) - timedelta(days=DAYS_PER_MONTH * policy.delete_closed_months)
    return Ticket.objects.filter(state=StatusCategory.CLOSED, updated_at__lt=cutoff).order_by("pk")


def _ticket_files(ticket_ids: list[int]) -> list[str]:
    from sportello.mail.models import RawMessage
    from sportello.tickets.models import Attachment

    names = list(Attachment.objects.filter(entry__ticket__in=ticket_ids).values_list("file", flat=True))
    names += RawMessage.objects.filter(ticket__in=ticket_ids).values_list("file", flat=True)
    return [name for name in names if name]


def dry_run(policy: RetentionPolicy | None = None, now: Any = None) -> RetentionCounts:
    """What a run to the end would remove now, changing nothing."""
    policy = policy or RetentionPolicy.current()
    customers = inactive_customers(policy, now)
    tickets = list(old_closed_tickets(policy, now).values_list("pk", flat=True))
    # Erasing the customers deletes some of these tickets' files first: each file counts once.
    files = set(_ticket_files(tickets))
    if policy.anonymise_inactive_years:
        files |= files_of(customers.values("pk"))
    return RetentionCounts(customers=customers.count(), tickets=len(tickets), files=len(files))


def delete_tickets(ticket_ids: list[int]) -> int:
    """Delete tickets with their threads, raw mails and search documents; files after commit.
    Returns how many files were scheduled for deletion."""
    from sportello.mail.models import RawMessage
    from sportello.search.backend import remove_ticket
    from sportello.tickets.models import Ticket

    files = _ticket_files(ticket_ids)
    with transaction.atomic():
        raw = RawMessage.objects.filter(ticket__in=ticket_ids)
        RawMessage.objects.filter(duplicate_of__in=raw).update(duplicate_of=None)
        raw.delete()
        for ticket_id in ticket_ids:
            remove_ticket(ticket_id)
        Ticket.objects.filter(merged_into__in=ticket_ids).update(merged_into=None)
        Ticket.objects.filter(pk__in=ticket_ids).delete()
        audit.record(
            Action.PRIVACY_TICKETS_DELETED,
            target_type="tickets.ticket",
            target_label=f"{len(ticket_ids)} closed tickets",
            actor_label=audit.current_actor_label.get() or "retention",
            after={"reason": str(ErasureReason.RETENTION), "tickets": len(ticket_ids), "ids": sorted(ticket_ids)},
        )
        transaction.on_commit(lambda: delete_files(files))
    return len(files)


def run(policy: RetentionPolicy | None = None, *, max_batches: int | None = None, now: Any = None) -> RetentionCounts:
    """Apply the rules in batches of `policy.batch_size`, at most `max_batches` of each rule."""
    policy = policy or RetentionPolicy.current()
    size = max(1, policy.batch_size)
    done = RetentionCounts()
    batches = 0
    while max_batches is None or batches < max_batches:
        customers = list(inactive_customers(policy, now)[:size])
        if not customers:
            break
        for customer in customers:
            done.files += erase_customer(None, customer, confirmation=None, reason=ErasureReason.RETENTION).files
        done.customers += len(customers)
        batches += 1
    done.batches += batches
    batches = 0
    while max_batches is None or batches < max_batches:
        ticket_ids = list(old_closed_tickets(policy, now).values_list("pk", flat=True)[:size])
        if not ticket_ids:
            break
        done.files += delete_tickets(ticket_ids)
        done.tickets += len(ticket_ids)
        batches += 1
    done.batches += batches
    RetentionPolicy.objects.filter(pk=policy.pk).update(last_run_at=timezone.now(), last_run=done.as_dict())
    if done.customers or done.tickets:
        log.info("retention: %d customers erased, %d tickets deleted", done.customers, done.tickets)
    return done


def scheduled_run() -> RetentionCounts:
    """The hourly job: expired export archives, then a few batches of each rule."""
    from sportello.privacy.exporting import expire_exports

    expire_exports()
    policy = RetentionPolicy.current()
    if not policy.anonymise_inactive_years and not policy.delete_closed_months:
        return RetentionCounts()
    return run(policy, max_batches=SCHEDULED_BATCHES)
