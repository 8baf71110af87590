"""`{% custom_field_inputs target values %}`: the inputs of a target's custom fields in a form."""

from __future__ import annotations

from typing import Any

from django import template
from django.http import QueryDict

from sportello.core import lookups
from sportello.fields.forms import inputs
from sportello.fields.services import as_dict, definitions, display_value

register = template.Library()


@register.inclusion_tag("fields/_inputs.html", takes_context=True)
def custom_field_inputs(
    context: template.Context,
    target: str,
    values: dict[str, Any] | None,
    data: QueryDict | None = None,
    seen: bool = False,
    css: str = "field",
    prefix: str = "",
) -> dict[str, Any]:
    """The rows of fields/_inputs.html. One short statement (the lookups' version) for all the
    fields (none when the page read it already: `lookups_stamp`); the definitions themselves are
    kept per process (fields/services.py)."""
    stamp = context.get("lookups_stamp") or lookups.read_stamp()
    rows = inputs(target, values, data=data or None, seen=seen, stamp=stamp)
    return {"rows": rows, "css": css, "prefix": prefix or target}


def _stamp(context: template.Context) -> int:
    for name in ("update_form", "form", "customer_form"):
        stamp = getattr(context.get(name), "lookups_stamp", None)
        if stamp is not None:
            return int(stamp)
    return lookups.read_stamp()


@register.inclusion_tag("fields/_values.html", takes_context=True)
def custom_field_values(context: template.Context, target: str, values: dict[str, Any] | None) -> dict[str, Any]:
    """The values as <dt>/<dd> pairs, for those who may read but not change them."""
    stored = as_dict(values)
    rows = [(defn.label, display_value(stored.get(defn.key))) for defn in definitions(target, stamp=_stamp(context))]
    return {"rows": rows}
