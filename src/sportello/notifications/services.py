"""Agents' notifications: who hears about what, in the app and by mail, and reading them.

The listener (`notify_for_events`, subscribed in NotificationsConfig.ready) runs in a worker, from
the events outbox (core/events.py), a batch of events at a time:

1. From the batch's events, drafts: a note's `@username`s (mentioned), a ticket given to an agent
   by someone else (assigned), a customer's message on an assigned ticket (customer replied), an
   SLA warning or breach on an assigned ticket. Nobody is told about their own action.
2. Drafts for agents who may not see the ticket (restricted to other groups) are dropped, and so
   are kinds an agent switched off (Preference, or DEFAULTS).
3. One INSERT for the batch's notifications; a key per cause and recipient makes a second delivery
   of the same event a no-op. Agents who are away or offline and want mail get one through the
   mail outbox (keyed too), in their language, sent by a worker (`send_notification_mail`).
4. After the commit, the recipients' open pages get their new unread count (live.py).

A batch costs a fixed number of statements, whatever its size: entries with their tickets,
other tickets, mentioned agents, assignment history, group memberships, preferences, the INSERT.
Events that cannot notify anybody (an agent's reply, a change of status) cost none.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Max, Q
from django.db.models.functions import Lower
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from sportello.accounts.models import Availability, Group, Role, User
from sportello.core import events, outbox
from sportello.core.errors import NotFound
from sportello.core.models import OutboxMessage
from sportello.notifications.models import DEFAULTS, Kind, Notification, Preference
from sportello.tickets.access import require_agent
from sportello.tickets.models import Change, Direction, Entry, Ticket

log = logging.getLogger("sportello.notifications")

# The outbox kind of a notification's mail.
MAIL = "notifications.mail"
# `@username` in a note: not inside an address (`a@b`) or a word; Django usernames hold letters,
# digits and @ . + - _ (an `@` would end the mention).
MENTION = re.compile(r"(?<![\w@.+-])@([\w][\w.+-]*)")
# Agents who can be mentioned, assigned and notified (not customers, not the automation's user).
AGENT_ROLES = (Role.ADMIN, Role.AGENT, Role.LIGHT_AGENT)
EXCERPT = 200
MENU_SIZE = 8
PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


# --- Mentions --------------------------------------------------------------------------------------


def mentionable_agents(user: User, prefix: str, *, limit: int = 8) -> list[User]:
    """Active agents whose username, first or last name starts with `prefix` (the note composer's
    autocomplete); "bob ag" matches Bob Agent by first and last name. Agents only."""
    require_agent(user)
    prefix = " ".join(prefix.replace("\x00", "").lstrip("@").split())[:150]
    agents = User.objects.filter(is_active=True, role__in=AGENT_ROLES)
    if prefix:
        first, _space, rest = prefix.partition(" ")
        matches = Q(username__istartswith=prefix) | Q(first_name__istartswith=prefix) | Q(last_name__istartswith=prefix)
        if rest:
            matches |= Q(first_name__iexact=first, last_name__istartswith=rest)
        agents = agents.filter(matches)
    return list(agents.order_by("first_name", "last_name", "username")[: max(1, min(limit, 20))])


def mentioned_usernames(text: str) -> set[str]:
    """The lower-cased usernames `@`-mentioned in `text`; a mention that ends a sentence
    ("thanks @bob.") is also tried without its trailing punctuation."""
    found: set[str] = set()
    for match in MENTION.finditer(text):
        name = match.group(1).lower()
        found.add(name)
        if (bare := name.rstrip(".-+")) and bare != name:
            found.add(bare)
    return found


# --- From events to notifications ------------------------------------------------------------------


@dataclass
class Draft:
    recipient: User
    kind: str
    ticket: Ticket
    key: str
    actor_id: int | None = None
    entry_id: int | None = None
    text: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def notify_for_events(batch: list[events.Event]) -> None:
    """The worker's listener for a batch of events (quiet ones, demo data and imports, are history)."""
    batch = [event for event in batch if not event.quiet]
    if batch:
        deliver(drafts_for(batch))


@events.batched(notify_for_events)
def on_event(event: events.Event) -> None:
    notify_for_events([event])


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT else flat[: EXCERPT - 1].rstrip() + "…"


def _may_notify(event: events.Event) -> bool:
    """Whether an event can notify anybody, from the event alone: an agent's reply cannot, nor a
    change of fields other than the assignee (such batches cost no query)."""
    if event.name == events.ENTRY_ADDED:
        return event.data.get("direction") in (Direction.INTERNAL, Direction.INBOUND)
    if event.name == events.TICKET_UPDATED:
        return "assignee" in event.data.get("fields", [])
    return event.name in (events.TICKET_CREATED, events.SLA_WARNING, events.SLA_BREACHED)


def drafts_for(batch: list[events.Event]) -> list[Draft]:
    batch = [event for event in batch if _may_notify(event)]
    if not batch:
        return []
    entry_ids = [e.entry_id for e in batch if e.name == events.ENTRY_ADDED and e.entry_id is not None]
    entries = (
        Entry.objects.select_related("ticket__assignee", "author_customer").in_bulk(entry_ids) if entry_ids else {}
    )
    tickets = {entry.ticket_id: entry.ticket for entry in entries.values()}
    if missing := {e.ticket_id for e in batch} - tickets.keys():
        tickets.update(Ticket.objects.select_related("assignee").in_bulk(missing))
    mentions = _mentioned_agents(entries.values())
    assigned = {e.ticket_id for e in batch if e.name == events.TICKET_UPDATED}
    changes = dict(
        Change.objects.filter(ticket_id__in=assigned, field="assignee")
        .values("ticket_id")
        .annotate(last=Max("id"))
        .values_list("ticket_id", "last")
        if assigned
        else []
    )
    drafts: list[Draft] = []
    for event in batch:
        ticket = tickets.get(event.ticket_id)
        if ticket is None or ticket.merged_into_id:
            continue
        assignee = ticket.assignee
        if event.name == events.ENTRY_ADDED:
            entry = entries.get(event.entry_id) if event.entry_id is not None else None
            if entry is not None:
                drafts += _entry_drafts(entry, ticket, mentions)
        elif event.name in (events.TICKET_UPDATED, events.TICKET_CREATED) and assignee is not None:
            if assignee.pk == event.actor_id:
                continue
            if event.name == events.TICKET_CREATED:
                key = f"assigned:{ticket.pk}:created"
            elif event.ticket_id in changes:
                key = f"assigned:{ticket.pk}:change-{changes[event.ticket_id]}"
            else:
                continue
            drafts.append(Draft(assignee, Kind.ASSIGNED, ticket, f"{key}:{assignee.pk}", actor_id=event.actor_id))
        elif event.name in (events.SLA_WARNING, events.SLA_BREACHED) and assignee is not None:
            kind = Kind.SLA_WARNING if event.name == events.SLA_WARNING else Kind.SLA_BREACHED
            target, due = event.data["target"], event.data["due"]
            key = f"{kind}:{ticket.pk}:{target}:{due}:{assignee.pk}"
            drafts.append(Draft(assignee, kind, ticket, key, data={"target": target, "due": due}))
    return drafts


def _mentioned_agents(entries: Iterable[Entry]) -> dict[str, User]:
    names: set[str] = set()
    for entry in entries:
        if entry.internal and entry.author_user_id is not None:
            names |= mentioned_usernames(entry.body_text)
    if not names:
        return {}
    agents = User.objects.annotate(lower=Lower("username")).filter(
        lower__in=sorted(names), is_active=True, role__in=AGENT_ROLES
    )
    return {agent.username.lower(): agent for agent in agents}


def _entry_drafts(entry: Entry, ticket: Ticket, mentions: dict[str, User]) -> list[Draft]:
    if entry.internal and entry.author_user_id is not None:
        drafts = []
        for name in sorted(mentioned_usernames(entry.body_text)):
            agent = mentions.get(name)
            if agent is None or agent.pk == entry.author_user_id:
                continue
            key = f"mentioned:{entry.pk}:{agent.pk}"
            drafts.append(
                Draft(
                    agent, Kind.MENTIONED, ticket, key,
                    actor_id=entry.author_user_id, entry_id=entry.pk, text=_excerpt(entry.body_text),
                )
            )  # fmt: skip
        return list({draft.key: draft for draft in drafts}.values())
    assignee = ticket.assignee
    if (
        entry.direction == Direction.INBOUND
        and not entry.internal
        and entry.author_customer_id is not None
        and assignee is not None
        and _recorded_by(entry) != assignee.pk  # not the agent's own log of a call for the customer
    ):
        key = f"customer_replied:{entry.pk}:{assignee.pk}"
        return [
            Draft(
                assignee, Kind.CUSTOMER_REPLIED, ticket, key,
                entry_id=entry.pk, text=_excerpt(entry.body_text), data={"by": str(entry.author_customer)},
            )
        ]  # fmt: skip
    return []


def _recorded_by(entry: Entry) -> int | None:
    """The agent who logged a customer's message for her (a phone call, a letter), if one did:
    the customer is its author, the agent is named in its metadata (tickets/intake.py)."""
    recorder = entry.metadata.get("recorded_by") if isinstance(entry.metadata, dict) else None
    if isinstance(recorder, dict) and isinstance(recorder.get("id"), int):
        return int(recorder["id"])
    return entry.author_user_id


def _may_see(drafts: list[Draft]) -> list[Draft]:
    """Only agents who may see the ticket (tickets_visible_to's rule), in one query for the batch."""
    restricted = {d.recipient.pk for d in drafts if d.recipient.restricted_to_groups and not d.recipient.is_admin}
    groups = {d.ticket.group_id for d in drafts if d.ticket.group_id is not None}
    members: set[tuple[int, int]] = set()
    if restricted and groups:
        members = set(
            Group.members.through.objects.filter(user_id__in=restricted, group_id__in=groups).values_list(
                "user_id", "group_id"
            )
        )
    return [
        d
        for d in drafts
        if d.recipient.is_staff_member
        and d.recipient.role != Role.SYSTEM
        and (d.recipient.pk not in restricted or (d.recipient.pk, d.ticket.group_id) in members)
    ]


def choices_of(user_ids: Iterable[int]) -> dict[tuple[int, str], tuple[bool, bool]]:
    """(user, kind) -> (in the app, by mail), for the kinds these users chose themselves."""
    return {
        (p.user_id, p.kind): (p.in_app, p.by_mail) for p in Preference.objects.filter(user_id__in=sorted(set(user_ids)))
    }


def deliver(drafts: list[Draft]) -> int:
    """Write the drafts' notifications and mails (see the module's steps 2-4); how many were kept."""
    drafts = _may_see(list({d.key: d for d in drafts}.values()))
    if not drafts:
        return 0
    choices = choices_of(d.recipient.pk for d in drafts)
    rows: list[Notification] = []
    mails: list[tuple[Draft, bool]] = []
    for draft in drafts:
        in_app, by_mail = choices.get((draft.recipient.pk, draft.kind), DEFAULTS[draft.kind])
        if in_app:
            rows.append(
                Notification(
                    recipient=draft.recipient, kind=draft.kind, ticket=draft.ticket, entry_id=draft.entry_id,
                    actor_id=draft.actor_id, text=draft.text, data=draft.data, key=draft.key,
                )
            )  # fmt: skip
        if by_mail and draft.recipient.availability != Availability.ONLINE and draft.recipient.email:
            mails.append((draft, in_app))
    recipients = {row.recipient_id for row in rows}
    with transaction.atomic():
        if rows:
            Notification.objects.bulk_create(rows, ignore_conflicts=True)
        for draft, in_app in mails:
            outbox.put(MAIL, _mail_payload(draft, in_app), key=f"{MAIL}:{draft.key}")
        if recipients:
            from sportello.notifications.live import notified

            events.publish(notified(recipients))  # the bells are told after the commit (live.py)
    return len(rows) + len(mails)


def _mail_payload(draft: Draft, in_app: bool) -> dict[str, Any]:
    return {
        "recipient": draft.recipient.pk,
        "kind": draft.kind,
        "ticket": draft.ticket.pk,
        "actor": draft.actor_id,
        "text": draft.text,
        "data": draft.data,
        "key": draft.key,
        "in_app": in_app,
    }


# --- Wording ---------------------------------------------------------------------------------------


def target_label(target: str) -> str:
    labels = {
        "first_response": _("First response"),
        "next_response": _("Next response"),
        "resolution": _("Resolution"),
    }
    return labels.get(target, target)


def _when(value: str) -> str:
    moment = parse_datetime(value) if value else None
    if moment is None:
        return value
    return formats.date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")


def headline(kind: str, *, number: int, actor: str = "", data: dict[str, Any] | None = None) -> str:
    """One line saying what happened, in the active language and time zone."""
    data = data or {}
    if kind == Kind.MENTIONED:
        return _("%(actor)s mentioned you on #%(number)s") % {"actor": actor or _("Someone"), "number": number}
    if kind == Kind.ASSIGNED:
        if actor:
            return _("%(actor)s assigned #%(number)s to you") % {"actor": actor, "number": number}
        return _("#%(number)s was assigned to you") % {"number": number}
    if kind == Kind.CUSTOMER_REPLIED:
        by = data.get("by") or _("The customer")
        return _("%(customer)s replied on #%(number)s") % {"customer": by, "number": number}
    values = {"target": target_label(str(data.get("target", ""))), "number": number, "due": _when(data.get("due", ""))}
    if kind == Kind.SLA_WARNING:
        return _("%(target)s on #%(number)s is due %(due)s") % values
    if kind == Kind.SLA_BREACHED:
        return _("%(target)s on #%(number)s was due %(due)s: breached") % values
    return f"#{number}"


def headline_of(notification: Notification) -> str:
    actor = notification.actor.display_name if notification.actor else ""
    return headline(notification.kind, number=notification.ticket.number, actor=actor, data=notification.data)


# --- Reading ---------------------------------------------------------------------------------------


def notifications_of(
    user: User, *, unread: bool = False, before: int | None = None, size: int = PAGE_SIZE
) -> list[Notification]:
    """The agent's notifications, newest first, `size` at a time (keyset: ids below `before`)."""
    require_agent(user)
    found = Notification.objects.filter(recipient=user)
    if unread:
        found = found.filter(read_at__isnull=True)
    if before is not None:
        found = found.filter(pk__lt=before)
    size = max(1, min(size, MAX_PAGE_SIZE))
    return list(found.select_related("ticket", "actor").order_by("-id")[:size])


def unread_count(user: User) -> int:
    return Notification.objects.filter(recipient_id=user.pk, read_at__isnull=True).count()


def notification_for(user: User, pk: int) -> Notification:
    """The gate: the caller's own notification; anybody else's is not found."""
    require_agent(user)
    found = Notification.objects.select_related("ticket", "actor").filter(pk=pk, recipient=user).first()
    if found is None:
        raise NotFound(f"No notification {pk}")
    return found


def mark_read(user: User, notification: Notification) -> Notification:
    """Mark one of the caller's notifications read (already read: unchanged); their pages hear it."""
    if notification.recipient_id != user.pk:
        raise NotFound(f"No notification {notification.pk}")
    if notification.read_at is None:
        now = timezone.now()
        if Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=now):
            notification.read_at = now
            _push_on_commit(user.pk)
    return notification


def mark_all_read(user: User) -> int:
    """Mark every unread notification of the caller read; how many were."""
    require_agent(user)
    marked = Notification.objects.filter(recipient=user, read_at__isnull=True).update(read_at=timezone.now())
    if marked:
        _push_on_commit(user.pk)
    return marked


def _push_on_commit(user_id: int) -> None:
    from sportello.notifications.live import push_counts

    transaction.on_commit(lambda: push_counts({user_id}))


# --- Preferences -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    kind: str
    label: str
    in_app: bool
    by_mail: bool


def preferences_of(user: User) -> list[Choice]:
    """Every kind with the agent's choice (or the default)."""
    require_agent(user)
    chosen = choices_of([user.pk])
    return [Choice(kind, str(label), *chosen.get((user.pk, kind), DEFAULTS[kind])) for kind, label in Kind.choices]


def set_preferences(user: User, choices: dict[str, tuple[bool, bool]]) -> list[Choice]:
    """Save the agent's choices per kind ((in the app, by mail)); kinds not given keep theirs."""
    require_agent(user)
    unknown = set(choices) - set(Kind.values)
    if unknown:
        from sportello.core.errors import InvalidInput

        raise InvalidInput(f"Unknown kinds: {', '.join(sorted(unknown))}", field="kind")
    rows = [Preference(user=user, kind=kind, in_app=app, by_mail=mail) for kind, (app, mail) in choices.items()]
    if rows:
        Preference.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["user", "kind"], update_fields=["in_app", "by_mail"]
        )
    return preferences_of(user)


# --- Mail ------------------------------------------------------------------------------------------


def send_notification_mail(message: OutboxMessage) -> None:
    """The outbox handler of a notification's mail: in the agent's language and time zone.

    Not sent when the agent or the ticket is gone, the agent is no longer an agent, or the agent
    already read the notification in the app (back online before the worker got to it).
    """
    from sportello.mail.outbound import loop_mark, outbox_message_id
    from sportello.mail.sender import sender

    p = message.payload
    recipient = User.objects.filter(pk=p.get("recipient")).first()
    ticket = Ticket.objects.filter(pk=p.get("ticket")).first()
    if recipient is None or ticket is None or not recipient.is_staff_member or not recipient.email:
        log.info("notification mail %s not sent: the agent or the ticket is gone", message.pk)
        return
    if p.get("in_app") and Notification.objects.filter(key=p.get("key"), read_at__isnull=False).exists():
        log.info("notification mail %s not sent: %s read it in the app", message.pk, recipient.username)
        return
    actor = User.objects.filter(pk=p["actor"]).first() if p.get("actor") else None
    zone = _zone(recipient.time_zone)
    with translation.override(recipient.language or settings.LANGUAGE_CODE), timezone.override(zone):
        context = {
            "language": translation.get_language(),
            "recipient": recipient,
            "ticket": ticket,
            "headline": headline(p["kind"], number=ticket.number, actor=actor.display_name if actor else "",
                                 data=p.get("data") or {}),
            "text": p.get("text", ""),
            "url": settings.SITE_URL.rstrip("/") + reverse("ticket", args=[ticket.number]),
            "preferences_url": settings.SITE_URL.rstrip("/") + reverse("notifications:preferences"),
        }  # fmt: skip
        subject = " ".join(render_to_string("notifications/mail/subject.txt", context).split())
        text = render_to_string("notifications/mail/body.txt", context)
        html = render_to_string("notifications/mail/body.html", context)
    mail = EmailMultiAlternatives(
        subject=subject, body=text, from_email=sender(), to=[recipient.email],
        headers={
            "Message-ID": outbox_message_id(message, "notify", ticket),
            "Auto-Submitted": "auto-generated",
            "X-Loop": loop_mark(),
        },
    )  # fmt: skip
    mail.attach_alternative(html, "text/html")
    mail.send()


def _zone(name: str) -> Any:
    import zoneinfo

    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")
