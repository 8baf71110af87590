"""Refuse, at save time, triggers that would keep undoing each other.

A trigger that sets the status causes a `status_changed` event; one that sets the assignee causes
`assigned`. Trigger T feeds trigger U when U listens to the event T causes, U's conditions can
hold for the value T sets (conditions on other fields are unknown, so taken as possible), and U
sets a different value (setting the same value again changes nothing, so no new event). A cycle
of such edges is a loop: e.g. "when open, set pending" and "when pending, set open".

The causal depth bound in services.py still stops any loop this check cannot see (conditions on
text, tags, …); this check gives the admin a clear message before that happens.
"""

from __future__ import annotations

from typing import Any

from sportello.automation.conditions import OPERATORS
from sportello.automation.models import Match, Trigger, TriggerEvent
from sportello.tickets.models import Status

# The action that causes each event, and the condition fields that see its value.
CAUSES = {
    "set_status": (TriggerEvent.STATUS_CHANGED, ("status", "state")),
    "set_assignee": (TriggerEvent.ASSIGNED, ("assignee",)),
}


def _effects(actions: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """event → the values of the fields it changes, for each event this rule's actions cause."""
    found: dict[str, dict[str, Any]] = {}
    for action in actions:
        if action.get("type") == "set_status":
            status = Status.objects.filter(slug=action.get("status")).first()
            if status is not None:
                found[TriggerEvent.STATUS_CHANGED] = {"status": status.slug, "state": status.category}
        elif action.get("type") == "set_assignee" and action.get("assignee") is not None:
            found[TriggerEvent.ASSIGNED] = {"assignee": action["assignee"]}
    return found


def _possible(conditions: list[dict[str, Any]], match: str, known: dict[str, Any]) -> bool:
    results = [
        OPERATORS[c["op"]](known[c["field"]], c.get("value")) if c["field"] in known else True for c in conditions
    ]
    if not results:
        return True
    return all(results) if match == Match.ALL else any(results)


def find_loop(candidate: Trigger) -> list[str]:
    """The names of triggers (the candidate first) that would set fields back and forth; [] if none."""
    rules = [t for t in Trigger.objects.filter(active=True).exclude(pk=candidate.pk)]
    if candidate.active:
        rules.insert(0, candidate)
    effects = {id(rule): _effects(rule.actions) for rule in rules}
    edges: dict[int, list[Trigger]] = {id(rule): [] for rule in rules}
    for source in rules:
        for event, values in effects[id(source)].items():
            for target in rules:
                if target is source or target.event != event:
                    continue
                if effects[id(target)].get(event) == values:
                    continue  # it would set what is already there: no new event
                if _possible(target.conditions, target.match, values):
                    edges[id(source)].append(target)
    # A path from the candidate back to itself is a loop it takes part in.
    path: list[Trigger] = [candidate]
    seen: set[int] = set()

    def walk(node: Trigger) -> bool:
        for successor in edges.get(id(node), []):
            if successor is candidate:
                return True
            if id(successor) in seen:
                continue
            seen.add(id(successor))
            path.append(successor)
            if walk(successor):
                return True
            path.pop()
        return False

    return [rule.name for rule in path] if candidate.active and walk(candidate) else []
