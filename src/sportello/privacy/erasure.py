"""Erasing a customer (GDPR art. 17): their personal data removed, the counts kept.

What goes (docs/privacy.md lists every place, model by model):

1. The customer file: name → "Erased customer #id", notes and custom fields cleared (the
   organization, a company's, stays: reports by organization keep their figures); identities,
   agents' notes, change history and merge records deleted. Files merged into this one (the same
   person under another address) are erased with it.
2. Their tickets: the subject, custom fields and every entry's text (messages, notes, calls, both
   ways) replaced by "[erased]"; mail headers and platform details dropped from the entries'
   metadata; history rows that quote an address or a text blanked (status, priority, group and
   assignee changes stay: reports count them); attachments deleted, files too. Entries they wrote
   on other tickets are redacted the same way.
3. Raw mails of their tickets or from their addresses, with their files; the chat sessions'
   visitor id; social conversations' handles and what the platforms sent; calls' numbers,
   recordings and events; survey comments and addresses (the rating stays); notifications' excerpts;
   trigger and time-rule outcomes and webhook calls about their tickets; outbox rows (automatic
   mail, sent or waiting) for their tickets or addresses; their portal account, deactivated and
   emptied; their export archives; in the forum, their posts' text and their topics' titles
   ("[erased]", the posts and counts stay), their votes, follows and waiting reply mails.
4. The search documents of every ticket touched are rebuilt from what is left.

Rows stay where reports count them (tickets, entries, surveys, report facts, activity, backlog),
so every report's figures are the same before and after. No domain event is published: triggers
must not act on an erased ticket. The audit record says who erased customer #id and how much went,
never their name or address. Files are deleted after the commit, once nothing can roll back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q

from sportello.accounts.models import User
from sportello.audit import services as audit
from sportello.core.errors import Conflict, InvalidInput
from sportello.customers.models import Customer, IdentityKind
from sportello.privacy.models import DataExport, Erasure, ErasureReason

ERASED = "privacy.erased"
REDACTED = "[erased]"
# Entry metadata that says nothing about the person: what reports, threading of merges and the
# customer page's call lengths read.
KEPT_METADATA = {"duration_seconds", "via", "follow_up_of", "threaded_by", "moved"}
# History fields whose values are ids or choices, never personal text: kept for reports.
KEPT_CHANGES = {"status", "state", "priority", "group", "assignee", "category", "tags", "merged_into", "snoozed_until"}


@dataclass
class Erased:
    customer_id: int
    counts: dict[str, int] = field(default_factory=dict)
    files: int = 0


def confirmation_for(customer: Customer) -> str:
    """What the admin must type: the customer's first email address, or their number without one."""
    return customer.primary_email or str(customer.pk)


def is_erased(customer: Customer) -> bool:
    return Erasure.objects.filter(customer_id=customer.pk).exists()


def erase_customer(
    actor: User | None, customer: Customer, *, confirmation: str | None, reason: str = ErasureReason.REQUEST
) -> Erased:
    """Erase `customer` (an admin typed `confirmation`; the retention sweep passes None)."""
    if reason == ErasureReason.REQUEST:
        expected = confirmation_for(customer)
        if (confirmation or "").strip().casefold() != expected.casefold():
            raise InvalidInput("Type the customer's email address exactly to confirm the erasure.")
    if customer.merged_into_id is not None:
        raise Conflict("This file was merged into another; erase that one.")
    files: list[str] = []
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        if is_erased(customer):
            raise Conflict("This customer was erased already.")
        counts = _erase(customer, files)
        Erasure.objects.create(customer_id=customer.pk, erased_by=actor, reason=reason, counts=counts)
        audit.record(
            ERASED,
            target_type="customers.customer",
            target_id=customer.pk,
            target_label=f"Customer #{customer.pk}",
            actor=actor,
            actor_label="" if actor is not None else (audit.current_actor_label.get() or "retention"),
            after={"reason": str(reason), **counts},
        )
        transaction.on_commit(lambda: delete_files(files))
    return Erased(customer.pk, counts, files=len(files))


def delete_files(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:  # already gone: what we wanted
            continue


def files_of(people: Any) -> set[str]:
    """The stored files erasing these customers deletes (`people`: ids, or a query of ids):
    their tickets' and entries' attachments, their raw mails, their export archives."""
    from sportello.customers.models import Identity
    from sportello.mail.models import RawMessage
    from sportello.tickets.models import Attachment, Entry, Ticket

    everyone = Customer.objects.filter(Q(pk__in=people) | Q(merged_into__in=people)).values("pk")
    emails = Identity.objects.filter(customer__in=everyone, kind=IdentityKind.EMAIL).values("value")
    tickets = Ticket.objects.filter(customer__in=everyone).values("pk")
    entries = Entry.objects.filter(Q(ticket__in=tickets) | Q(author_customer__in=everyone)).values("pk")
    raw = Q(ticket__in=tickets) | Q(entry__in=entries) | Q(sender__in=emails) | Q(envelope_from__in=emails)
    names = set(Attachment.objects.filter(entry__in=entries).values_list("file", flat=True))
    names |= set(RawMessage.objects.filter(raw).values_list("file", flat=True))
    names |= set(DataExport.objects.filter(customer__in=everyone).values_list("file", flat=True))
    return {name for name in names if name}


def _erase(customer: Customer, files: list[str]) -> dict[str, int]:
    from sportello.assist.models import AssistUse
    from sportello.automation.models import TimeRuleRun, TriggerRun, WebhookCall
    from sportello.chat.models import Conversation as Chat
    from sportello.core.models import OutboxMessage
    from sportello.csat.models import Survey
    from sportello.customers.models import CustomerChange, CustomerMerge, CustomerNote, Identity
    from sportello.forum.services import forget_members
    from sportello.mail.models import RawMessage
    from sportello.notifications.models import Notification
    from sportello.phone.models import Call, CallEvent
    from sportello.portal.models import MagicLink
    from sportello.reports.models import TicketFact
    from sportello.semantic.models import TicketVector
    from sportello.social.models import Conversation as SocialConversation
    from sportello.social.models import InboundEvent
    from sportello.tickets.models import PENDING_DELIVERY, Attachment, Change, DeliveryState, Entry, Ticket

    people = [customer.pk, *Customer.objects.filter(merged_into=customer).values_list("pk", flat=True)]
    identities = list(Identity.objects.filter(customer__in=people))
    emails = [i.value for i in identities if i.kind == IdentityKind.EMAIL]
    phones = [i.value for i in identities if i.kind == IdentityKind.PHONE]
    ticket_ids = list(Ticket.objects.filter(customer__in=people).values_list("pk", flat=True))
    entries = Entry.objects.filter(Q(ticket__in=ticket_ids) | Q(author_customer__in=people))
    entry_ids = list(entries.values_list("pk", flat=True))
    touched = set(ticket_ids) | set(Entry.objects.filter(pk__in=entry_ids).values_list("ticket_id", flat=True))
    counts: dict[str, int] = {"tickets": len(ticket_ids), "entries": len(entry_ids)}
    files += sorted(files_of(people))

    # 2. Threads: texts, metadata, files, history.
    for entry in Entry.objects.filter(pk__in=entry_ids).only("pk", "metadata", "delivery"):
        kept = {k: v for k, v in (entry.metadata or {}).items() if k in KEPT_METADATA}
        pending = entry.delivery in PENDING_DELIVERY
        Entry.objects.filter(pk=entry.pk).update(
            body_text=REDACTED,
            body_html="",
            metadata=kept,
            delivery_error="",
            **({"delivery": DeliveryState.FAILED} if pending else {}),
        )
    attachments = Attachment.objects.filter(entry__in=entry_ids)
    counts["attachments"] = attachments.count()
    attachments.delete()
    Ticket.objects.filter(pk__in=ticket_ids).update(subject=REDACTED, custom_fields={})
    counts["history"] = (
        Change.objects.filter(ticket__in=ticket_ids)
        .exclude(field__in=KEPT_CHANGES)
        .update(old_value="", new_value="", note="")
    )
    Change.objects.filter(ticket__in=ticket_ids, field__in=KEPT_CHANGES).exclude(note="").update(note="")

    # 3. Everything else that names them.
    raw = RawMessage.objects.filter(
        Q(ticket__in=ticket_ids) | Q(entry__in=entry_ids) | Q(sender__in=emails) | Q(envelope_from__in=emails)
    )
    raw_ids = list(raw.values_list("pk", flat=True))
    counts["mails"] = len(raw_ids)
    RawMessage.objects.filter(duplicate_of__in=raw_ids).update(duplicate_of=None)
    RawMessage.objects.filter(pk__in=raw_ids).delete()

    counts["chats"] = 0
    for chat in Chat.objects.filter(Q(customer__in=people) | Q(ticket__in=ticket_ids)).only("pk"):
        Chat.objects.filter(pk=chat.pk).update(visitor=uuid.uuid4())
        counts["chats"] += 1

    conversations = SocialConversation.objects.filter(Q(customer__in=people) | Q(ticket__in=ticket_ids))
    counts["social_conversations"] = 0
    for conversation in conversations.only("pk"):
        SocialConversation.objects.filter(pk=conversation.pk).update(handle=f"erased:{conversation.pk}", address="")
        counts["social_conversations"] += 1
    counts["social_events"] = InboundEvent.objects.filter(entry__in=entry_ids).update(payload={}, reason="")

    calls = Call.objects.filter(
        Q(customer__in=people) | Q(ticket__in=ticket_ids) | Q(from_number__in=phones) | Q(to_number__in=phones)
    )
    call_ids = list(calls.values_list("pk", flat=True))
    counts["calls"] = len(call_ids)
    Call.objects.filter(pk__in=call_ids, direction="in").update(from_number="", recording_url="")
    Call.objects.filter(pk__in=call_ids, direction="out").update(to_number="", recording_url="")
    CallEvent.objects.filter(call__in=call_ids).update(payload={}, reason="")

    Survey.objects.filter(Q(customer__in=people) | Q(ticket__in=ticket_ids)).update(mailed_to="", comment="")
    Notification.objects.filter(ticket__in=touched).update(text="", data={})
    TriggerRun.objects.filter(ticket__in=ticket_ids).update(outcome="")
    TimeRuleRun.objects.filter(ticket__in=ticket_ids).update(outcome="")
    WebhookCall.objects.filter(ticket__in=ticket_ids).delete()
    # What agents' reply assistance sent and got back quotes the thread; the uses stay, counted.
    AssistUse.objects.filter(ticket__in=touched).update(messages=[], answer="")
    # The sentence vectors were made from their subjects and first messages (semantic search).
    TicketVector.objects.filter(ticket__in=ticket_ids).delete()
    counts["outbox"] = _forget_outbox(OutboxMessage, people, ticket_ids, emails)

    # 1. The file itself, and the portal account.
    CustomerNote.objects.filter(customer__in=people).delete()
    CustomerChange.objects.filter(customer__in=people).delete()
    CustomerMerge.objects.filter(Q(survivor__in=people) | Q(duplicate__in=people)).delete()
    counts["identities"] = len(identities)
    Identity.objects.filter(customer__in=people).delete()
    users = list(User.objects.filter(customer__pk__in=people))
    for user in users:
        MagicLink.objects.filter(user=user).delete()
        user.username = f"erased-{user.pk}"
        user.email = user.first_name = user.last_name = ""
        user.is_active = False
        user.set_unusable_password()
        user.save()
    counts["portal_accounts"] = len(users)
    counts.update(forget_members([user.pk for user in users]))
    DataExport.objects.filter(customer__in=people).delete()
    for pk in people:
        Customer.objects.filter(pk=pk).update(name=f"Erased customer #{pk}", notes="", custom_fields={}, user=None)
    counts["merged_files"] = len(people) - 1

    # The report facts keep their rows and counts; the sender domain is what a rebuild of the facts
    # would find without the addresses (nothing), so it goes now rather than at the next rebuild.
    TicketFact.objects.filter(ticket__in=ticket_ids).exclude(sender_domain="").update(sender_domain="")

    # 4. Search: every ticket touched, from what is left.
    _reindex(touched)
    return counts


def _forget_outbox(model: Any, people: list[int], ticket_ids: list[int], emails: list[str]) -> int:
    """Automatic mails (and other side effects) about them: sent ones are logs, waiting ones would
    mail an erased person. Payloads name a ticket, a customer, or hold the address itself."""
    rows = Q(payload__ticket__in=ticket_ids) | Q(payload__customer__in=people)
    for address in emails:
        rows |= Q(payload__icontains=address)
    gone = model.objects.filter(rows).exclude(kind="event")
    count = gone.count()
    gone.delete()
    return int(count)


def _reindex(ticket_ids: set[int]) -> None:
    from sportello.search.backend import index_ticket

    for ticket_id in sorted(ticket_ids):
        index_ticket(ticket_id)
