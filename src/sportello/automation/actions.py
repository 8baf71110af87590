"""Actions of triggers, time rules and macros: `{"type": …, …}`, one small function each.

Field changes (status, priority, group, assignee, tags) of one rule are applied together through
`update_ticket`, as one change with one version bump; the other actions run after, in order.
Every action goes through the same services an agent's click does, so history, search and
events are the same whoever acted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sportello.accounts.models import Group, Role, User
from sportello.automation import placeholders
from sportello.core.errors import InvalidInput
from sportello.tickets.models import Entry, Priority, Status, Ticket
from sportello.tickets.services import TicketChanges, add_note, update_ticket

log = logging.getLogger("sportello.automation")

FIELD_ACTIONS = ("set_status", "set_priority", "set_group", "set_assignee", "add_tags", "remove_tags", "set_tags")
OTHER_ACTIONS = ("add_note", "escalate", "send_email", "webhook")
RECIPIENTS = ("customer", "assignee", "group", "address")


@dataclass
class Run:
    """Who acts and why: the automation's system user (or the agent applying a macro)."""

    actor: User
    reason: str
    entry: Entry | None = None
    trigger_id: int | None = None


def system_user() -> User:
    """The actor of automation in history ("Automation"): never signs in, never in agent lists."""
    user, _ = User.objects.get_or_create(
        username="sportello-automation",
        defaults={"role": Role.SYSTEM, "first_name": "Automation", "is_active": True},
    )
    if user.has_usable_password():
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


# --- Validation ----------------------------------------------------------------------------------


def validate_actions(actions: Any, *, allowed: tuple[str, ...] = FIELD_ACTIONS + OTHER_ACTIONS) -> list[dict[str, Any]]:
    if not isinstance(actions, list):
        raise InvalidInput("Actions must be a list", field="actions")
    for number, action in enumerate(actions, start=1):
        if not isinstance(action, dict) or action.get("type") not in allowed:
            kind = action.get("type") if isinstance(action, dict) else action
            raise InvalidInput(f"Action {number}: unknown type {kind!r}; one of {', '.join(allowed)}", field="actions")
        problem = _problem(action)
        if problem:
            raise InvalidInput(f"Action {number} ({action['type']}): {problem}", field="actions")
    return actions


def _problem(action: dict[str, Any]) -> str:
    kind = action["type"]
    if kind == "set_status":
        return "" if Status.objects.filter(slug=action.get("status")).exists() else "unknown status"
    if kind == "set_priority":
        return "" if action.get("priority") in Priority.values else "priority must be 1, 2, 3 or 4"
    if kind == "set_group":
        return "" if _exists(Group, action.get("group")) else "unknown group"
    if kind == "set_assignee":
        value = action.get("assignee")
        if value is None:
            return ""
        return "" if _exists(User, value, role__in=[Role.AGENT, Role.ADMIN]) else "unknown agent"
    if kind in ("add_tags", "remove_tags", "set_tags"):
        tags = action.get("tags")
        ok = isinstance(tags, list) and all(isinstance(t, str) and 0 < len(t.strip()) <= 50 for t in tags)
        return "" if ok else "tags must be a list of names"
    if kind in ("add_note", "escalate"):
        return "" if isinstance(action.get("body", action.get("note")), str) else "a text is needed"
    if kind == "send_email":
        if action.get("to") not in RECIPIENTS:
            return f"'to' must be one of {', '.join(RECIPIENTS)}"
        if action["to"] == "address" and "@" not in str(action.get("address", "")):
            return "an address is needed"
        if action.get("template"):
            return "" if isinstance(action["template"], str) else "template must be a template key"
        if not isinstance(action.get("subject"), str) or not isinstance(action.get("body"), str):
            return "subject and body (or a template) are needed"
        return ""
    if kind == "webhook":
        url = str(action.get("url", ""))
        return "" if url.startswith(("http://", "https://")) and len(url) <= 500 else "an http(s) url is needed"
    return ""


def _exists(model: type[Any], pk: Any, **filters: Any) -> bool:
    return isinstance(pk, int) and not isinstance(pk, bool) and model.objects.filter(pk=pk, **filters).exists()


# --- Running -------------------------------------------------------------------------------------


def run_actions(ticket: Ticket, actions: list[dict[str, Any]], run: Run) -> list[str]:
    """Apply `actions` to `ticket`; return one line per action saying what happened."""
    outcome: list[str] = []
    changes = TicketChanges()
    field_actions = [a for a in actions if a["type"] in FIELD_ACTIONS]
    for action in field_actions:
        _FIELD[action["type"]](ticket, action, changes)
    if field_actions:
        ticket = update_ticket(ticket, run.actor, changes)
        outcome.append("fields: " + ", ".join(a["type"] for a in field_actions))
    for action in actions:
        if action["type"] in OTHER_ACTIONS:
            ticket.refresh_from_db()
            outcome.append(_OTHER[action["type"]](ticket, action, run))
    return outcome


def _set_status(ticket: Ticket, action: dict[str, Any], changes: TicketChanges) -> None:
    changes.status = Status.objects.filter(slug=action["status"]).first()


def _set_priority(ticket: Ticket, action: dict[str, Any], changes: TicketChanges) -> None:
    changes.priority = int(action["priority"])


def _set_group(ticket: Ticket, action: dict[str, Any], changes: TicketChanges) -> None:
    changes.group = Group.objects.filter(pk=action["group"]).first()


def _set_assignee(ticket: Ticket, action: dict[str, Any], changes: TicketChanges) -> None:
    if action.get("assignee") is None:
        changes.clear_assignee = True
    else:
        changes.assignee = User.objects.filter(pk=action["assignee"]).first()


def _current_tags(ticket: Ticket, changes: TicketChanges) -> list[str]:
    if changes.tags is not None:
        return changes.tags
    return list(ticket.tags.values_list("name", flat=True))


def _add_tags(ticket: Ticket, action: dict[str, Any], changes: TicketChanges) -> None:
    current = _current_tags(ticket, changes)
    changes.tags = current + [t.strip() for t in action["tags"] if t.strip() not in current]


def _remove_tags(ticket: Ticket, action: dict[str, Any], changes: TicketChanges) -> None:
    unwanted = {t.strip().casefold() for t in action["tags"]}
    changes.tags = [t for t in _current_tags(ticket, changes) if t.casefold() not in unwanted]


def _set_tags(ticket: Ticket, action: dict[str, Any], changes: TicketChanges) -> None:
    changes.tags = [t.strip() for t in action["tags"]]


_FIELD: dict[str, Callable[[Ticket, dict[str, Any], TicketChanges], None]] = {
    "set_status": _set_status,
    "set_priority": _set_priority,
    "set_group": _set_group,
    "set_assignee": _set_assignee,
    "add_tags": _add_tags,
    "remove_tags": _remove_tags,
    "set_tags": _set_tags,
}


def _add_note(ticket: Ticket, action: dict[str, Any], run: Run) -> str:
    text = placeholders.render(str(action.get("body", "")), placeholders.context_for(ticket))
    add_note(ticket, run.actor, body_text=f"{text}\n\n— {run.reason}")
    return "note added"


def _escalate(ticket: Ticket, action: dict[str, Any], run: Run) -> str:
    from sportello.tickets.escalation import escalate_ticket, next_group

    if next_group(ticket, "up") is None:
        return "not escalated: no group of a higher tier"
    note = placeholders.render(str(action.get("note", action.get("body", ""))), placeholders.context_for(ticket))
    escalate_ticket(ticket, run.actor, note=note or run.reason)
    return "escalated"


def _send_email(ticket: Ticket, action: dict[str, Any], run: Run) -> str:
    """Mail from a template. Never to a machine: when the mail that caused the event came from an
    auto-responder, a bounce or a list, nothing goes to the customer (that is how loops start)."""
    from sportello.mail.outbound import schedule_notification

    to = recipients_for(ticket, action)
    if action["to"] == "customer" and run.entry is not None and _from_machine(run.entry):
        log.info(
            "%s: no mail to the customer of #%s: the mail that caused it came from a machine", run.reason, ticket.number
        )
        return "email not sent: the customer's mail came from a machine"
    if not to:
        log.info("%s: no mail on #%s: no address for %r", run.reason, ticket.number, action["to"])
        return f"email not sent: no address for {action['to']}"
    context = placeholders.context_for(ticket)
    if action.get("template"):
        from sportello.mail.templating import render_mail

        language = ticket.customer.language or ticket.language
        rendered = render_mail(action["template"], language, context)
        if rendered is None:
            log.warning("%s: no mail on #%s: no template %r", run.reason, ticket.number, action["template"])
            return f"email not sent: no template {action['template']!r}"
        subject, body = rendered.subject, rendered.text
    else:
        subject = placeholders.render(action["subject"], context)
        body = placeholders.render(action["body"], context)
    # Written to the outbox (sent after commit, retried after a crash); outbound adds the [#number] tag.
    schedule_notification(ticket, to=to, subject=subject, text=body, reason=run.reason)
    return "email queued to " + ", ".join(to)


def recipients_for(ticket: Ticket, action: dict[str, Any]) -> list[str]:
    from sportello.mail.outbound import recipient_for

    kind = action["to"]
    if kind == "customer":
        address = recipient_for(ticket.customer)
        return [address] if address else []
    if kind == "assignee":
        return [ticket.assignee.email] if ticket.assignee and ticket.assignee.email else []
    if kind == "group":
        if ticket.group is None:
            return []
        return [e for e in ticket.group.members.filter(is_active=True).values_list("email", flat=True) if e]
    return [str(action.get("address", "")).strip()]


def _from_machine(entry: Entry) -> bool:
    """The mail behind this run asked for no automatic answer (mail/pipeline.py's `automatic`:
    auto-replies, bounces, lists, our own mail, X-Loop, X-Auto-Response-Suppress, null senders);
    entries recorded before that flag existed carry its parts."""
    flags = (entry.metadata or {}).get("flags") or {}
    return any(flags.get(name) for name in ("automatic", "auto_reply", "bounce", "mailing_list", "from_us"))


def _webhook(ticket: Ticket, action: dict[str, Any], run: Run) -> str:
    from sportello.automation.webhooks import queue_webhook

    call = queue_webhook(ticket, action, run)
    return f"webhook queued ({call.pk})"


_OTHER: dict[str, Callable[[Ticket, dict[str, Any], Run], str]] = {
    "add_note": _add_note,
    "escalate": _escalate,
    "send_email": _send_email,
    "webhook": _webhook,
}
