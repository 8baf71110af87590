"""`{% custom_field_inputs target values %}`: the inputs of a target's custom fields in a form."""

from __future__ import annotations

from typing import Any

from django import template
from django.http import QueryDict

from sportello.core import lookups
from sportello.fields.forms import inputs

register = template.Library()


@register.inclusion_tag("fields/_inputs.html")
def custom_field_inputs(
    target: str,
    values: dict[str, Any] | None,
    data: QueryDict | None = None,
    seen: bool = False,
    css: str = "field",
    prefix: str = "",
) -> dict[str, Any]:
    """The rows of fields/_inputs.html. One short statement (the lookups' version) for all the
    fields; the definitions themselves are kept per process (fields/services.py)."""
    rows = inputs(target, values, data=data or None, seen=seen, stamp=lookups.read_stamp())
    return {"rows": rows, "css": css, "prefix": prefix or target}
