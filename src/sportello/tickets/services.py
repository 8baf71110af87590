"""Ticket use cases. Every write to a ticket goes through one of these functions.

Each validates its input, writes in one transaction, records history, bumps the ticket's version
(optimistic concurrency), re-indexes for search, and schedules side effects after commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import ngettext

from sportello.accounts.models import Group, User
from sportello.core import events
from sportello.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from sportello.core.html import html_to_text, sanitize_html, text_to_html
from sportello.core.made import made
from sportello.core.rows import insert as insert_row
from sportello.customers.models import Customer
from sportello.fields import services as custom_fields
from sportello.search import backend as search
from sportello.tickets import delivery, statuses
from sportello.tickets.access import tickets_visible_to
from sportello.tickets.attachments import AttachmentIn, check_sizes, store_attachments
from sportello.tickets.intake import _tags, new_ticket
from sportello.tickets.models import (
    Category,
    Change,
    Channel,
    DeliveryState,
    Direction,
    Entry,
    EntryKind,
    LinkKind,
    Priority,
    Status,
    StatusCategory,
    Ticket,
    TicketLink,
)

UPDATABLE_FIELDS = ("subject", "status", "priority", "group", "assignee", "category", "tags")


def _lock(ticket: Ticket, expected_version: int | None) -> Ticket:
    """Re-read the ticket under a row lock; refuse when the caller's copy is stale."""
    locked = (
        Ticket.objects.select_for_update(of=("self",))
        .select_related("status", "group", "assignee", "category")
        .get(pk=ticket.pk)
    )
    if expected_version is not None and locked.version != expected_version:
        raise Conflict(
            f"Ticket #{locked.number} changed since you opened it (version {expected_version} → {locked.version})",
            current_version=locked.version,
            changes=changes_since(locked, expected_version),
        )
    return locked


def changes_since(ticket: Ticket, version: int) -> list[dict[str, Any]]:
    """What happened to a ticket after `version`: field changes and new thread entries."""
    rows: list[dict[str, Any]] = [
        {
            "type": "change",
            "field": c.field,
            "old": c.old_value,
            "new": c.new_value,
            "by": c.actor.display_name if c.actor else "System",
            "at": c.created_at.isoformat(),
        }
        for c in ticket.changes.filter(ticket_version__gt=version).select_related("actor")
    ]
    rows += [
        {
            "type": "entry",
            "kind": e.kind,
            "internal": e.internal,
            "by": e.author_name,
            "excerpt": e.body_text[:200],
            "at": e.created_at.isoformat(),
        }
        for e in ticket.entries.filter(ticket_version__gt=version).select_related("author_user", "author_customer")
    ]
    return sorted(rows, key=lambda row: row["at"])


def _bump(ticket: Ticket, now: Any) -> None:
    ticket.version += 1
    ticket.updated_at = now


def _record(ticket: Ticket, actor: User | None, field: str, old: Any, new: Any, now: Any, note: str = "") -> None:
    Change.objects.create(
        ticket=ticket,
        actor=actor,
        field=field,
        old_value=_show(old),
        new_value=_show(new),
        note=note,
        ticket_version=ticket.version,
        created_at=now,
    )


def _show(value: Any) -> str:
    """A value as history stores it: in English, whoever acted (pages translate it when shown)."""
    with translation.override("en"):
        return _shown(value)


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, User):
        return value.display_name
    if isinstance(value, list | tuple | set):
        return ", ".join(sorted(str(v) for v in value))
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return str(Priority(value).label)
        except ValueError:
            return str(value)
    return str(value)


def _require_agent(actor: User, *, reply: bool = False) -> None:
    if not actor.is_staff_member:
        raise Forbidden("Only agents can do this")
    if reply and not actor.can_reply:
        raise Forbidden("Light agents can add internal notes only")


# --- Replies and notes ------------------------------------------------------------------------


def reply_to_ticket(
    ticket: Ticket,
    actor: User,
    *,
    body_text: str = "",
    body_html: str = "",
    attachments: list[AttachmentIn] | None = None,
    expected_version: int | None = None,
    status: Status | None = None,
    deliver: bool = True,
    to: list[str] | None = None,
    cc: list[str] | None = None,
    bcc: list[str] | None = None,
    time_spent: int | None = None,
    via: str = "",
) -> Entry:
    """A public reply: stored first, then a task delivers it through the ticket's channel.

    `deliver=False` records a reply that was answered elsewhere (imported history, demo data):
    it is part of the thread but no mail goes out and it shows no delivery state. `to` replaces
    the customer's address; `cc` adds to the others on the thread (reply-all); `bcc` is hidden.
    `via` names the channel to deliver through (tickets/delivery.py); by default the channel of the
    customer's latest message.
    """
    _require_agent(actor, reply=True)
    chosen = {name: value for name, value in (("to", to), ("cc", cc), ("bcc", bcc)) if value}
    if via and delivery.adapter_of(via) is None:
        names = ", ".join(sorted(c for a in delivery.adapters() for c in a.channels))
        raise InvalidInput(f"No channel {via!r} delivers replies; one of: {names}", field="via")
    return _add_entry(
        ticket,
        actor,
        deliver=deliver,
        internal=False,
        body_text=body_text,
        body_html=body_html,
        attachments=attachments or [],
        expected_version=expected_version,
        status=status,
        metadata={**({"recipients": chosen} if chosen else {}), **({"via": via} if via else {})},
        time_spent=time_spent,
    )


def forward_ticket(
    ticket: Ticket,
    actor: User,
    *,
    to: list[str],
    cc: list[str] | None = None,
    bcc: list[str] | None = None,
    body_text: str = "",
    attachments: list[AttachmentIn] | None = None,
    expected_version: int | None = None,
    time_spent: int | None = None,
) -> Entry:
    """Forward the ticket's conversation (its public messages and their files) to any address.

    The forward is an entry of the thread that customers never see (it goes to a third party:
    a supplier, a colleague outside the desk); a task delivers it like a reply. The status and
    the first-response time stay as they are: the customer was not answered.
    """
    _require_agent(actor, reply=True)
    if not to:
        raise InvalidInput("Write the address to forward the ticket to", field="to")
    recipients = {"to": list(to), "cc": list(cc or []), "bcc": list(bcc or [])}
    return _add_entry(
        ticket,
        actor,
        internal=True,
        forward=True,
        body_text=body_text or "—",
        body_html="",
        attachments=attachments or [],
        expected_version=expected_version,
        status=None,
        metadata={"forward": recipients},
        time_spent=time_spent,
    )


def add_note(
    ticket: Ticket,
    actor: User,
    *,
    body_text: str = "",
    body_html: str = "",
    attachments: list[AttachmentIn] | None = None,
    expected_version: int | None = None,
    time_spent: int | None = None,
) -> Entry:
    """An internal note: visible to agents only, never sent to the customer."""
    _require_agent(actor)
    return _add_entry(
        ticket,
        actor,
        internal=True,
        body_text=body_text,
        body_html=body_html,
        attachments=attachments or [],
        expected_version=expected_version,
        status=None,
        time_spent=time_spent,
    )


def _add_entry(
    ticket: Ticket,
    actor: User,
    *,
    internal: bool,
    body_text: str,
    body_html: str,
    attachments: list[AttachmentIn],
    expected_version: int | None,
    status: Status | None,
    deliver: bool = True,
    forward: bool = False,
    metadata: dict[str, Any] | None = None,
    time_spent: int | None = None,
) -> Entry:
    check_sizes(attachments)
    if time_spent is not None and not 0 <= time_spent <= 24 * 60:
        raise InvalidInput("Time spent is in minutes, from 0 to 1440", field="time_spent")
    body_html = sanitize_html(body_html) if body_html else text_to_html(body_text)
    body_text = body_text.strip() or html_to_text(body_html)
    if not body_text and not attachments:
        raise InvalidInput("The message is empty", field="body")
    now = timezone.now()
    send = deliver and (forward or not internal)
    with transaction.atomic():
        ticket = _lock(ticket, expected_version)
        if ticket.merged_into_id:
            raise InvalidInput(f"Ticket #{ticket.number} was merged; write on the ticket it was merged into")
        _bump(ticket, now)
        fields = ["version", "updated_at"]
        if time_spent:
            ticket.time_spent += time_spent
            fields.append("time_spent")
        if not internal:
            if ticket.first_response_at is None:
                ticket.first_response_at = now
                fields.append("first_response_at")
            target = (
                status
                or statuses.on_agent_reply()
                or (statuses.builtin(StatusCategory.OPEN) if ticket.state == StatusCategory.NEW else None)
            )
            if target and target.pk != ticket.status_id:
                fields += _set_status(ticket, actor, target, now)
        ticket.save(update_fields=fields)
        entry = Entry.objects.create(
            ticket=ticket,
            kind=EntryKind.NOTE if internal and not forward else EntryKind.MESSAGE,
            channel=Channel.EMAIL if forward else Channel.AGENT if internal else ticket.channel,
            direction=Direction.INTERNAL if internal and not forward else Direction.OUTBOUND,
            internal=internal,
            author_user=actor,
            body_text=body_text,
            body_html=body_html,
            metadata=metadata or {},
            delivery=DeliveryState.QUEUED if send else DeliveryState.NONE,
            time_spent=time_spent,
            ticket_version=ticket.version,
            created_at=now,
        )
        store_attachments(entry, attachments)
        search.index_ticket(ticket.pk)
        events.publish(
            events.Event(
                events.ENTRY_ADDED, ticket.pk, entry.pk, actor.pk, {"direction": entry.direction, "internal": internal}
            )
        )
        if "status" in fields:  # "reply and solve": the status change is an event of its own
            events.publish(events.Event(events.TICKET_UPDATED, ticket.pk, None, actor.pk, {"fields": ["status"]}))
        if send:
            delivery.schedule_delivery(entry.pk)
    return entry


# --- Inbound entries -------------------------------------------------------------------------


def add_inbound_entry(
    ticket: Ticket,
    author: Customer,
    *,
    channel: str,
    kind: str,
    body_text: str,
    body_html: str = "",
    metadata: dict[str, Any] | None = None,
    attachments: list[AttachmentIn] | None = None,
    internal: bool = False,
    now: datetime,
    reindex: bool = True,
    bumped: bool = False,
) -> Entry:
    """A message on a ticket that is not closed: intake's follow-up, a chat's every next line.

    The caller (intake, which cleaned the input) holds the ticket's row lock in its transaction.
    1. Bump the version (`bumped`: the caller's locking UPDATE did, and `ticket` holds the row it
       returned); a customer writing again needs an answer, so a pending or solved ticket goes
       back to open (not for an `internal` machine message such as a bounce).
    2. Append the entry and store its files.
    3. Search: `reindex` rebuilds the ticket's document from the whole thread; without it the
       entry's text is added to its end (intake's choice, when nothing else in it changed).
    4. After commit: ENTRY_ADDED, then TICKET_UPDATED when the status changed.
    """
    reopened = _touch(ticket, now, reopen=not internal, bumped=bumped)
    entry = made(
        Entry,
        ticket=ticket,
        kind=kind,
        channel=channel,
        direction=Direction.INBOUND,
        internal=internal,
        author_customer=author,
        body_text=body_text,
        body_html=body_html,
        metadata=metadata or {},
        ticket_version=ticket.version,
        created_at=now,
    )
    insert_row(entry)  # nothing listens to an entry's save: its SQL built once, not per message
    store_attachments(entry, attachments or [])
    if reindex:
        search.index_ticket(ticket.pk)
    else:
        search.append_to_ticket(ticket.pk, entry.body_text)
    # The entry first, as for an agent's reply: its listeners (a chat line to the screens) run first.
    events.publish(events.Event(events.ENTRY_ADDED, ticket.pk, entry.pk, data={"direction": "inbound"}))
    if reopened:
        events.publish(events.Event(events.TICKET_UPDATED, ticket.pk, data={"fields": ["status"]}))
    return entry


def _touch(ticket: Ticket, now: datetime, *, reopen: bool, bumped: bool = False) -> bool:
    """A new message bumps the version (unless `bumped` already, in the database and on
    `ticket`); `reopen` sets a pending or solved ticket back to open. True when the status changed.
    With `bumped` and nothing to reopen, nothing is written."""
    update: list[str] = []
    if not bumped:
        _bump(ticket, now)
        update = ["version", "updated_at"]
    if reopen and ticket.state in (StatusCategory.PENDING, StatusCategory.SOLVED):
        old = ticket.status
        ticket.status = statuses.builtin(StatusCategory.OPEN)
        ticket.state = ticket.status.category
        ticket.solved_at = None
        ticket.snoozed_until = None  # a customer's message ends a snooze early
        update += ["status", "state", "solved_at", "snoozed_until"]
        Change.objects.create(
            ticket=ticket,
            field="status",
            old_value=old.name,
            new_value=ticket.status.name,
            note="Reopened by a customer message",
            ticket_version=ticket.version,
            created_at=now,
        )
    if update:
        ticket.save(update_fields=update)
    return "status" in update


# --- Field changes ------------------------------------------------------------------------------


@dataclass
class TicketChanges:
    """What an agent wants to change; a field left as None stays as it is."""

    subject: str | None = None
    status: Status | None = None
    priority: int | None = None
    group: Group | None = None
    clear_group: bool = False
    assignee: User | None = None
    clear_assignee: bool = False
    category: Category | None = None
    clear_category: bool = False
    tags: list[str] | None = None
    # Custom fields to set, by key (fields/services.py); None or "" clears one. Cleaned by update_ticket.
    custom_fields: dict[str, Any] | None = None


def update_ticket(
    ticket: Ticket,
    actor: User,
    changes: TicketChanges,
    *,
    expected_version: int | None = None,
    seen: dict[str, Any] | None = None,
) -> Ticket:
    """Apply field changes, one history row per changed field.

    Two ways to guard against a concurrent edit:
    - `expected_version`: any change to the ticket since that version refuses the whole update.
    - `seen`: the values the agent saw of the fields they changed (`field_value` form). Each
      changed field is checked on its own: a field someone else changed meanwhile to another
      value refuses the update (Conflict naming it, with `details["fields"]`), while changes to
      other fields made meanwhile do not matter. Tags merge: the agent's additions and removals
      relative to what they saw are applied to the tags as they are now.
    """
    _require_agent(actor, reply=True)
    _validate_changes(changes)
    now = timezone.now()
    with transaction.atomic():
        ticket = _lock(ticket, None if seen is not None else expected_version)
        if seen is not None:
            changes = _check_seen(ticket, changes, seen)
            _check_seen_custom(ticket, changes, seen)
        _bump(ticket, now)  # first, so that the history rows carry the version they produce
        fields = _apply(ticket, actor, changes, now)
        fields += _apply_custom(ticket, actor, changes, now)
        tags_changed = changes.tags is not None and _set_tags(ticket, actor, changes.tags, now)
        if not fields and not tags_changed:
            ticket.version -= 1  # nothing changed: nothing was written, the version stays
            return ticket
        ticket.save(update_fields=[*fields, "version", "updated_at"])
        search.index_ticket(ticket.pk)
        changed = _event_fields([*fields, "tags"] if tags_changed else fields)
        events.publish(events.Event(events.TICKET_UPDATED, ticket.pk, None, actor.pk, {"fields": changed}))
    return ticket


# Columns written along with a field (a status sets its category and the solved time): events
# name the field an agent changed, not the columns behind it.
_COLUMN_OF = {"state": "status", "solved_at": "status"}


def _event_fields(columns: list[str]) -> list[str]:
    return list(dict.fromkeys(_COLUMN_OF.get(column, column) for column in columns))


def field_value(ticket: Ticket, name: str) -> str:
    """A field's value as the ticket page's form carries it (a row's id, a number, the tag names)."""
    if name == "subject":
        return ticket.subject
    if name == "priority":
        return str(ticket.priority)
    if name == "tags":
        return ", ".join(sorted(ticket.tags.values_list("name", flat=True)))
    if name in ("status", "group", "assignee", "category"):
        value = getattr(ticket, f"{name}_id")
        return "" if value is None else str(value)
    raise ValueError(name)


def _wanted_value(changes: TicketChanges, name: str) -> str | None:
    """What `changes` sets the field to, in `field_value` form; None when it leaves it alone."""
    if name == "subject":
        return None if changes.subject is None else changes.subject.strip()[:255]
    if name == "priority":
        return None if changes.priority is None else str(changes.priority)
    if getattr(changes, f"clear_{name}", False):
        return ""
    value = getattr(changes, name)
    return None if value is None else str(value.pk)


def _tag_names(value: Any) -> set[str]:
    names = value.split(",") if isinstance(value, str) else list(value or [])
    return {str(name).strip().lower() for name in names if str(name).strip()}


def _check_seen(ticket: Ticket, changes: TicketChanges, seen: dict[str, Any]) -> TicketChanges:
    """The changes to make given what the agent saw; Conflict for a field changed meanwhile."""
    conflicts: list[dict[str, Any]] = []
    for name in ("subject", "status", "priority", "group", "assignee", "category"):
        wanted = _wanted_value(changes, name)
        if wanted is None or name not in seen:
            continue
        before = "" if seen[name] is None else str(seen[name])
        now_value = field_value(ticket, name)
        if now_value not in (before, wanted):
            last = ticket.changes.filter(field=name).select_related("actor").order_by("-id").first()
            conflicts.append(
                {
                    "field": name,
                    "value": last.new_value if last else now_value,
                    "yours": _show(_wanted_object(changes, name)),
                    "by": last.actor.display_name if last and last.actor else "System",
                }
            )
    if conflicts:
        names = ", ".join(row["field"] for row in conflicts)
        raise Conflict(
            f"Ticket #{ticket.number}: {names} changed meanwhile; your change to it was not saved",
            current_version=ticket.version,
            fields=conflicts,
            changes=[],
        )
    if changes.tags is not None and "tags" in seen:
        saw, wanted_tags = _tag_names(seen["tags"]), _tag_names(changes.tags)
        added, removed = wanted_tags - saw, saw - wanted_tags
        current = list(ticket.tags.values_list("name", flat=True))
        merged = [name for name in current if name.lower() not in removed]
        merged += sorted(name for name in added if name not in {c.lower() for c in current})
        changes.tags = merged
    return changes


def _wanted_object(changes: TicketChanges, name: str) -> Any:
    if getattr(changes, f"clear_{name}", False):
        return None
    return getattr(changes, name)


def _validate_changes(changes: TicketChanges) -> None:
    if changes.subject is not None and not changes.subject.strip():
        raise InvalidInput("The subject cannot be empty", field="subject")
    if changes.priority is not None and changes.priority not in Priority.values:
        raise InvalidInput(f"Unknown priority {changes.priority!r}", field="priority")
    if changes.assignee is not None and not changes.assignee.is_staff_member:
        raise InvalidInput("Tickets can be assigned to agents only", field="assignee")
    if changes.assignee is not None and changes.assignee.role == "light_agent":
        raise InvalidInput("Light agents cannot be assignees", field="assignee")
    if changes.custom_fields is not None:
        changes.custom_fields = custom_fields.clean_values("ticket", changes.custom_fields)


def _check_seen_custom(ticket: Ticket, changes: TicketChanges, seen: dict[str, Any]) -> None:
    """Each custom field on its own, like the other fields: `seen["cf_<key>"]` is the value the
    agent saw (fields.services.form_value); refused when someone else changed it meanwhile."""
    conflicts: list[dict[str, Any]] = []
    labels = {d.key: d.label for d in custom_fields.definitions("ticket")} if changes.custom_fields else {}
    for key, value in (changes.custom_fields or {}).items():
        if f"cf_{key}" not in seen:
            continue
        before = "" if seen[f"cf_{key}"] is None else str(seen[f"cf_{key}"])
        now_value = custom_fields.form_value(ticket.custom_fields.get(key))
        if now_value not in (before, custom_fields.form_value(value)):
            label = labels.get(key, key)
            last = ticket.changes.filter(field=label[:50]).select_related("actor").order_by("-id").first()
            conflicts.append(
                {
                    "field": f"cf_{key}",
                    "label": label,
                    "value": last.new_value if last else custom_fields.display_value(ticket.custom_fields.get(key)),
                    "yours": custom_fields.display_value(value),
                    "by": last.actor.display_name if last and last.actor else "System",
                }
            )
    if conflicts:
        names = ", ".join(row["label"] for row in conflicts)
        raise Conflict(
            f"Ticket #{ticket.number}: {names} changed meanwhile; your change to it was not saved",
            current_version=ticket.version,
            fields=conflicts,
            changes=[],
        )


def _apply_custom(ticket: Ticket, actor: User, changes: TicketChanges, now: Any) -> list[str]:
    """Write the cleaned custom-field values; one history row per field, under its label."""
    if not changes.custom_fields:
        return []
    labels = {d.key: d.label for d in custom_fields.definitions("ticket")}
    before = ticket.custom_fields or {}
    after = custom_fields.merged(before, changes.custom_fields)
    if after == before:
        return []
    for key in changes.custom_fields:
        if before.get(key) != after.get(key):
            old, new = (custom_fields.display_value(v.get(key)) for v in (before, after))
            _record(ticket, actor, labels.get(key, key)[:50], old, new, now)
    ticket.custom_fields = after
    return ["custom_fields"]


def _apply(ticket: Ticket, actor: User, changes: TicketChanges, now: Any) -> list[str]:
    """Set the changed fields on `ticket`, record history; return the changed column names."""
    fields: list[str] = []
    if changes.subject is not None and changes.subject.strip()[:255] != ticket.subject:
        _record(ticket, actor, "subject", ticket.subject, changes.subject.strip()[:255], now)
        ticket.subject = changes.subject.strip()[:255]
        fields.append("subject")
    if changes.status is not None and changes.status.pk != ticket.status_id:
        fields += _set_status(ticket, actor, changes.status, now)
    if changes.priority is not None and changes.priority != ticket.priority:
        _record(ticket, actor, "priority", ticket.priority, changes.priority, now)
        ticket.priority = changes.priority
        fields.append("priority")
    for name in ("group", "assignee", "category"):
        new = getattr(changes, name)
        if getattr(changes, f"clear_{name}"):
            new = None
        elif new is None:
            continue
        old = getattr(ticket, name)
        if (old.pk if old else None) != (new.pk if new else None):
            _record(ticket, actor, name, old, new, now)
            setattr(ticket, name, new)
            fields.append(name)
    return fields


def _set_status(ticket: Ticket, actor: User | None, status: Status, now: Any) -> list[str]:
    _record(ticket, actor, "status", ticket.status, status, now)
    ticket.status = status
    ticket.state = status.category
    ticket.solved_at = now if status.category in (StatusCategory.SOLVED, StatusCategory.CLOSED) else None
    return ["status", "state", "solved_at"]


def _set_tags(ticket: Ticket, actor: User, names: list[str], now: Any) -> bool:
    old = sorted(ticket.tags.values_list("name", flat=True))
    tags = _tags(names)
    new = sorted(tag.name for tag in tags)
    if old == new:
        return False
    ticket.tags.set(tags)
    _record(ticket, actor, "tags", old, new, now)
    return True


def set_ticket_language(ticket: Ticket, actor: User, language: str, *, expected_version: int | None = None) -> Ticket:
    """Set the language a ticket's mails go out in (one of settings.LANGUAGES), with its history
    row and a TICKET_UPDATED event, as `update_ticket` sets the other fields. Setting the language
    it has already writes nothing."""
    _require_agent(actor, reply=True)
    if language not in dict(settings.LANGUAGES):
        raise InvalidInput(f"Unknown language {language!r}", field="language")
    now = timezone.now()
    with transaction.atomic():
        ticket = _lock(ticket, expected_version)
        if ticket.language == language:
            return ticket
        _bump(ticket, now)
        _record(ticket, actor, "language", ticket.language, language, now)
        ticket.language = language
        ticket.save(update_fields=["language", "version", "updated_at"])
        events.publish(events.Event(events.TICKET_UPDATED, ticket.pk, None, actor.pk, {"fields": ["language"]}))
    return ticket


# --- Linked tickets -------------------------------------------------------------------------------


def link_tickets(ticket: Ticket, other: Ticket, actor: User, *, kind: str) -> TicketLink:
    """Link two tickets: `related`, `child` (`other` becomes a child of `ticket`) or `parent`
    (`ticket` becomes a child of `other`). Both tickets' history records it.

    A ticket has one parent at most, and a ticket cannot be its own ancestor.
    """
    _require_agent(actor, reply=True)
    if kind not in ("related", "child", "parent"):
        raise InvalidInput(f"Unknown link {kind!r}; one of related, child, parent", field="kind")
    if ticket.pk == other.pk:
        raise InvalidInput("A ticket cannot be linked to itself", field="target")
    child, parent = (other, ticket) if kind == "child" else (ticket, other)
    now = timezone.now()
    with transaction.atomic():
        first, second = sorted([ticket.pk, other.pk])
        locked = {pk: _lock(Ticket(pk=pk), None) for pk in (first, second)}
        if TicketLink.objects.filter(Q(source=ticket, target=other) | Q(source=other, target=ticket)).exists():
            raise InvalidInput(f"#{ticket.number} and #{other.number} are linked already", field="target")
        if kind == "related":
            link = TicketLink.objects.create(source=ticket, target=other, kind=LinkKind.RELATED, created_by=actor,
                                             created_at=now)  # fmt: skip
            notes = {ticket.pk: ("related", f"#{other.number}"), other.pk: ("related", f"#{ticket.number}")}
        else:
            if TicketLink.objects.filter(source=child, kind=LinkKind.PARENT).exists():
                raise InvalidInput(f"#{child.number} has a parent already; unlink it first", field="target")
            if child.pk in _ancestors(parent):
                raise InvalidInput(f"#{child.number} is above #{parent.number} already", field="target")
            link = TicketLink.objects.create(source=child, target=parent, kind=LinkKind.PARENT, created_by=actor,
                                             created_at=now)  # fmt: skip
            notes = {child.pk: ("parent", f"#{parent.number}"), parent.pk: ("child", f"#{child.number}")}
        for pk, (field, value) in notes.items():
            row = locked[pk]
            _bump(row, now)
            _record(row, actor, field, "", value, now, note="Linked")
            row.save(update_fields=["version", "updated_at"])
        events.publish(*(events.Event(events.TICKET_UPDATED, pk, None, actor.pk, {"fields": ["links"]})
                         for pk in (first, second)))  # fmt: skip
    return link


def unlink_tickets(ticket: Ticket, link: TicketLink, actor: User) -> None:
    """Remove a link of `ticket` (either end); both tickets' history records it."""
    _require_agent(actor, reply=True)
    if ticket.pk not in (link.source_id, link.target_id):
        raise NotFound("No such link on this ticket")
    now = timezone.now()
    with transaction.atomic():
        first, second = sorted([link.source_id, link.target_id])
        locked = {pk: _lock(Ticket(pk=pk), None) for pk in (first, second)}
        if not TicketLink.objects.filter(pk=link.pk).delete()[0]:
            return
        source, target = locked[link.source_id], locked[link.target_id]
        names = ("related", "related") if link.kind == LinkKind.RELATED else ("parent", "child")
        for row, field, other in ((source, names[0], target), (target, names[1], source)):
            _bump(row, now)
            _record(row, actor, field, f"#{other.number}", "", now, note="Unlinked")
            row.save(update_fields=["version", "updated_at"])
        events.publish(*(events.Event(events.TICKET_UPDATED, pk, None, actor.pk, {"fields": ["links"]})
                         for pk in (first, second)))  # fmt: skip


def _ancestors(ticket: Ticket) -> set[int]:
    """The ids above `ticket` (its parent, that one's parent, …); a chain is a few rows long."""
    found: set[int] = set()
    current: int | None = ticket.pk
    while current is not None and current not in found:
        found.add(current)
        current = (
            TicketLink.objects.filter(source_id=current, kind=LinkKind.PARENT)
            .values_list("target_id", flat=True)
            .first()
        )
    return found


def links_of(ticket: Ticket, viewer: User) -> dict[str, list[tuple[TicketLink, Ticket]]]:
    """The ticket's links for its page: its parent, its children, related tickets; only those
    `viewer` may see (a restricted agent is not shown the others' subjects). One query when there
    are none, two otherwise, however many there are."""
    grouped: dict[str, list[tuple[TicketLink, Ticket]]] = {"parent": [], "children": [], "related": []}
    # The links alone first (most tickets have none), then the other tickets they name: planning
    # one query that joined both tickets and their statuses cost PostgreSQL 0.5-5 ms at 1M tickets.
    links = list(TicketLink.objects.filter(Q(source=ticket) | Q(target=ticket)))
    if not links:
        return grouped
    others = {
        other.pk: other
        for other in tickets_visible_to(viewer)
        .filter(pk__in={link.target_id if link.source_id == ticket.pk else link.source_id for link in links})
        .select_related("status")
    }
    for link in links:
        other_id = link.target_id if link.source_id == ticket.pk else link.source_id
        if other_id not in others:
            continue  # a ticket the viewer may not see
        other = others[other_id]
        if link.source_id == ticket.pk:
            link.source, link.target = ticket, other
        else:
            link.source, link.target = other, ticket
        if link.kind == LinkKind.RELATED:
            grouped["related"].append((link, other))
        elif link.source_id == ticket.pk:
            grouped["parent"].append((link, other))
        else:
            grouped["children"].append((link, other))
    return grouped


# --- Merge and split ------------------------------------------------------------------------------


def merge_tickets(source: Ticket, target: Ticket, actor: User, *, expected_version: int | None = None) -> Ticket:
    """Move `source`'s whole thread into `target`; `source` is closed and points to `target`."""
    _require_agent(actor, reply=True)
    if source.pk == target.pk:
        raise InvalidInput("A ticket cannot be merged into itself", field="target")
    if target.merged_into_id:
        raise InvalidInput(
            f"Ticket #{target.number} was itself merged; merge into #{target.merged_into.number}",  # type: ignore[union-attr]
            field="target",
        )
    now = timezone.now()
    with transaction.atomic():
        # Lock both rows in id order so two opposite merges cannot deadlock.
        first, second = sorted([source, target], key=lambda t: t.pk)
        locked = {
            first.pk: _lock(first, expected_version if first.pk == source.pk else None),
            second.pk: _lock(second, expected_version if second.pk == source.pk else None),
        }
        source, target = locked[source.pk], locked[target.pk]
        if source.merged_into_id:
            raise InvalidInput(f"Ticket #{source.number} was already merged", field="source")
        _bump(target, now)
        moved = Entry.objects.filter(ticket=source).update(ticket=target, ticket_version=target.version)
        target.tags.add(*source.tags.all())
        note = ngettext("%(count)d entry moved from #%(number)s", "%(count)d entries moved from #%(number)s", moved) % {
            "count": moved,
            "number": source.number,
        }
        _record(target, actor, "merge", "", f"#{source.number}", now, note=note)
        target.save(update_fields=["version", "updated_at"])
        _bump(source, now)
        source.merged_into = target
        fields = _set_status(source, actor, statuses.builtin(StatusCategory.CLOSED), now)
        _record(source, actor, "merged_into", "", f"#{target.number}", now)
        source.save(update_fields=[*fields, "merged_into", "version", "updated_at"])
        search.index_ticket(source.pk)
        search.index_ticket(target.pk)
        events.publish(events.Event(events.TICKETS_MERGED, target.pk, None, actor.pk, {"source": source.pk}))
    return target


def move_entry(entry: Entry, target: Ticket, actor: User, *, expected_version: int | None = None) -> Ticket:
    """Move one message that was threaded onto the wrong ticket to `target`; returns `target`.

    Only messages that came in (a customer's mail, a bounce) can move: a reply we sent carries its
    ticket's number to the customer, and a note was written about its own ticket. The ticket keeps
    at least one message (moving the last one is a merge). `expected_version` is the source's.
    """
    _require_agent(actor, reply=True)
    _require_movable(entry)
    if not tickets_visible_to(actor).filter(pk=target.pk).exists():
        raise NotFound(f"No ticket #{target.number}")
    if target.pk == entry.ticket_id:
        raise InvalidInput(f"The message is already on #{target.number}", field="target")
    now = timezone.now()
    with transaction.atomic():
        # Lock both rows in id order so two opposite moves cannot deadlock.
        first, second = sorted([entry.ticket_id, target.pk])
        locked = {pk: _lock(Ticket(pk=pk), expected_version if pk == entry.ticket_id else None)
                  for pk in (first, second)}  # fmt: skip
        source, target = locked[entry.ticket_id], locked[target.pk]
        if target.merged_into_id:
            raise InvalidInput(
                f"Ticket #{target.number} was merged; move the message to #{target.merged_into.number}",  # type: ignore[union-attr]
                field="target",
            )
        entry = _fresh_entry(entry, source)
        _bump(source, now)
        _bump(target, now)
        _relocate(entry, source, target, actor, now, split=False)
        _record(source, actor, "entry_moved", f"entry {entry.pk}", f"#{target.number}", now,
                note=f"Entry {entry.pk} moved to #{target.number}")  # fmt: skip
        _record(target, actor, "entry_moved_in", f"#{source.number}", f"entry {entry.pk}", now,
                note=f"Entry {entry.pk} moved here from #{source.number}")  # fmt: skip
        source.save(update_fields=["version", "updated_at"])
        target.save(update_fields=["version", "updated_at"])
        search.index_ticket(source.pk)
        search.index_ticket(target.pk)
        for ticket in (source, target):
            events.publish(events.Event(events.TICKET_UPDATED, ticket.pk, entry.pk, actor.pk, {"fields": ["entries"]}))
    return target


def split_entry(entry: Entry, actor: User, *, expected_version: int | None = None) -> Ticket:
    """Move one inbound message out into a new ticket of its own (same customer and channel)."""
    _require_agent(actor, reply=True)
    _require_movable(entry)
    if entry.internal:
        raise InvalidInput("Only customer messages can be split out", field="entry")
    now = timezone.now()
    with transaction.atomic():
        old = _lock(entry.ticket, expected_version)
        entry = _fresh_entry(entry, old)
        new = new_ticket(
            subject=old.subject,
            customer=entry.author_customer or old.customer,
            channel=entry.channel if entry.channel in Channel.values else old.channel,
            priority=old.priority,
            group=old.group,
            language=old.language,
            now=now,
        )
        _bump(old, now)
        _relocate(entry, old, new, actor, now, split=True)
        _record(old, actor, "split", "", f"#{new.number}", now, note=f"Entry {entry.pk} moved to #{new.number}")
        _record(new, actor, "split_from", "", f"#{old.number}", now)
        old.save(update_fields=["version", "updated_at"])
        search.index_ticket(old.pk)
        search.index_ticket(new.pk)
        events.publish(events.Event(events.TICKET_CREATED, new.pk, entry.pk, actor.pk, {"split_from": old.pk}))
    return new


def _require_movable(entry: Entry) -> None:
    if entry.direction != Direction.INBOUND:
        raise InvalidInput(
            "Only messages that came in can be moved or split; replies and notes stay on their ticket", field="entry"
        )


def _fresh_entry(entry: Entry, ticket: Ticket) -> Entry:
    """The entry re-read under its ticket's lock: still there, and not the ticket's last message."""
    fresh = Entry.objects.filter(pk=entry.pk, ticket=ticket).first()
    if fresh is None:
        raise Conflict(f"The message is no longer on #{ticket.number}", current_version=ticket.version, changes=[])
    if ticket.entries.count() < 2:
        raise InvalidInput(f"The message is the only one on #{ticket.number}; merge the ticket instead", field="entry")
    return fresh


def _relocate(entry: Entry, source: Ticket, target: Ticket, actor: User, now: Any, *, split: bool) -> None:
    """Point the entry at `target`; its metadata remembers where it came from (the ticket page says so)."""
    moved = {"from": source.number, "by": actor.display_name, "at": now.isoformat(), "split": split}
    Entry.objects.filter(pk=entry.pk).update(
        ticket=target, ticket_version=target.version, metadata={**entry.metadata, "moved": moved}
    )


# --- Delivery of outgoing messages -------------------------------------------------------------------


def resend_entry(entry: Entry, actor: User) -> Entry:
    """Queue a reply whose delivery failed once more; the retries start again from the first delay."""
    _require_agent(actor, reply=True)
    now = timezone.now()
    with transaction.atomic():
        ticket = _lock(entry.ticket, None)
        entry = Entry.objects.select_for_update().get(pk=entry.pk)
        if (entry.internal and "forward" not in entry.metadata) or entry.direction != Direction.OUTBOUND:
            raise InvalidInput("Only replies and forwards are delivered", field="entry")
        if entry.delivery != DeliveryState.FAILED:
            raise InvalidInput(f"Only a failed delivery can be sent again (this one is {entry.get_delivery_display()})")
        _bump(ticket, now)
        _record(ticket, actor, "delivery", DeliveryState.FAILED.label, DeliveryState.QUEUED.label, now,
                note=f"Entry {entry.pk} sent again after: {entry.delivery_error[:200]}")  # fmt: skip
        ticket.save(update_fields=["version", "updated_at"])
        state = dict(entry.metadata.get("delivery") or {})
        state.update(round_start=int(state.get("attempts", 0)), next_attempt_at=None, resent_by=actor.display_name)
        entry.metadata = {**entry.metadata, "delivery": state}
        entry.delivery = DeliveryState.QUEUED
        entry.save(update_fields=["metadata", "delivery"])
        delivery.schedule_delivery(entry.pk)
    return entry


def claim_delivery(entry_id: int, now: Any = None) -> Entry | None:
    """Take a queued or due delivery for one attempt (state `sending`); None when it is not ours to send.

    The claim is one conditional UPDATE guarded by the state and attempt count we read, so two
    workers handed the same entry (a retry task and a resend, or a task delivered twice) send it once.
    """
    now = now or timezone.now()
    entry = Entry.objects.filter(pk=entry_id).first()
    if entry is None or entry.delivery not in (DeliveryState.QUEUED, DeliveryState.RETRYING):
        return None
    if entry.internal and "forward" not in entry.metadata:  # a note is never sent
        return None
    state = dict(entry.metadata.get("delivery") or {})
    due = state.get("next_attempt_at")
    # A retry task that fires early (clock skew) or was replaced by a later schedule waits its turn.
    if entry.delivery == DeliveryState.RETRYING and due and due > (now + timedelta(seconds=5)).isoformat():
        return None
    attempts = int(state.get("attempts", 0))
    first = "delivery" not in entry.metadata
    guard = ~Q(metadata__has_key="delivery") if first else Q(metadata__delivery__attempts=attempts)
    state.update(attempts=attempts + 1, last_attempt_at=now.isoformat(), next_attempt_at=None)
    metadata = {**entry.metadata, "delivery": state}
    taken = Entry.objects.filter(guard, pk=entry_id, delivery=entry.delivery).update(
        delivery=DeliveryState.SENDING, metadata=metadata
    )
    if not taken:
        return None
    entry.delivery, entry.metadata = DeliveryState.SENDING, metadata
    return entry


def record_delivery(
    entry: Entry, state: str, *, error: str = "", next_attempt_at: Any = None, sent: dict[str, Any] | None = None
) -> None:
    """The outcome of one attempt: sent (with the Message-ID and recipients), retrying, or failed."""
    delivery = {**(entry.metadata.get("delivery") or {}), "last_error": error[:500]}
    delivery["next_attempt_at"] = next_attempt_at.isoformat() if next_attempt_at else None
    metadata = {**entry.metadata, **(sent or {}), "delivery": delivery}
    Entry.objects.filter(pk=entry.pk, delivery=DeliveryState.SENDING).update(
        delivery=state, delivery_error=error[:2000], metadata=metadata
    )
    entry.delivery, entry.delivery_error, entry.metadata = state, error[:2000], metadata


def mark_delivery(entry_id: int, state: str, error: str = "") -> None:
    """Record the outcome of a delivery attempt on the entry (shown in the thread)."""
    Entry.objects.filter(pk=entry_id).update(delivery=state, delivery_error=error[:2000])


def touch(ticket_id: int) -> None:
    Ticket.objects.filter(pk=ticket_id).update(version=F("version") + 1, updated_at=timezone.now())


def close_ticket_by_customer(ticket: Ticket, actor: User) -> Ticket:
    """A customer marks their own request done in the portal (the caller went through
    `ticket_for_customer`). It becomes Solved, so a later message from them reopens it."""
    if ticket.state in (StatusCategory.SOLVED, StatusCategory.CLOSED):
        return ticket
    now = timezone.now()
    with transaction.atomic():
        ticket = _lock(ticket, None)
        if ticket.state in (StatusCategory.SOLVED, StatusCategory.CLOSED):
            return ticket
        _bump(ticket, now)
        fields = _set_status(ticket, actor, statuses.builtin(StatusCategory.SOLVED), now)
        Change.objects.filter(ticket=ticket, ticket_version=ticket.version, field="status").update(
            note="Closed by the customer in the portal"
        )
        ticket.save(update_fields=[*fields, "version", "updated_at"])
        search.index_ticket(ticket.pk)
        events.publish(events.Event(events.TICKET_UPDATED, ticket.pk, None, actor.pk, {"fields": ["status"]}))
    return ticket
