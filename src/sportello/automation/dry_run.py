"""The dry run of a trigger or a time rule as an admin is writing it: nothing is written.

Given the conditions and actions as typed (not saved) and one ticket, it says for each condition
what the ticket has and whether it holds, whether the rule as a whole would act, and what each
action would change. The field changes are worked out by the same functions that fill
`TicketChanges` when a rule runs (actions._FIELD), which only read; the other actions are
described from what they would send (the note's text, the mail's recipients, the webhook's URL).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from sportello.automation import placeholders
from sportello.automation.actions import _FIELD, FIELD_ACTIONS, recipients_for
from sportello.automation.conditions import OPERATORS, facts_for
from sportello.automation.models import TimeRule
from sportello.automation.services import _states_in, describe_actions
from sportello.tickets.models import ACTIVE_CATEGORIES, Change, Ticket
from sportello.tickets.services import TicketChanges


@dataclass
class ConditionResult:
    number: int
    field: str
    op: str
    expected: str
    actual: str
    holds: bool


@dataclass
class ActionResult:
    number: int
    summary: str
    effect: str


@dataclass
class DryRun:
    ticket: Ticket
    conditions: list[ConditionResult]
    match_all: bool
    matches: bool
    actions: list[ActionResult]
    # Time rules: how long the ticket has waited, against the rule's hours.
    waited: str = ""
    waited_enough: bool = True
    notes: list[str] = field(default_factory=list)


def dry_run(
    ticket: Ticket,
    conditions: list[dict[str, Any]],
    actions: list[dict[str, Any]],
    *,
    match_all: bool = True,
    time_rule: TimeRule | None = None,
    now: datetime | None = None,
) -> DryRun:
    from sportello.automation.settings_forms import OPERATOR_LABELS, SPECS, choice_lists

    lists = choice_lists()
    facts = facts_for(ticket)
    results = []
    for number, condition in enumerate(conditions, start=1):
        actual = facts.get(condition["field"])
        holds = OPERATORS[condition["op"]](actual, condition.get("value"))
        spec = SPECS[condition["field"]]
        results.append(
            ConditionResult(
                number=number,
                field=str(spec.label),
                op=str(OPERATOR_LABELS[condition["op"]]),
                expected=_shown(condition["field"], condition.get("value"), lists) if "value" in condition else "",
                actual=_shown(condition["field"], actual, lists),
                holds=holds,
            )
        )
    holding = [r.holds for r in results]
    matches = not holding or (all(holding) if match_all else any(holding))
    run = DryRun(ticket, results, match_all, matches, _effects(ticket, actions, lists))
    if any(condition["field"] == "text" for condition in conditions):
        run.notes.append(_("“Subject or message” sees the subject only here: no message caused this dry run."))
    if time_rule is not None:
        start = _period_start(ticket, time_rule.since)
        waited = (now or timezone.now()) - start
        hours = waited / timedelta(hours=1)
        run.waited_enough = waited >= timedelta(hours=time_rule.hours)
        run.waited = _("%(hours).1f hours since %(since)s (the rule acts after %(wanted)s)") % {
            "hours": hours,
            "since": time_rule.get_since_display().lower(),
            "wanted": time_rule.hours,
        }
        states = _states_in(conditions) or list(ACTIVE_CATEGORIES)
        if ticket.state not in states or ticket.merged_into_id is not None:
            run.waited_enough = False
            run.notes.append(
                _(
                    "Time rules only look at open tickets (new, open, pending, on hold) "
                    "unless a condition names the status category."
                )
            )
        if run.matches and run.waited_enough and time_rule.pk and _already_acted(time_rule, ticket, start):
            run.notes.append(_("The rule acted on this ticket in this period already: it will not act again."))
    return run


def _shown(name: str, value: Any, lists: dict[str, list[tuple[str, str]]]) -> str:
    """A value as the admin chose it: names for ids and slugs, "—" for nothing."""
    if isinstance(value, list):
        return ", ".join(_shown(name, item, lists) for item in value) or "—"
    if value is None or value == "":
        return "—"
    labels = dict(lists.get(name, []))
    text = "true" if value is True else "false" if value is False else str(value)
    return labels.get(text, text)


def _effects(
    ticket: Ticket, actions: list[dict[str, Any]], lists: dict[str, list[tuple[str, str]]]
) -> list[ActionResult]:
    changes = TicketChanges()
    results = []
    summaries = describe_actions(actions)
    tags_before = list(ticket.tags.values_list("name", flat=True))
    for number, (action, summary) in enumerate(zip(actions, summaries, strict=True), start=1):
        kind = action["type"]
        if kind in FIELD_ACTIONS:
            _FIELD[kind](ticket, action, changes)
            effect = _field_effect(ticket, kind, changes, tags_before, lists)
        elif kind == "add_note":
            effect = placeholders.render(
                str(action.get("body", action.get("note", ""))), placeholders.context_for(ticket)
            )
        elif kind == "escalate":
            from sportello.tickets.escalation import UP, next_group

            group = next_group(ticket, UP)
            effect = (
                _("to %(group)s") % {"group": group.name} if group else _("not escalated: no group of a higher tier")
            )
        elif kind == "send_email":
            to = recipients_for(ticket, action)
            effect = (
                (_("to %(to)s") % {"to": ", ".join(to)})
                if to
                else _("not sent: no address for %(to)s") % {"to": action["to"]}
            )
            if action.get("subject"):
                effect += " · " + placeholders.render(action["subject"], placeholders.context_for(ticket))
        elif kind == "webhook":
            effect = _("POST to %(url)s") % {"url": action["url"]}
        else:
            effect = ""
        results.append(ActionResult(number, summary, effect))
    return results


def _field_effect(
    ticket: Ticket, kind: str, changes: TicketChanges, tags_before: list[str], lists: dict[str, list[tuple[str, str]]]
) -> str:
    def change(before: str, after: str) -> str:
        return _("no change (already %(value)s)") % {"value": before} if before == after else f"{before} → {after}"

    if kind == "set_status":
        return change(str(_(ticket.status.name)), str(_(changes.status.name)) if changes.status else "?")
    if kind == "set_priority":
        return change(_shown("priority", ticket.priority, lists), _shown("priority", changes.priority, lists))
    if kind == "set_group":
        return change(ticket.group.name if ticket.group else "—", changes.group.name if changes.group else "?")
    if kind == "set_assignee":
        after = "—" if changes.clear_assignee else changes.assignee.display_name if changes.assignee else "?"
        return change(ticket.assignee.display_name if ticket.assignee else "—", after)
    return change(", ".join(tags_before) or "—", ", ".join(changes.tags or []) or "—")


def _period_start(ticket: Ticket, since: str) -> datetime:
    """As services._candidates measures it."""
    if since == TimeRule.Since.CREATED:
        return ticket.created_at
    if since == TimeRule.Since.UPDATED:
        return ticket.updated_at
    last = (
        Change.objects.filter(ticket=ticket, field="status")
        .order_by("-created_at")
        .values_list("created_at", flat=True)
    )
    return last.first() or ticket.created_at


def _already_acted(rule: TimeRule, ticket: Ticket, start: datetime) -> bool:
    from sportello.automation.models import TimeRuleRun

    return TimeRuleRun.objects.filter(rule=rule, ticket=ticket, period_start=start).exists()
