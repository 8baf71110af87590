"""Conditions of triggers and time rules: `{"field": …, "op": …, "value": …}` over one ticket.

A condition never raises on odd data: a field a ticket does not have is empty, and a value of
the wrong type simply does not match. Validation happens once, when an admin saves the rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sportello.core.errors import InvalidInput
from sportello.tickets.models import Entry, Ticket

FIELDS = {
    "status": "the status's slug (open, pending, or an admin-defined one)",
    "state": "the status category: new, open, pending, on_hold, solved, closed",
    "priority": "1 low, 2 normal, 3 high, 4 urgent",
    "group": "group id (null: no group)",
    "assignee": "agent id (null: unassigned)",
    "channel": "email, web, chat, phone, social, portal, api",
    "tags": "the ticket's tags",
    "customer_email": "the customer's email addresses",
    "organization": "the customer's organization id",
    "language": "the ticket's language code",
    "subject": "the ticket's subject",
    "text": "the subject and the text of the entry that caused the event",
    "tier": "the support tier of the ticket's group",
    "business_hours": "true while the default business-hours calendar is open",
    # Auto-triage's predictions (triage/services.py): the value counts only when triage is at least
    # as sure as its threshold (settings); the confidence is a percentage, empty without a model.
    "predicted_group": "the group id auto-triage predicts, when sure enough",
    "predicted_group_confidence": "how sure auto-triage is of its group, 0-100",
    "predicted_category": "the ticket type id auto-triage predicts, when sure enough",
    "predicted_category_confidence": "how sure auto-triage is of its ticket type, 0-100",
    "predicted_priority": "the priority auto-triage predicts (1-4), when sure enough",
    "predicted_priority_confidence": "how sure auto-triage is of its priority, 0-100",
}
PREDICTED = ("group", "category", "priority")

OPERATORS: dict[str, Callable[[Any, Any], bool]] = {}


def _operator(name: str) -> Callable[[Callable[[Any, Any], bool]], Callable[[Any, Any], bool]]:
    def register(function: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
        OPERATORS[name] = function
        return function

    return register


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple | set) else [value]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.casefold() == b.casefold()
    return bool(a == b)


@_operator("is")
def _is(actual: Any, expected: Any) -> bool:
    if isinstance(actual, list):
        return any(_same(item, expected) for item in actual)
    return _same(actual, expected)


@_operator("is_not")
def _is_not(actual: Any, expected: Any) -> bool:
    return not _is(actual, expected)


@_operator("in")
def _in(actual: Any, expected: Any) -> bool:
    return any(_is(actual, option) for option in _as_list(expected))


@_operator("not_in")
def _not_in(actual: Any, expected: Any) -> bool:
    return not _in(actual, expected)


@_operator("contains")
def _contains(actual: Any, expected: Any) -> bool:
    """Text contains the words; a list (tags, addresses) has an item that contains them.

    On a list, `is` asks for an item equal to the value (the tag "vip"), `contains` for an item
    containing it (an address "@vip.example")."""
    if isinstance(actual, list):
        return any(_contains(item, expected) for item in actual)
    return isinstance(actual, str) and isinstance(expected, str) and expected.casefold() in actual.casefold()


@_operator("not_contains")
def _not_contains(actual: Any, expected: Any) -> bool:
    return not _contains(actual, expected)


@_operator("gte")
def _gte(actual: Any, expected: Any) -> bool:
    try:
        return bool(actual >= expected)
    except TypeError:
        return False


@_operator("lte")
def _lte(actual: Any, expected: Any) -> bool:
    try:
        return bool(actual <= expected)
    except TypeError:
        return False


@_operator("is_set")
def _is_set(actual: Any, expected: Any) -> bool:
    return actual not in (None, "", [])


@_operator("not_set")
def _not_set(actual: Any, expected: Any) -> bool:
    return actual in (None, "", [])


def validate_conditions(conditions: Any) -> list[dict[str, Any]]:
    """The conditions as stored, or InvalidInput naming the first thing wrong with them."""
    if not isinstance(conditions, list):
        raise InvalidInput("Conditions must be a list", field="conditions")
    for number, condition in enumerate(conditions, start=1):
        if not isinstance(condition, dict):
            raise InvalidInput(f"Condition {number} must be an object", field="conditions")
        if condition.get("field") not in FIELDS:
            raise InvalidInput(
                f"Condition {number}: unknown field {condition.get('field')!r}; one of {', '.join(FIELDS)}",
                field="conditions",
            )
        if condition.get("op") not in OPERATORS:
            raise InvalidInput(
                f"Condition {number}: unknown operator {condition.get('op')!r}; one of {', '.join(OPERATORS)}",
                field="conditions",
            )
        if condition["op"] not in ("is_set", "not_set") and "value" not in condition:
            raise InvalidInput(f"Condition {number}: a value is needed", field="conditions")
    return conditions


@dataclass
class Facts:
    """What conditions look at, read once per ticket and event (a few queries, whatever the rules)."""

    values: dict[str, Any] = field(default_factory=dict)
    lazy: dict[str, Callable[[], Any]] = field(default_factory=dict)

    def get(self, name: str) -> Any:
        if name not in self.values and name in self.lazy:
            self.values[name] = self.lazy[name]()
        return self.values.get(name)


def facts_for(ticket: Ticket, entry: Entry | None = None) -> Facts:
    from sportello.customers.models import Identity, IdentityKind

    customer = ticket.customer
    return Facts(
        values={
            "status": ticket.status.slug,
            "state": ticket.state,
            "priority": ticket.priority,
            "group": ticket.group_id,
            "assignee": ticket.assignee_id,
            "channel": ticket.channel,
            "organization": customer.organization_id,
            "language": ticket.language,
            "subject": ticket.subject,
            "tier": ticket.group.tier if ticket.group else None,
        },
        lazy={
            "tags": lambda: list(ticket.tags.values_list("name", flat=True)),
            "customer_email": lambda: list(
                Identity.objects.filter(customer=customer, kind=IdentityKind.EMAIL).values_list("value", flat=True)
            ),
            "text": lambda: f"{ticket.subject}\n{entry.body_text if entry else ''}",
            "business_hours": _business_hours_now,
            **{name: value for target in PREDICTED for name, value in _predicted(ticket, target).items()},
        },
    )


def _predicted(ticket: Ticket, target: str) -> dict[str, Callable[[], Any]]:
    """The lazy facts of one prediction: its value (an id or a priority) and its confidence."""

    def prediction() -> tuple[int | None, int | None]:
        from sportello.triage.models import TriageSettings
        from sportello.triage.services import prediction_for

        found = prediction_for(ticket, target)
        if found is None:
            return None, None
        try:
            value: int | None = int(found.value)
        except ValueError:
            value = None
        sure = found.confidence >= TriageSettings.current().threshold(target)
        return (value if sure else None), round(found.confidence * 100)

    once: list[tuple[int | None, int | None]] = []

    def read(index: int) -> Any:
        if not once:
            once.append(prediction())
        return once[0][index]

    return {f"predicted_{target}": lambda: read(0), f"predicted_{target}_confidence": lambda: read(1)}


def _business_hours_now() -> bool:
    from django.utils import timezone

    from sportello.sla.business_time import is_business_time
    from sportello.sla.models import Calendar

    calendar = Calendar.objects.order_by("id").first()
    if calendar is None:
        return True  # no calendar: the team works around the clock
    return is_business_time(timezone.now(), calendar.spec())


def matches(conditions: list[Mapping[str, Any]], facts: Facts, *, match_all: bool = True) -> bool:
    if not conditions:
        return True
    results = (OPERATORS[c["op"]](facts.get(c["field"]), c.get("value")) for c in conditions)
    return all(results) if match_all else any(results)
