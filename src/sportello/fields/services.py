"""Custom fields: the definitions as each process keeps them, and the rules for their values.

Values are stored in the `custom_fields` JSON column of tickets, customers and organizations, by
key, in one JSON shape per type:

    text         "ORD-1042"           (at most 1,000 characters)
    number       12 or 12.5
    date         "2026-12-03"         (ISO 8601 day)
    choice       "Widget"             (one of the field's choices)
    multichoice  ["Red", "Blue"]      (some of the choices, in the choices' order)
    checkbox     true or false

An empty value (None, "", []) removes the key. `clean_values` turns what a form or the API sent into
that shape, or raises InvalidInput naming the field (`custom_fields.<key>`). Values of a field that is
no longer active stay stored but are neither shown nor accepted.

The definitions are near-static, so every process keeps them under the lookups' version
(core/lookups.py, bumped by every save or delete of a definition): a page that read the version
once gets the fields of all three targets without another query.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import connection
from django.db.models import Model, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext as _

from sportello.core import lookups
from sportello.core.errors import InvalidInput
from sportello.fields.models import CustomField, FieldTarget, FieldType

MAX_TEXT = 1000
MAX_CHOICES = 200
MAX_CHOICE_LENGTH = 100
TRUE_WORDS = {"1", "true", "on", "yes"}
FALSE_WORDS = {"", "0", "false", "off", "no"}


@dataclass(frozen=True)
class FieldDef:
    """A definition as processes keep it: immutable, so threads can share it."""

    id: int
    target: str
    key: str
    label: str
    type: str
    choices: tuple[str, ...]
    required: bool
    help_text: str
    position: int

    @property
    def form_name(self) -> str:
        """The field's name in forms and query strings (`cf_order_number`)."""
        return f"cf_{self.key}"

    def display(self, value: Any) -> str:
        """A stored value as people read it (history, lists)."""
        return display_value(value)


def _load(target: str) -> list[FieldDef]:
    rows = CustomField.objects.filter(target=target, active=True).order_by("position", "id")
    return [
        FieldDef(
            id=row.pk,
            target=row.target,
            key=row.key,
            label=row.label,
            type=row.type,
            choices=tuple(str(c) for c in row.choices or []),
            required=row.required,
            help_text=row.help_text,
            position=row.position,
        )
        for row in rows
    ]


def definitions(target: str, *, stamp: int | None = None) -> list[FieldDef]:
    """The active fields of `target` (ticket, customer, organization), in their order; kept per
    process for the lookups' version `stamp` (None: read now)."""
    if target not in FieldTarget.values:
        raise ValueError(target)
    return lookups.cached(f"fields:{target}", stamp, lambda: _load(target))


def by_key(target: str, *, stamp: int | None = None) -> dict[str, FieldDef]:
    return {d.key: d for d in definitions(target, stamp=stamp)}


# --- Values -------------------------------------------------------------------------------------


def _invalid(defn: FieldDef, message: str) -> InvalidInput:
    return InvalidInput(f"{defn.label}: {message}", field=f"custom_fields.{defn.key}")


def clean_value(defn: FieldDef, raw: Any) -> Any:
    """`raw` (from JSON or a form) in the field's stored shape; None when empty."""
    kind = defn.type
    if raw is None:
        return None
    if kind == FieldType.CHECKBOX:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in TRUE_WORDS | FALSE_WORDS:
            return raw.strip().lower() in TRUE_WORDS
        raise _invalid(defn, _("must be true or false"))
    if kind == FieldType.MULTICHOICE:
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, list | tuple) or not all(isinstance(item, str) for item in items):
            raise _invalid(defn, _("must be a list of choices"))
        picked = {item.strip() for item in items if item.strip()}
        unknown = sorted(picked - set(defn.choices))
        if unknown:
            raise _invalid(defn, _("“%(value)s” is not one of its choices") % {"value": unknown[0]})
        return [choice for choice in defn.choices if choice in picked] or None
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise _invalid(defn, _("must be a single value"))
    if isinstance(raw, str):
        raw = raw.strip()
        if raw == "":
            return None
    if kind == FieldType.TEXT:
        if not isinstance(raw, str):
            raise _invalid(defn, _("must be text"))
        if len(raw) > MAX_TEXT:
            raise _invalid(defn, _("at most %(count)d characters") % {"count": MAX_TEXT})
        return raw
    if kind == FieldType.NUMBER:
        return _number(defn, raw)
    if kind == FieldType.DATE:
        if not isinstance(raw, str):
            raise _invalid(defn, _("must be a date like 2026-12-31"))
        try:
            return date.fromisoformat(raw).isoformat()
        except ValueError:
            raise _invalid(defn, _("must be a date like 2026-12-31")) from None
    if kind == FieldType.CHOICE:
        if not isinstance(raw, str) or raw not in defn.choices:
            raise _invalid(defn, _("“%(value)s” is not one of its choices") % {"value": raw})
        return raw
    raise _invalid(defn, _("has an unknown type"))


def _number(defn: FieldDef, raw: str | int | float) -> int | float:
    try:
        number = float(raw.replace(",", ".")) if isinstance(raw, str) else raw
    except ValueError:
        raise _invalid(defn, _("must be a number")) from None
    if isinstance(number, float):
        if not math.isfinite(number) or abs(number) > 1e15:
            raise _invalid(defn, _("must be a number"))
        if number.is_integer():
            return int(number)
    return number


def clean_values(target: str, values: Any, *, creating: bool = False, stamp: int | None = None) -> dict[str, Any]:
    """The values to write, each checked against its definition; a key whose value is empty maps
    to None (remove it). With `creating`, every required field must be given."""
    if not isinstance(values, dict):
        raise InvalidInput("custom_fields must be an object of field keys and values", field="custom_fields")
    fields = by_key(target, stamp=stamp)
    cleaned: dict[str, Any] = {}
    for key, raw in values.items():
        defn = fields.get(str(key))
        if defn is None:
            raise InvalidInput(f"Unknown custom field {key!r}", field=f"custom_fields.{key}")
        value = clean_value(defn, raw)
        if value is None and defn.required:
            raise _invalid(defn, _("is required"))
        cleaned[defn.key] = value
    if creating:
        for defn in fields.values():
            if defn.required and cleaned.get(defn.key) is None:
                raise _invalid(defn, _("is required"))
    return cleaned


def as_dict(values: dict[str, Any] | str | None) -> dict[str, Any]:
    """Stored values as a dict. A customer read by intake's raw SQL (customers/identity.py,
    `Customer.from_db` without the column converters) holds the JSON text instead."""
    if isinstance(values, str):
        loaded = json.loads(values or "{}")
        return dict(loaded) if isinstance(loaded, dict) else {}
    return dict(values or {})


def merged(current: dict[str, Any] | str | None, cleaned: dict[str, Any]) -> dict[str, Any]:
    """`current` with `cleaned` written over it (None removes a key)."""
    values = as_dict(current)
    for key, value in cleaned.items():
        if value is None:
            values.pop(key, None)
        elif value is False and key not in values:
            continue  # a box never ticked, posted unticked: no change (nor a history row)
        else:
            values[key] = value
    return values


def visible_values(target: str, values: dict[str, Any] | str | None, *, stamp: int | None = None) -> dict[str, Any]:
    """The stored values of the active fields (what the API shows)."""
    fields = by_key(target, stamp=stamp)
    return {key: value for key, value in as_dict(values).items() if key in fields}


def display_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def form_value(value: Any) -> str:
    """A value as the ticket page's form carries it (`seen_cf_<key>`); one string per value, so
    that what the agent saw can be compared with what is stored now."""
    if value is None or value == []:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def search_text(values: dict[str, Any] | str | None) -> str:
    """The words of the values for a search document (no definitions needed: no query)."""
    words: list[str] = []
    for value in as_dict(values).values():
        if isinstance(value, bool) or value is None:
            continue
        for text in [str(v) for v in value] if isinstance(value, list) else [str(value)]:
            words.append(text)
            # Its pieces too, as search's queries split them: PostgreSQL reads "ORD-1042" as "ord"
            # and "-1042", which the query "ORD-1042" ("ord" & "1042") would not find.
            pieces = re.sub(r"[@.+\-_/#:]+", " ", text)
            if pieces != text:
                words.append(pieces)
    return "\n".join(words)


# --- Filters ---------------------------------------------------------------------------------------


def clean_filters(
    target: str, custom: dict[str, str], *, stamp: int | None = None, fields: dict[str, FieldDef] | None = None
) -> dict[str, Any]:
    """Filter values by key (`{"product": "Widget"}`) in stored shape; InvalidInput for an unknown
    key or a value the field cannot hold. Checkbox filters take yes/no; a multiple-choice filter
    one choice (tickets that have it)."""
    if fields is None:
        fields = by_key(target, stamp=stamp)
    cleaned: dict[str, Any] = {}
    for key, raw in custom.items():
        defn = fields.get(key)
        if defn is None:
            raise InvalidInput(f"Unknown custom field {key!r}", field=f"custom.{key}")
        if str(raw).strip() == "":
            continue
        if defn.type == FieldType.MULTICHOICE:
            value = clean_value(defn, [raw])
            cleaned[key] = value[0] if value else None
        else:
            cleaned[key] = clean_value(defn, raw)
    return {key: value for key, value in cleaned.items() if value is not None}


def filter_by(rows: QuerySet[Any], target: str, custom: dict[str, str], *, stamp: int | None = None) -> QuerySet[Any]:
    """`rows` (tickets, customers or organizations) whose values match every filter.

    On PostgreSQL an exact match is a containment (`custom_fields @> '{"key": value}'`), which the
    GIN index (jsonb_path_ops) of tickets answers; SQLite compares the extracted value. Text
    filters match part of the value, whatever the case (a scan within the view's other filters).
    """
    fields = by_key(target, stamp=stamp)
    postgres = connection.vendor == "postgresql"
    for key, value in clean_filters(target, custom, fields=fields).items():
        kind = fields[key].type
        if kind == FieldType.TEXT:
            rows = rows.filter(**{f"custom_fields__{key}__icontains": value})
        elif kind == FieldType.CHECKBOX and not value:
            rows = rows.filter(Q(**{f"custom_fields__{key}": False}) | ~Q(custom_fields__has_key=key))
        elif kind == FieldType.MULTICHOICE:
            rows = rows.filter(_has_choice(rows.model, key, value, postgres))
        elif postgres:
            rows = rows.filter(custom_fields__contains={key: value})
        else:
            rows = rows.filter(**{f"custom_fields__{key}": value})
    return rows


def _has_choice(model: type[Model], key: str, value: str, postgres: bool) -> Q:
    if postgres:
        return Q(custom_fields__contains={key: [value]})
    # SQLite: one of the list's items (json_each); `key` matched KEY_PATTERN, safe in the path.
    table = connection.ops.quote_name(model._meta.db_table)
    sql = f"EXISTS (SELECT 1 FROM json_each({table}.custom_fields, %s) WHERE json_each.value = %s)"
    return Q(RawSQL(sql, [f"$.{key}", value], output_field=_boolean()))


def _boolean() -> Any:
    from django.db.models import BooleanField

    return BooleanField()


# --- The API ----------------------------------------------------------------------------------------


def values_for_api(target: str, values: dict[str, Any] | str | None, context: Any) -> dict[str, Any]:
    """What a schema shows of an object's values: those of the active fields. The lookups' version
    is read once per request (kept on it), so a list of 200 tickets costs one statement, not 200;
    none while no object has a value."""
    values = as_dict(values)
    if not values:
        return {}
    request = (context or {}).get("request") if isinstance(context, dict) else None
    stamp = getattr(request, "_custom_fields_stamp", None)
    if stamp is None:
        stamp = lookups.read_stamp()
        if request is not None:
            request._custom_fields_stamp = stamp
    return visible_values(target, as_dict(values), stamp=stamp)


API_DESCRIPTION = (
    "custom field values by key (see GET /fields): text and date (YYYY-MM-DD) as strings, numbers, "
    "a choice as a string, a multiple choice as a list of strings, a checkbox as true or false"
)
API_WRITE_DESCRIPTION = (
    "custom field values to set, by key (see GET /fields); the keys given change, the others stay; "
    "null, an empty string or an empty list clears one. An unknown key or a value of the wrong type gives "
    "422 naming `custom_fields.<key>`"
)
