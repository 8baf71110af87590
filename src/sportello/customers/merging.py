"""Merging two customer files into one, and undoing it.

A merge moves everything of the duplicate to the survivor: its tickets (with their history and
thread), the entries it wrote on other tickets, its identities, agents' notes and the file's
history, satisfaction surveys and chat sessions, and its portal account when the survivor has
none. The survivor keeps its own name, organization and language; it takes the duplicate's where
it has none, and the duplicate's notes are appended to its own. The duplicate's file stays, marked
`merged_into`, so that links to it lead to the survivor and the merge can be undone.

Every id that moved is written into the `CustomerMerge` row. Undoing (within UNDO_DAYS) moves back
exactly those rows that are still on the survivor, and nothing else: a ticket that reached the
survivor after the merge, even from an address that came from the duplicate, stays. Fields the
survivor took over are given back only when nobody changed them since.

Both operations are for full agents who may see every ticket of both files (a restricted agent
would otherwise move, or pull back, tickets outside their groups).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from sportello.core import events
from sportello.core.errors import Conflict, Forbidden, InvalidInput
from sportello.customers.models import Customer, CustomerChange, CustomerMerge, CustomerNote, Identity

if TYPE_CHECKING:
    from sportello.accounts.models import User

UNDO_DAYS = 30
NOTES_SEPARATOR = "\n\n"


def require_merge_rights(actor: User, *customers: Customer) -> None:
    """Forbidden unless `actor` is a full agent who may see every ticket of every one of `customers`."""
    from sportello.tickets.access import require_full_agent, tickets_visible_to
    from sportello.tickets.models import Ticket

    require_full_agent(actor)
    if actor.is_admin or not actor.restricted_to_groups:
        return
    tickets = Ticket.objects.filter(customer__in=[c.pk for c in customers])
    if tickets.exclude(pk__in=tickets_visible_to(actor).values("pk")).exists():
        raise Forbidden(
            _("These customers have tickets outside your groups; only an agent who may see all of them can merge them.")
        )


def require_not_merged(customer: Customer) -> None:
    """Conflict for a file merged into another: changes go to the survivor (or undo the merge first)."""
    if customer.merged_into_id is not None:
        raise Conflict(
            _("This customer was merged into customer %(id)s; change that file, or undo the merge first.")
            % {"id": customer.merged_into_id},
            customer_id=customer.merged_into_id,
        )


def undo_deadline(merge: CustomerMerge) -> Any:
    return merge.merged_at + timedelta(days=UNDO_DAYS)


def can_undo(merge: CustomerMerge) -> bool:
    return merge.undone_at is None and timezone.now() < undo_deadline(merge)


def merge_customers(survivor: Customer, duplicate: Customer, actor: User) -> CustomerMerge:
    """Move everything of `duplicate` into `survivor` (see the module's docstring); the record that
    can undo it comes back.

    1. Refuse merging a file into itself, or a file already merged away, and an agent who may not
       see every ticket of both.
    2. Lock both files, then collect the ids of every row of the duplicate's.
    3. Move them with one UPDATE per table; each moved ticket gets a history row and a new version
       (an agent editing it meanwhile is told it changed) and is indexed again for search.
    4. Mark the duplicate merged, and record the merge on both files' history.
    """
    from sportello.chat.models import Conversation
    from sportello.csat.models import Survey
    from sportello.tickets.models import Entry, Ticket

    if survivor.pk == duplicate.pk:
        raise InvalidInput(_("A customer cannot be merged with itself."), field="duplicate_id")
    require_merge_rights(actor, survivor, duplicate)
    with transaction.atomic():
        locked = {c.pk: c for c in Customer.objects.select_for_update().filter(pk__in=[survivor.pk, duplicate.pk])}
        survivor, duplicate = locked[survivor.pk], locked[duplicate.pk]
        for one in (survivor, duplicate):
            if one.merged_into_id is not None:
                raise Conflict(
                    _("%(customer)s was merged into another customer; open that one instead.") % {"customer": one},
                    customer_id=one.merged_into_id,
                )
        moved: dict[str, Any] = {
            "tickets": list(Ticket.objects.filter(customer=duplicate).values_list("pk", flat=True)),
            "entries": list(Entry.objects.filter(author_customer=duplicate).values_list("pk", flat=True)),
            "identities": list(Identity.objects.filter(customer=duplicate).values_list("pk", flat=True)),
            "notes": list(CustomerNote.objects.filter(customer=duplicate).values_list("pk", flat=True)),
            "changes": list(CustomerChange.objects.filter(customer=duplicate).values_list("pk", flat=True)),
            "surveys": list(Survey.objects.filter(customer=duplicate).values_list("pk", flat=True)),
            "chats": list(Conversation.objects.filter(customer=duplicate).values_list("pk", flat=True)),
            "fields": {},
        }
        _move(moved, duplicate, survivor, actor)
        taken = moved["fields"]
        if not survivor.name and duplicate.name:
            survivor.name = taken["name"] = duplicate.name
        if survivor.organization_id is None and duplicate.organization_id is not None:
            survivor.organization_id = taken["organization"] = duplicate.organization_id
        if duplicate.notes.strip():
            appended = (NOTES_SEPARATOR if survivor.notes else "") + duplicate.notes.strip()
            survivor.notes += appended
            taken["notes"] = appended
        if survivor.user_id is None and duplicate.user_id is not None:
            taken["user"] = duplicate.user_id
            Customer.objects.filter(pk=duplicate.pk).update(user=None)
            survivor.user_id = duplicate.user_id
        survivor.save()
        Customer.objects.filter(pk=duplicate.pk).update(merged_into=survivor)
        duplicate.merged_into = survivor
        merge = CustomerMerge.objects.create(survivor=survivor, duplicate=duplicate, merged_by=actor, moved=moved)
        CustomerChange.objects.bulk_create(
            [
                CustomerChange(customer=survivor, actor=actor, field="merge", new_value=_describe(duplicate)),
                CustomerChange(customer=duplicate, actor=actor, field="merged_into", new_value=_describe(survivor)),
            ]
        )
    return merge


def unmerge_customers(merge: CustomerMerge, actor: User) -> CustomerMerge:
    """Undo a merge: move back to the duplicate exactly the rows that moved and are still on the
    survivor, give back the fields the survivor took over (unless changed since), and unmark the
    duplicate. Refused after UNDO_DAYS, for a merge already undone, and for an agent who may not
    see every ticket of both files."""
    with transaction.atomic():
        merge = CustomerMerge.objects.select_for_update().select_related("survivor", "duplicate").get(pk=merge.pk)
        if merge.undone_at is not None:
            raise Conflict(_("This merge was already undone."))
        if not can_undo(merge):
            raise Conflict(_("A merge can be undone for %(days)d days only.") % {"days": UNDO_DAYS})
        survivor, duplicate = merge.survivor, merge.duplicate
        require_merge_rights(actor, survivor, duplicate)
        moved = merge.moved
        _move(moved, survivor, duplicate, actor)
        taken = moved.get("fields", {})
        survivor = Customer.objects.select_for_update().get(pk=survivor.pk)
        if "name" in taken and survivor.name == taken["name"]:
            survivor.name = ""
        if "organization" in taken and survivor.organization_id == taken["organization"]:
            survivor.organization_id = None
        if taken.get("notes") and survivor.notes.endswith(taken["notes"]):
            survivor.notes = survivor.notes[: -len(taken["notes"])]
        give_back_user = "user" in taken and survivor.user_id == taken["user"]
        if give_back_user:
            survivor.user_id = None
        survivor.save()
        duplicate.merged_into = None
        if give_back_user:
            duplicate.user_id = taken["user"]
        duplicate.save(update_fields=["merged_into", "user", "updated_at"])
        merge.undone_at = timezone.now()
        merge.undone_by = actor
        merge.save(update_fields=["undone_at", "undone_by"])
        CustomerChange.objects.bulk_create(
            [
                CustomerChange(customer=survivor, actor=actor, field="unmerge", old_value=_describe(duplicate)),
                CustomerChange(customer=duplicate, actor=actor, field="merged_into", old_value=_describe(survivor)),
            ]
        )
    return merge


def _describe(customer: Customer) -> str:
    return f"{customer} (#{customer.pk})"


def _move(moved: dict[str, Any], source: Customer, target: Customer, actor: User) -> None:
    """Move the rows named in `moved` that belong to `source` now over to `target`."""
    from sportello.chat.models import Conversation
    from sportello.csat.models import Survey
    from sportello.search.backend import deferred, index_ticket
    from sportello.tickets.models import Change, Entry, Ticket

    tickets = list(
        Ticket.objects.select_for_update().filter(pk__in=moved["tickets"], customer=source).values_list("pk", "version")
    )
    ticket_ids = [pk for pk, _version in tickets]
    now = timezone.now()
    Ticket.objects.filter(pk__in=ticket_ids).update(customer=target, version=F("version") + 1)
    Change.objects.bulk_create(
        [
            Change(
                ticket_id=pk,
                actor=actor,
                field="customer",
                old_value=_describe(source),
                new_value=_describe(target),
                ticket_version=version + 1,
                created_at=now,
            )
            for pk, version in tickets
        ]
    )
    Entry.objects.filter(pk__in=moved["entries"], author_customer=source).update(author_customer=target)
    Identity.objects.filter(pk__in=moved["identities"], customer=source).update(customer=target)
    CustomerNote.objects.filter(pk__in=moved["notes"], customer=source).update(customer=target)
    CustomerChange.objects.filter(pk__in=moved["changes"], customer=source).update(customer=target)
    Survey.objects.filter(pk__in=moved["surveys"], customer=source).update(customer=target)
    Conversation.objects.filter(pk__in=moved["chats"], customer=source).update(customer=target)
    # The search documents hold the customer's name and addresses.
    with deferred():
        for pk in ticket_ids:
            index_ticket(pk)
    # Screens redraw the rows, and SLA clocks are computed again (a policy may follow the
    # customer's organization). Triggers and notifications do not react to a new customer.
    events.publish(
        *(
            events.Event(events.TICKET_UPDATED, pk, actor_id=actor.pk, data={"fields": ["customer"]})
            for pk in ticket_ids
        )
    )


def merges_of(customer: Customer) -> list[CustomerMerge]:
    """The merges this file took part in, newest first (for its page)."""
    return list(
        CustomerMerge.objects.filter(Q(survivor=customer) | Q(duplicate=customer)).select_related(
            "survivor", "duplicate", "merged_by", "undone_by"
        )[:20]
    )
