"""The forms of the automation settings pages, and the condition and action builder.

The builder posts plain form fields, one row per condition or action, numbered by the row's
index (gaps allowed: the script never renumbers, rows keep their place in index order):

    c-<i>-field, c-<i>-op, c-<i>-value (repeated for "is one of")
    a-<i>-type, a-<i>-<param> (status, priority, group, assignee, tags, body, note, to, address,
                                subject, template, url, secret)

`Builder.from_post` turns them into the stored structures (`{"field", "op", "value"}`,
`{"type", …}`) and checks each row with `validate_conditions` / `validate_actions`, so a row's
message is the API's message, shown next to that row. `rows_for` goes the other way, from the
stored structures to the rows the page shows, so form fields → structure → form round-trips.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from sportello.automation.actions import FIELD_ACTIONS, OTHER_ACTIONS, RECIPIENTS, validate_actions
from sportello.automation.assignment import MAX_LEVEL
from sportello.automation.conditions import FIELDS, OPERATORS, validate_conditions
from sportello.automation.models import Macro, TimeRule, Trigger, WebhookCall
from sportello.core.errors import InvalidInput
from sportello.tickets.models import Category

# --- What the builder offers ------------------------------------------------------------------------

OPERATOR_LABELS = {
    "is": _("is"),
    "is_not": _("is not"),
    "in": _("is one of"),
    "not_in": _("is none of"),
    "contains": _("contains"),
    "not_contains": _("does not contain"),
    "gte": _("is at least"),
    "lte": _("is at most"),
    "is_set": _("is set"),
    "not_set": _("is not set"),
}
assert set(OPERATOR_LABELS) == set(OPERATORS)

CHOICE_OPS = ("is", "is_not", "in", "not_in")
NULLABLE_OPS = (*CHOICE_OPS, "is_set", "not_set")
TEXT_OPS = ("contains", "not_contains", "is", "is_not", "in", "not_in", "is_set", "not_set")
NUMBER_OPS = ("is", "is_not", "gte", "lte", "is_set", "not_set")
# Operators that take no value, and those that take a list of them.
NO_VALUE_OPS = ("is_set", "not_set")
LIST_OPS = ("in", "not_in")


@dataclass(frozen=True)
class FieldSpec:
    """How the builder edits one condition field: `kind` is choice, text, number or tags."""

    name: str
    label: Any
    kind: str
    operators: tuple[str, ...]
    # Values are whole numbers (ids, priorities, tiers); "" stands for "none" when `nullable`.
    integer: bool = False
    nullable: bool = False


CONDITION_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("status", _("Status"), "choice", CHOICE_OPS),
    FieldSpec("state", _("Status category"), "choice", CHOICE_OPS),
    FieldSpec("priority", _("Priority"), "choice", ("is", "is_not", "in", "not_in", "gte", "lte"), integer=True),
    FieldSpec("group", _("Group"), "choice", NULLABLE_OPS, integer=True, nullable=True),
    FieldSpec("assignee", _("Assignee"), "choice", NULLABLE_OPS, integer=True, nullable=True),
    FieldSpec("channel", _("Channel"), "choice", CHOICE_OPS),
    FieldSpec("tags", _("Tags"), "tags", TEXT_OPS),
    FieldSpec("customer_email", _("Customer's email"), "text", TEXT_OPS),
    FieldSpec("organization", _("Organization"), "choice", NULLABLE_OPS, integer=True, nullable=True),
    FieldSpec("language", _("Language"), "text", TEXT_OPS),
    FieldSpec("subject", _("Subject"), "text", TEXT_OPS),
    FieldSpec("text", _("Subject or message"), "text", ("contains", "not_contains", "is_set", "not_set")),
    FieldSpec("tier", _("Group's tier"), "number", NUMBER_OPS, integer=True, nullable=True),
    FieldSpec("business_hours", _("Business hours"), "choice", ("is",)),
    FieldSpec("predicted_group", _("Predicted group"), "choice", NULLABLE_OPS, integer=True, nullable=True),
    FieldSpec("predicted_group_confidence", _("Predicted group's confidence (%)"), "number", NUMBER_OPS, integer=True),
    FieldSpec("predicted_category", _("Predicted ticket type"), "choice", NULLABLE_OPS, integer=True, nullable=True),
    FieldSpec(
        "predicted_category_confidence", _("Predicted ticket type's confidence (%)"), "number", NUMBER_OPS, integer=True
    ),
    FieldSpec("predicted_priority", _("Predicted priority"), "choice", NULLABLE_OPS, integer=True, nullable=True),
    FieldSpec(
        "predicted_priority_confidence", _("Predicted priority's confidence (%)"), "number", NUMBER_OPS, integer=True
    ),
)
SPECS = {spec.name: spec for spec in CONDITION_FIELDS}
assert set(SPECS) == set(FIELDS)


@dataclass(frozen=True)
class Param:
    """One input of an action: `kind` is choice, text, textarea, tags, email or url."""

    name: str
    label: Any
    kind: str
    choices: str = ""  # the choice list's name in `choice_lists()`
    optional: bool = False


ACTION_PARAMS: dict[str, tuple[Param, ...]] = {
    "set_status": (Param("status", _("Status"), "choice", "status"),),
    "set_priority": (Param("priority", _("Priority"), "choice", "priority"),),
    "set_group": (Param("group", _("Group"), "choice", "group_required"),),
    "set_assignee": (Param("assignee", _("Agent"), "choice", "assignee_action"),),
    "add_tags": (Param("tags", _("Tags"), "tags"),),
    "remove_tags": (Param("tags", _("Tags"), "tags"),),
    "set_tags": (Param("tags", _("Tags"), "tags"),),
    "add_note": (Param("body", _("Note"), "textarea"),),
    "escalate": (Param("note", _("Hand-off note"), "textarea", optional=True),),
    "send_email": (
        Param("to", _("To"), "choice", "recipients"),
        Param("address", _("Address"), "email", optional=True),
        Param("template", _("Template key"), "text", optional=True),
        Param("subject", _("Subject"), "text", optional=True),
        Param("body", _("Message"), "textarea", optional=True),
    ),
    "webhook": (
        Param("url", _("URL"), "url"),
        Param("secret", _("Signing secret"), "text", optional=True),
    ),
}
ACTION_LABELS = {
    "set_status": _("Set status"),
    "set_priority": _("Set priority"),
    "set_group": _("Move to group"),
    "set_assignee": _("Assign to"),
    "add_tags": _("Add tags"),
    "remove_tags": _("Remove tags"),
    "set_tags": _("Replace tags"),
    "add_note": _("Add an internal note"),
    "escalate": _("Escalate to the next level"),
    "send_email": _("Send an email"),
    "webhook": _("Call a webhook"),
}
assert set(ACTION_PARAMS) == set(FIELD_ACTIONS + OTHER_ACTIONS) == set(ACTION_LABELS)
INTEGER_PARAMS = ("priority", "group", "assignee")


def choice_lists() -> dict[str, list[tuple[str, str]]]:
    """The options of every select, as (value, label) strings; read once per page."""
    from sportello.accounts.models import Group, Role, User
    from sportello.customers.models import Organization
    from sportello.tickets.models import Channel, Priority, Status, StatusCategory

    groups = [(str(pk), name) for pk, name in Group.objects.order_by("name").values_list("pk", "name")]
    agents = [
        (str(user.pk), user.display_name)
        for user in User.objects.filter(role__in=[Role.AGENT, Role.ADMIN], is_active=True).order_by(
            "first_name", "last_name", "username"
        )
    ]
    organizations = [(str(pk), name) for pk, name in Organization.objects.order_by("name").values_list("pk", "name")]
    return {
        "status": [(slug, str(_(name))) for slug, name in Status.objects.values_list("slug", "name")],
        "state": [(value, str(label)) for value, label in StatusCategory.choices if value in _CATEGORIES],
        "priority": [(str(value), str(label)) for value, label in Priority.choices],
        "group": [("", str(_("No group"))), *groups],
        "group_required": groups,
        "assignee": [("", str(_("Unassigned"))), *agents],
        "assignee_action": [("", str(_("Nobody (unassign)"))), *agents],
        "channel": [(value, str(label)) for value, label in Channel.choices],
        "organization": [("", str(_("No organization"))), *organizations],
        "business_hours": [("true", str(_("Open now"))), ("false", str(_("Closed now")))],
        "predicted_group": [("", str(_("No prediction"))), *groups],
        "predicted_category": [
            ("", str(_("No prediction"))),
            *((str(pk), name) for pk, name in Category.objects.order_by("name").values_list("pk", "name")),
        ],
        "predicted_priority": [("", str(_("No prediction"))), *((str(v), str(label)) for v, label in Priority.choices)],
        "recipients": [(value, str(_RECIPIENT_LABELS[value])) for value in RECIPIENTS],
    }


_CATEGORIES = ("new", "open", "pending", "on_hold", "solved", "closed")
_RECIPIENT_LABELS = {
    "customer": _("The customer"),
    "assignee": _("The assignee"),
    "group": _("The group's members"),
    "address": _("An address"),
}


def builder_spec(lists: dict[str, list[tuple[str, str]]], actions: tuple[str, ...]) -> dict[str, Any]:
    """What builder.js needs to draw a new row or change one: fields, operators, params, options."""
    return {
        "fields": [
            {
                "name": spec.name,
                "label": str(spec.label),
                "kind": spec.kind,
                "operators": list(spec.operators),
                "choices": lists.get(spec.name, []),
            }
            for spec in CONDITION_FIELDS
        ],
        "operators": {name: str(label) for name, label in OPERATOR_LABELS.items()},
        "noValue": list(NO_VALUE_OPS),
        "listOps": list(LIST_OPS),
        "actions": [
            {
                "type": kind,
                "label": str(ACTION_LABELS[kind]),
                "params": [
                    {
                        "name": p.name,
                        "label": str(p.label),
                        "kind": p.kind,
                        "choices": lists.get(p.choices, []),
                        "optional": p.optional,
                    }
                    for p in ACTION_PARAMS[kind]
                ],
            }
            for kind in actions
        ],
    }


# --- Rows: what the page shows and posts ---------------------------------------------------------------


@dataclass
class ConditionRow:
    index: int
    field: str
    op: str
    values: list[str]
    error: str = ""


@dataclass
class ActionRow:
    index: int
    type: str
    params: dict[str, str]
    error: str = ""
    # A webhook's signing secret never goes back to the browser once saved: the row carries the
    # place of the stored action whose secret it keeps (`secret_from`) and a masked hint instead.
    secret_from: int | None = None
    secret_hint: str = ""
    secret_cleared: bool = False  # "remove the secret" ticked
    secret_typed: bool = False  # a new secret was typed (not shown back if the page comes again)


def mask_secret(secret: str) -> str:
    """“••••f00d”: the last four characters of a long secret, only dots for a short one."""
    return "••••" + (secret[-4:] if len(secret) >= 12 else "")


@dataclass
class Builder:
    """The rows of one rule as posted (or as stored), their structures and their messages."""

    conditions: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    condition_rows: list[ConditionRow] = field(default_factory=list)
    action_rows: list[ActionRow] = field(default_factory=list)
    # Messages about the whole list (a loop of triggers, no action at all).
    conditions_error: str = ""
    actions_error: str = ""

    @property
    def valid(self) -> bool:
        errors = [row.error for row in self.condition_rows] + [row.error for row in self.action_rows]
        return not (self.conditions_error or self.actions_error or any(errors))

    @classmethod
    def from_post(
        cls,
        data: QueryDict,
        *,
        allowed: tuple[str, ...] = FIELD_ACTIONS + OTHER_ACTIONS,
        stored: list[dict[str, Any]] | None = None,
    ) -> Builder:
        """`stored`: the rule's saved actions, whose webhook secrets rows left empty keep."""
        builder = cls()
        for number, index in enumerate(_indexes(data, "c", "field"), start=1):
            row = ConditionRow(
                index,
                data.get(f"c-{index}-field", ""),
                data.get(f"c-{index}-op", ""),
                list(data.getlist(f"c-{index}-value")),
            )
            builder.condition_rows.append(row)
            try:
                condition = parse_condition(row)
                validate_conditions([condition])
            except InvalidInput as exc:
                row.error = _numbered(exc.message, "Condition", number)
                continue
            builder.conditions.append(condition)
        for number, index in enumerate(_indexes(data, "a", "type"), start=1):
            kind = data.get(f"a-{index}-type", "")
            params = {p.name: data.get(f"a-{index}-{p.name}", "") for p in ACTION_PARAMS.get(kind, ())}
            posted = ActionRow(index, kind, params)
            if kind == "webhook":
                _keep_secret(posted, data, stored or [])
            builder.action_rows.append(posted)
            try:
                action = parse_action(posted)
                validate_actions([action], allowed=allowed)
            except InvalidInput as exc:
                posted.error = _numbered(exc.message, "Action", number)
                continue
            finally:
                posted.params.pop("secret", None)  # parsed: the page never shows it back
            builder.actions.append(action)
        return builder

    @classmethod
    def from_stored(cls, conditions: list[dict[str, Any]], actions: list[dict[str, Any]]) -> Builder:
        return cls(
            conditions=list(conditions),
            actions=list(actions),
            condition_rows=[condition_row(i, c) for i, c in enumerate(conditions)],
            action_rows=[action_row(i, a) for i, a in enumerate(actions)],
        )

    def place(self, exc: InvalidInput) -> bool:
        """Show a service's message about the conditions or the actions; False for other fields."""
        where = exc.details.get("field")
        if where == "conditions":
            self.conditions_error = exc.message
        elif where == "actions":
            self.actions_error = exc.message
        else:
            return False
        return True


def _keep_secret(row: ActionRow, data: QueryDict, stored: list[dict[str, Any]]) -> None:
    """A webhook row's secret as it is to be saved: the one typed; else, unless "remove" is
    ticked, the saved one of the stored action the row came from (`a-<i>-secret_from`)."""
    place = data.get(f"a-{row.index}-secret_from", "")
    source = stored[int(place)] if place.isdecimal() and int(place) < len(stored) else {}
    saved = str(source.get("secret") or "") if source.get("type") == "webhook" else ""
    typed = row.params.get("secret", "").strip()
    row.secret_cleared = data.get(f"a-{row.index}-secret_clear") == "yes"
    row.secret_typed = bool(typed)
    if saved:
        row.secret_from, row.secret_hint = int(place), mask_secret(saved)
        if not typed and not row.secret_cleared:
            row.params["secret"] = saved


def _indexes(data: QueryDict, prefix: str, name: str) -> list[int]:
    pattern = re.compile(rf"^{prefix}-(\d{{1,4}})-{name}$")
    return sorted({int(m.group(1)) for key in data if (m := pattern.match(key))})


def _numbered(message: str, noun: str, number: int) -> str:
    """A message about a one-row list names the row's place in the whole list instead."""
    return re.sub(rf"^{noun} 1\b", f"{noun} {number}", message)


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _typed(spec: FieldSpec, raw: str, number_message: str) -> Any:
    raw = raw.strip()
    if spec.name == "business_hours":
        return raw == "true"
    if spec.integer:
        if raw == "" and spec.nullable:
            return None
        try:
            return int(raw)
        except ValueError:
            raise InvalidInput(number_message, field="conditions") from None
    return raw


def parse_condition(row: ConditionRow) -> dict[str, Any]:
    """One row as stored; InvalidInput (numbered 1) for what validation cannot say itself."""
    spec = SPECS.get(row.field)
    condition: dict[str, Any] = {"field": row.field, "op": row.op}
    if spec is None or row.op not in OPERATORS or row.op in NO_VALUE_OPS:
        return condition  # validate_conditions names the unknown field or operator
    if row.op not in spec.operators:
        raise InvalidInput(
            f"Condition 1: {spec.label} cannot be compared with “{OPERATOR_LABELS[row.op]}”", field="conditions"
        )
    number = f"Condition 1: {spec.label} needs a whole number"
    raws = row.values
    if spec.kind in ("text", "tags") or (spec.kind == "number" and row.op in LIST_OPS):
        raws = _split(raws[0] if raws else "") if row.op in LIST_OPS else raws[:1]
    if row.op in LIST_OPS:
        if not raws:
            raise InvalidInput("Condition 1: choose at least one value", field="conditions")
        condition["value"] = [_typed(spec, raw, number) for raw in raws]
    else:
        condition["value"] = _typed(spec, raws[0] if raws else "", number)
        if spec.kind in ("text", "tags") and condition["value"] == "" and row.op in ("contains", "not_contains"):
            raise InvalidInput("Condition 1: type the words to look for", field="conditions")
    return condition


def condition_row(index: int, condition: dict[str, Any]) -> ConditionRow:
    spec = SPECS.get(str(condition.get("field")))
    op = str(condition.get("op", ""))
    value = condition.get("value")
    if op in NO_VALUE_OPS or "value" not in condition:
        values: list[str] = []
    elif isinstance(value, list):
        texts = [_as_text(v) for v in value]
        values = [", ".join(texts)] if spec is None or spec.kind != "choice" else texts
    else:
        values = [_as_text(value)]
    return ConditionRow(index, str(condition.get("field", "")), op, values)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_action(row: ActionRow) -> dict[str, Any]:
    action: dict[str, Any] = {"type": row.type}
    for param in ACTION_PARAMS.get(row.type, ()):
        raw = row.params.get(param.name, "")
        if param.kind == "tags":
            action[param.name] = _split(raw)
        elif param.name in INTEGER_PARAMS:
            if raw.strip() == "" and param.name == "assignee":
                action[param.name] = None
            else:
                try:
                    action[param.name] = int(raw)
                except ValueError:
                    raise InvalidInput(f"Action 1 ({row.type}): choose a {param.label}", field="actions") from None
        elif param.optional and raw.strip() == "":
            continue
        else:
            action[param.name] = raw.strip() if param.kind in ("url", "email", "text", "choice") else raw
    if row.type == "send_email" and not action.get("template"):
        action.setdefault("subject", "")
        action.setdefault("body", "")
        if not action["subject"].strip() or not action["body"].strip():
            raise InvalidInput("Action 1 (send_email): subject and body (or a template) are needed", field="actions")
    return action


def action_row(index: int, action: dict[str, Any]) -> ActionRow:
    kind = str(action.get("type", ""))
    params: dict[str, str] = {}
    for param in ACTION_PARAMS.get(kind, ()):
        value = action.get(param.name)
        if kind == "add_note" and value is None:
            value = action.get("note")
        if kind == "escalate" and value is None:
            value = action.get("body")
        params[param.name] = ", ".join(str(t) for t in value) if isinstance(value, list) else _as_text(value)
    row = ActionRow(index, kind, params)
    secret = params.pop("secret", "")
    if secret:
        row.secret_from, row.secret_hint = index, mask_secret(secret)
    return row


# --- The rules' own fields ---------------------------------------------------------------------------


class TriggerSettingsForm(forms.ModelForm):
    class Meta:
        model = Trigger
        fields = ("name", "event", "match", "position", "active")
        labels = {"match": _("Act when"), "position": _("Order"), "event": _("Event")}
        help_texts = {"position": _("Triggers run from the lowest number up.")}


class TimeRuleSettingsForm(forms.ModelForm):
    class Meta:
        model = TimeRule
        fields = ("name", "since", "hours", "position", "active")
        labels = {"since": _("Counted from"), "hours": _("Hours"), "position": _("Order")}
        help_texts = {
            "hours": _("Act once this many hours have passed."),
            "position": _("Rules run from the lowest number up."),
        }

    def clean_hours(self) -> int:
        hours = self.cleaned_data["hours"]
        if hours < 1:
            raise forms.ValidationError(_("At least one hour."))
        return int(hours)


class MacroSettingsForm(forms.ModelForm):
    class Meta:
        model = Macro
        fields = ("name", "body", "active")
        labels = {"body": _("Text")}
        widgets = {"body": forms.Textarea(attrs={"rows": 6})}


class WebhookTestForm(forms.Form):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    secret = forms.CharField(
        label=_("Signing secret"),
        max_length=200,
        required=False,
        help_text=_("Empty: signed with the server's own key, as a webhook action without a secret is."),
    )


class WebhookLogFilter(forms.Form):
    state = forms.ChoiceField(
        label=_("State"), required=False, choices=[("", _("Any state")), *WebhookCall.State.choices]
    )
    trigger = forms.TypedChoiceField(label=_("Trigger"), required=False, coerce=int, empty_value=None)
    since = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        triggers = Trigger.objects.order_by("name").values_list("pk", "name")
        self.fields["trigger"].choices = [("", _("Any trigger")), *triggers]  # type: ignore[attr-defined]


# --- Skills (assignment "by skills") -----------------------------------------------------------------

LEVEL_CHOICES = [("", _("Does not have it")), *((str(n), str(n)) for n in range(1, MAX_LEVEL + 1))]


class SkillForm(forms.Form):
    """A skill, the ticket types and tags that need it, and (`agents` given) each agent's level."""

    name = forms.CharField(label=_("Name"), max_length=80)
    categories = forms.ModelMultipleChoiceField(
        label=_("Ticket types that need it"),
        queryset=Category.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    tags = forms.CharField(
        label=_("Tags that need it"),
        required=False,
        max_length=2000,
        help_text=_("Separated by commas: a ticket with any of them needs the skill."),
    )

    def __init__(self, *args: Any, agents: list[Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["categories"].queryset = Category.objects.order_by("name")  # type: ignore[attr-defined]
        self.agents = agents or []
        for agent in self.agents:
            self.fields[f"agent_{agent.pk}"] = forms.ChoiceField(
                label=agent.display_name, required=False, choices=LEVEL_CHOICES
            )

    def agent_fields(self) -> list[forms.BoundField]:
        return [self[f"agent_{agent.pk}"] for agent in self.agents]

    def clean_tags(self) -> list[str]:
        names = [name.strip() for name in self.cleaned_data.get("tags", "").split(",") if name.strip()]
        for name in names:
            if len(name) > 50:
                raise forms.ValidationError(_("“%(tag)s” is longer than 50 characters.") % {"tag": name[:50]})
        return list(dict.fromkeys(name.lower() for name in names))

    def levels(self) -> dict[Any, int | None]:
        """Agent → level (1 basic … 5 expert) for the agents given one."""
        return {agent: int(level) for agent in self.agents if (level := self.cleaned_data.get(f"agent_{agent.pk}"))}
