"""Model instances made through Django's positional fast path, for the rows a write path makes often.

`Ticket(subject=…, customer=…, …)` goes field by field through the keyword arguments, the
related-object descriptors and each missing field's default: ~80 µs for a ticket or an entry.
Positional values are set attribute by attribute (~25 µs). `made(Ticket, subject=…, …)` is the
same instance as `Ticket(subject=…, …)` (the same values, defaults, related objects cached and
`post_init` sent) made the fast way; intake makes four such rows for every message.
"""

from __future__ import annotations

from functools import cache
from types import NoneType
from typing import Any, TypeVar

from django.db.models import Field, Model

M = TypeVar("M", bound=Model)

# One concrete field: (name, attname, whether it is a relation (a foreign key), its default: a
# function giving it, or the value itself when the field's default is a constant).
_Plan = tuple[tuple[str, str, bool, Any, bool], ...]


def made(model: type[M], **values: Any) -> M:
    """`model(**values)`: `values` name concrete fields (by name, or a foreign key's `_id`
    attname) or `pk`; a related object given by name is set through its descriptor afterwards,
    as the keyword form sets it (its key in the row, the object cached, None included)."""
    if "pk" in values:
        pk = model._meta.pk
        assert pk is not None
        values[pk.attname] = values.pop("pk")
    args: list[Any] = []
    related: list[tuple[str, Any]] = []
    found = 0
    for name, attname, relation, default, constant in _plan(model):
        if relation and name in values:
            value = values[name]
            related.append((name, value))
            args.append(None if value is None else value.pk)
            found += 1
        elif attname in values:
            args.append(values[attname])
            found += 1
        else:
            args.append(default if constant else default())
    if found != len(values):
        unknown = set(values) - {n for name, attname, *_default in _plan(model) for n in (name, attname)}
        raise TypeError(f"{model.__name__}() got unexpected keyword arguments {sorted(unknown)}")
    instance = model(*args)
    for name, value in related:
        setattr(instance, name, value)
    return instance


@cache
def _plan(model: type[Model]) -> _Plan:
    return tuple((f.name, f.attname, f.is_relation, *_default(f)) for f in model._meta.concrete_fields)


def _default(field: Field[Any, Any]) -> tuple[Any, bool]:
    """(the field's default value, True) when it is the same every time (None, "", a number, a
    string), else (the function `get_default` would call, False)."""
    if field.has_default() or field.has_db_default():
        constant = field.has_default() and not field.has_db_default() and not callable(field.default)
        if constant and isinstance(field.default, str | int | float | bool | NoneType):
            return field.default, True
        return field.get_default, False
    value = field.get_default()  # None, or "" for a text field that takes no NULL
    return value, True
