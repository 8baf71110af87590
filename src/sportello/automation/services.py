"""Automation use cases: run triggers on events, time rules on a schedule, macros on a click,
and the admins' writes of all three.

Loop protection, in two layers:
1. A trigger fires at most once per event on a ticket: each firing is a `TriggerRun` row under a
   unique (trigger, ticket, event key) constraint, so a repeated delivery of the same event is a
   no-op.
2. Actions change tickets, which publishes events, which may fire triggers again. Every event
   carries its causal depth (core/events.py); past `MAX_DEPTH` the chain stops with a log line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from sportello.accounts.models import User
from sportello.automation.actions import FIELD_ACTIONS, Run, run_actions, system_user, validate_actions
from sportello.automation.conditions import facts_for, matches, validate_conditions
from sportello.automation.models import Macro, Match, TimeRule, TimeRuleRun, Trigger, TriggerEvent, TriggerRun
from sportello.automation.placeholders import context_for, render
from sportello.core import events
from sportello.core.errors import Conflict, Forbidden, InvalidInput, NotFound, ServiceError
from sportello.tickets.models import ACTIVE_CATEGORIES, Change, Direction, Entry, Ticket

log = logging.getLogger("sportello.automation")

MAX_DEPTH = 3
TIME_RULE_BATCH = 500


# --- Triggers on events --------------------------------------------------------------------------


def trigger_events_for(event: events.Event) -> list[tuple[str, str, Entry | None]]:
    """The trigger events one domain event stands for, each with its once-only key."""
    if event.name == events.TICKET_CREATED:
        entry = Entry.objects.filter(pk=event.entry_id).first() if event.entry_id else None
        return [(TriggerEvent.TICKET_CREATED, "created", entry)]
    if event.name == events.ENTRY_ADDED and event.entry_id:
        entry = Entry.objects.filter(pk=event.entry_id).first()
        if entry is None:
            return []
        key = f"entry:{entry.pk}"
        if entry.internal:
            return [(TriggerEvent.NOTE_ADDED, key, entry)]
        if entry.direction == Direction.OUTBOUND:
            return [(TriggerEvent.AGENT_REPLIED, key, entry)]
        if entry.direction == Direction.INBOUND:
            opening = not Entry.objects.filter(ticket_id=entry.ticket_id, pk__lt=entry.pk).exists()
            return [] if opening else [(TriggerEvent.CUSTOMER_REPLIED, key, entry)]
        return []
    if event.name == events.TICKET_UPDATED:
        fields = set(event.data.get("fields", ()))
        version = Ticket.objects.filter(pk=event.ticket_id).values_list("version", flat=True).first()
        found: list[tuple[str, str, Entry | None]] = []
        if "status" in fields:
            found.append((TriggerEvent.STATUS_CHANGED, f"v{version}", None))
        if "assignee" in fields:
            found.append((TriggerEvent.ASSIGNED, f"v{version}", None))
        return found
    if event.name in (events.SLA_WARNING, events.SLA_BREACHED):
        name = TriggerEvent.SLA_WARNING if event.name == events.SLA_WARNING else TriggerEvent.SLA_BREACHED
        return [(name, f"{event.data.get('target')}:{event.data.get('due')}", None)]
    if event.name == events.CSAT_RATED and event.data.get("rating") == "bad":
        return [(TriggerEvent.CSAT_BAD, f"csat:{event.data.get('at')}", None)]
    return []


# The trigger events each domain event may stand for; which one is decided by `trigger_events_for`.
CANDIDATES: dict[str, tuple[str, ...]] = {
    events.TICKET_CREATED: (TriggerEvent.TICKET_CREATED,),
    events.ENTRY_ADDED: (TriggerEvent.CUSTOMER_REPLIED, TriggerEvent.AGENT_REPLIED, TriggerEvent.NOTE_ADDED),
    events.TICKET_UPDATED: (TriggerEvent.STATUS_CHANGED, TriggerEvent.ASSIGNED),
    events.SLA_WARNING: (TriggerEvent.SLA_WARNING,),
    events.SLA_BREACHED: (TriggerEvent.SLA_BREACHED,),
    events.CSAT_RATED: (TriggerEvent.CSAT_BAD,),
}


def on_event(event: events.Event) -> None:
    """The listener: run the triggers of every trigger event `event` stands for.

    Every ticket change passes here, so the common case — no active trigger for this kind of
    event — costs no query: which trigger events have an active trigger is kept per process
    (`listening_trigger_events`).
    """
    if event.quiet:  # history being recorded (demo data, imports) triggers nothing
        return
    candidates = CANDIDATES.get(event.name, ())
    if not candidates or not listening_trigger_events().intersection(candidates):
        return
    if event.depth >= MAX_DEPTH:
        log.warning(
            "automation stopped at depth %s on %s of ticket %s (a loop of triggers?)",
            event.depth,
            event.name,
            event.ticket_id,
        )
        return
    triggers = list(Trigger.objects.filter(event__in=candidates, active=True).order_by("position", "id"))
    if not triggers:
        return
    for name, key, entry in trigger_events_for(event):
        run_triggers(event.ticket_id, name, key, entry=entry, triggers=[t for t in triggers if t.event == name])


# Which trigger events have an active trigger, per process. Read again when the version in the cache
# (bumped by every Trigger save and delete, models.py) changed, and at least every TRIGGERS_RECHECK
# seconds: the embedded default's cache is per process, and a queryset update saves no model. A
# stale "someone listens" only costs the query it would have cost anyway.
TRIGGERS_RECHECK = 5.0


@dataclass
class _Listening:
    version: Any = None
    read_at: float = float("-inf")
    events: frozenset[str] = frozenset()


_listening = _Listening()


def listening_trigger_events() -> frozenset[str]:
    """The trigger events (TriggerEvent values) that at least one active trigger listens to."""
    import time

    from django.core.cache import cache

    from sportello.automation.models import TRIGGERS_VERSION_KEY

    version = cache.get(TRIGGERS_VERSION_KEY)
    now = time.monotonic()
    if version is None or version != _listening.version or now - _listening.read_at > TRIGGERS_RECHECK:
        if version is None:
            version = bump_triggers_version()
        _listening.events = frozenset(Trigger.objects.filter(active=True).values_list("event", flat=True).distinct())
        _listening.version, _listening.read_at = version, now
    return _listening.events


def bump_triggers_version() -> str:
    from sportello.automation.models import bump_triggers_version as bump

    return bump()


def run_triggers(
    ticket_id: int,
    event_name: str,
    event_key: str,
    *,
    entry: Entry | None = None,
    triggers: list[Trigger] | None = None,
) -> list[str]:
    """Fire the matching triggers for one event, in order; return the names of those that fired."""
    if triggers is None:
        triggers = list(Trigger.objects.filter(event=event_name, active=True).order_by("position", "id"))
    if not triggers:
        return []
    ticket = _load(ticket_id)
    if ticket is None:
        return []
    fired = []
    actor = system_user()
    facts = facts_for(ticket, entry)
    for trigger in triggers:
        if not matches(trigger.conditions, facts, match_all=trigger.match == Match.ALL):
            continue
        run = _claim_trigger(trigger, ticket, event_key)
        if run is None:
            continue
        outcome = _act(ticket, trigger.actions, Run(actor, f"Trigger “{trigger.name}”", entry, trigger.pk))
        TriggerRun.objects.filter(pk=run.pk).update(outcome="\n".join(outcome))
        fired.append(trigger.name)
        ticket = _load(ticket_id) or ticket  # later triggers see what earlier ones changed
        facts = facts_for(ticket, entry)
    return fired


def _load(ticket_id: int) -> Ticket | None:
    return Ticket.objects.select_related("status", "group", "assignee", "customer").filter(pk=ticket_id).first()


def _claim_trigger(trigger: Trigger, ticket: Ticket, event_key: str) -> TriggerRun | None:
    try:
        with transaction.atomic():
            return TriggerRun.objects.create(trigger=trigger, ticket=ticket, event_key=event_key[:200])
    except IntegrityError:  # it fired for this event already
        return None


def _act(ticket: Ticket, actions: list[dict[str, Any]], run: Run) -> list[str]:
    try:
        outcome = run_actions(ticket, actions, run)
    except ServiceError as exc:  # e.g. an assignee who left: the rule is wrong, the ticket is fine
        log.warning("%s on #%s failed: %s", run.reason, ticket.number, exc.message)
        return [f"failed: {exc.message}"]
    log.info("%s on #%s: %s", run.reason, ticket.number, "; ".join(outcome))
    return outcome


# --- Time rules ----------------------------------------------------------------------------------


def run_time_rules(now: datetime | None = None) -> int:
    """Apply every active time rule to the tickets it matches; return how many actions ran.

    Each rule acts once per ticket per period (TimeRuleRun's unique key), so running this every
    few minutes, or on two schedulers at once, never repeats a reminder.
    """
    now = now or timezone.now()
    acted = 0
    actor = system_user()
    for rule in TimeRule.objects.filter(active=True).order_by("position", "id"):
        for ticket in _candidates(rule, now):
            period_start = ticket.period_start  # type: ignore[attr-defined]
            if not matches(rule.conditions, facts_for(ticket)):
                continue
            try:
                with transaction.atomic():
                    run = TimeRuleRun.objects.create(rule=rule, ticket=ticket, period_start=period_start)
            except IntegrityError:
                continue
            outcome = _act(ticket, rule.actions, Run(actor, f"Time rule “{rule.name}”"))
            TimeRuleRun.objects.filter(pk=run.pk).update(outcome="\n".join(outcome))
            acted += 1
    return acted


def _candidates(rule: TimeRule, now: datetime) -> QuerySet[Ticket]:
    """Tickets past the rule's time, narrowed by its state conditions in SQL (an indexed column)."""
    tickets = Ticket.objects.select_related("status", "group", "assignee", "customer").filter(merged_into=None)
    states = _states_in(rule.conditions)
    tickets = tickets.filter(state__in=states) if states else tickets.filter(state__in=ACTIVE_CATEGORIES)
    if rule.since == TimeRule.Since.CREATED:
        tickets = tickets.annotate(period_start=F("created_at"))
    elif rule.since == TimeRule.Since.UPDATED:
        tickets = tickets.annotate(period_start=F("updated_at"))
    else:
        last_change = (
            Change.objects.filter(ticket=OuterRef("pk"), field="status").order_by("-created_at").values("created_at")
        )
        tickets = tickets.annotate(
            period_start=Coalesce(Subquery(last_change[:1]), "created_at", output_field=DateTimeField())
        )
    cutoff = now - timedelta(hours=rule.hours)
    already = TimeRuleRun.objects.filter(rule=rule, ticket=OuterRef("pk"), period_start=OuterRef("period_start"))
    return tickets.filter(period_start__lte=cutoff).exclude(Exists(already)).order_by("period_start")[:TIME_RULE_BATCH]


def _states_in(conditions: list[dict[str, Any]]) -> list[str]:
    for condition in conditions:
        if condition.get("field") == "state" and condition.get("op") == "is":
            return [str(condition.get("value"))]
        if condition.get("field") == "state" and condition.get("op") == "in":
            return [str(v) for v in condition.get("value") or []]
    return []


# --- Macros --------------------------------------------------------------------------------------


def macros_for(user: User, query: str = "", *, limit: int = 20) -> QuerySet[Macro]:
    """The shared macros and the user's own, active, matching `query` in name or text."""
    macros = Macro.objects.filter(Q(owner=None) | Q(owner=user), active=True)
    for word in query.split()[:5]:
        macros = macros.filter(Q(name__icontains=word) | Q(body__icontains=word))
    return macros.order_by("-usage_count", "name")[:limit]


def macro_for(user: User, macro_id: int) -> Macro:
    """The gate for using a macro: shared, or the user's own; anything else is not found."""
    macro = Macro.objects.filter(pk=macro_id, active=True).first()
    if macro is None or (macro.owner_id is not None and macro.owner_id != user.pk):
        raise NotFound("No such macro")
    return macro


@dataclass
class MacroResult:
    text: str
    ticket: Ticket
    applied: list[str]


def apply_macro(ticket: Ticket, macro: Macro, actor: User, *, expected_version: int | None = None) -> MacroResult:
    """Render the macro's text for this ticket and apply its field changes as `actor`.

    The text is returned for the reply box (the agent reads and sends it); the field changes are
    made at once, against `expected_version` like any edit.
    """
    if not actor.can_reply:
        raise Forbidden("Light agents cannot use macros")
    if expected_version is not None and ticket.version != expected_version:
        from sportello.tickets.services import changes_since

        raise Conflict(
            f"Ticket #{ticket.number} changed since you opened it (version {expected_version} → {ticket.version})",
            current_version=ticket.version,
            changes=changes_since(ticket, expected_version),
        )
    text = render(macro.body, context_for(ticket, actor))
    applied = run_actions(ticket, macro.actions, Run(actor, f"Macro “{macro.name}”")) if macro.actions else []
    Macro.objects.filter(pk=macro.pk).update(usage_count=macro.usage_count + 1)
    ticket.refresh_from_db()
    return MacroResult(text=text, ticket=ticket, applied=applied)


@dataclass
class MacroPreview:
    """What a macro will do, shown in the composer before anything changes."""

    macro: Macro
    text: str
    changes: list[str]


def preview_macro(ticket: Ticket, macro: Macro, actor: User) -> MacroPreview:
    """The macro's text for this ticket and its changes in words; nothing is written.

    The composer takes the text; the changes are made with the send (`apply_macro_changes`)."""
    if not actor.can_reply:
        raise Forbidden("Light agents cannot use macros")
    text = render(macro.body, context_for(ticket, actor))
    return MacroPreview(macro=macro, text=text, changes=describe_actions(macro.actions or []))


def apply_macro_changes(ticket: Ticket, macro: Macro, actor: User) -> list[str]:
    """Make a previewed macro's field changes and other actions, as `actor` (with the send)."""
    if not actor.can_reply:
        raise Forbidden("Light agents cannot use macros")
    applied = run_actions(ticket, macro.actions, Run(actor, f"Macro “{macro.name}”")) if macro.actions else []
    Macro.objects.filter(pk=macro.pk).update(usage_count=F("usage_count") + 1)
    return applied


def describe_actions(actions: list[dict[str, Any]]) -> list[str]:
    """Each action of a macro in the agent's words ("Set status to Pending")."""
    from django.utils.translation import gettext as _

    from sportello.accounts.models import Group
    from sportello.tickets.models import Priority, Status

    lines: list[str] = []
    for action in actions:
        kind = action.get("type")
        if kind == "set_status":
            status = Status.objects.filter(slug=action.get("status")).first()
            lines.append(_("Set status to %(value)s") % {"value": _(status.name) if status else action.get("status")})
        elif kind == "set_priority":
            try:
                label = str(Priority(int(action.get("priority", 0))).label)
            except ValueError:
                label = str(action.get("priority"))
            lines.append(_("Set priority to %(value)s") % {"value": label})
        elif kind == "set_group":
            group = Group.objects.filter(pk=action.get("group") or 0).first()
            lines.append(_("Move to group %(value)s") % {"value": group or "—"})
        elif kind == "set_assignee":
            agent = User.objects.filter(pk=action.get("assignee") or 0).first() if action.get("assignee") else None
            lines.append(_("Assign to %(value)s") % {"value": agent.display_name} if agent else _("Unassign"))
        elif kind in ("add_tags", "remove_tags", "set_tags"):
            words = {"add_tags": _("Add tags: %(value)s"), "remove_tags": _("Remove tags: %(value)s"),
                     "set_tags": _("Set tags to: %(value)s")}  # fmt: skip
            lines.append(words[kind] % {"value": ", ".join(action.get("tags", []))})
        elif kind == "add_note":
            lines.append(_("Add an internal note"))
        elif kind == "escalate":
            lines.append(_("Escalate to the next level"))
        elif kind == "send_email":
            lines.append(_("Send an email"))
        elif kind == "webhook":
            lines.append(_("Call a webhook"))
    return lines


# --- Admins' writes ------------------------------------------------------------------------------


def _require_admin(actor: User) -> None:
    if not actor.is_admin:
        raise Forbidden("Only admins can change automation")


def save_trigger(actor: User, data: dict[str, Any], trigger: Trigger | None = None) -> Trigger:
    _require_admin(actor)
    trigger = trigger or Trigger()
    for name in ("name", "event", "match", "position", "active"):
        if name in data and data[name] is not None:
            setattr(trigger, name, data[name])
    if trigger.event not in TriggerEvent.values:
        raise InvalidInput(f"Unknown event {trigger.event!r}", field="event")
    if "conditions" in data:
        trigger.conditions = validate_conditions(data["conditions"])
    if "actions" in data:
        trigger.actions = validate_actions(data["actions"])
    if not trigger.actions:
        raise InvalidInput("A trigger needs at least one action", field="actions")
    if Trigger.objects.filter(name=trigger.name).exclude(pk=trigger.pk).exists():
        raise InvalidInput(f"A trigger named {trigger.name!r} exists already", field="name")
    check_loops(trigger)
    trigger.updated_at = timezone.now()
    trigger.save()
    return trigger


def check_loops(trigger: Trigger) -> None:
    """InvalidInput when the trigger would change tickets back and forth with others (loops.py)."""
    from sportello.automation.loops import find_loop

    loop = find_loop(trigger)
    if loop:
        chain = " → ".join([*loop, loop[0]])
        raise InvalidInput(
            f"These triggers would keep changing a ticket back and forth: {chain}. "
            "Narrow their conditions or change what they set.",
            field="actions",
        )


def save_time_rule(actor: User, data: dict[str, Any], rule: TimeRule | None = None) -> TimeRule:
    _require_admin(actor)
    rule = rule or TimeRule()
    for name in ("name", "since", "hours", "position", "active"):
        if name in data and data[name] is not None:
            setattr(rule, name, data[name])
    if rule.since not in TimeRule.Since.values:
        raise InvalidInput(f"Unknown starting point {rule.since!r}", field="since")
    if "conditions" in data:
        rule.conditions = validate_conditions(data["conditions"])
    if "actions" in data:
        rule.actions = validate_actions(data["actions"])
    if not rule.actions:
        raise InvalidInput("A time rule needs at least one action", field="actions")
    if TimeRule.objects.filter(name=rule.name).exclude(pk=rule.pk).exists():
        raise InvalidInput(f"A time rule named {rule.name!r} exists already", field="name")
    rule.save()
    return rule


def save_macro(actor: User, data: dict[str, Any], macro: Macro | None = None) -> Macro:
    """Agents keep personal macros; shared ones (no owner) are the admins' to write."""
    if not actor.can_reply:
        raise Forbidden("Only agents can write macros")
    shared = data.get("shared", macro is not None and macro.owner_id is None)
    if macro is not None and macro.owner_id not in (None, actor.pk):
        raise NotFound("No such macro")
    if (shared or (macro is not None and macro.owner_id is None)) and not actor.is_admin:
        raise Forbidden("Only admins can write shared macros")
    macro = macro or Macro()
    macro.owner = None if shared else actor
    for name in ("name", "body", "active"):
        if name in data and data[name] is not None:
            setattr(macro, name, data[name])
    if not macro.name.strip():
        raise InvalidInput("A macro needs a name", field="name")
    if "actions" in data:
        macro.actions = validate_actions(data["actions"] or [], allowed=FIELD_ACTIONS)
    macro.save()
    return macro


def delete_trigger(actor: User, trigger: Trigger) -> None:
    """Its run records go with it; the webhook calls it made stay in the log, without it."""
    _require_admin(actor)
    trigger.delete()


def delete_time_rule(actor: User, rule: TimeRule) -> None:
    _require_admin(actor)
    rule.delete()


def delete_macro(actor: User, macro: Macro) -> None:
    if macro.owner_id is None and not actor.is_admin:
        raise Forbidden("Only admins can delete shared macros")
    if macro.owner_id not in (None, actor.pk):
        raise NotFound("No such macro")
    macro.delete()
