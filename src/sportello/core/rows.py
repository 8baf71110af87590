"""One model row inserted in one statement, its SQL built once per process.

`Model.objects.create` compiles its INSERT for every row: on the intake path (a mail, a ticket
from the API) the compiling cost more than the database spent on the statement. `insert` writes
the same row — every concrete field, `pre_save` applied (auto_now_add), each value prepared by
its field as the ORM prepares it — with the statement's text kept per model and column set.
It sends no `pre_save`/`post_save` signals: use it only for models nothing listens to.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Field, Model


def insert(instance: Model, *, computed: dict[str, str] | None = None) -> None:
    """INSERT `instance` (an automatic primary key is left to the database) and set its primary
    key, as `save(force_insert=True)` does. `computed`: field name -> an SQL expression without
    parameters that the database evaluates for that column instead (e.g. "nextval('seq')"); its
    value comes back with the key and is set on the instance."""
    model = type(instance)
    sql, fields, returned = _statement(model, connection.vendor, tuple(sorted((computed or {}).items())))
    values = [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    for field, value in zip(returned, row, strict=True):
        setattr(instance, field.attname, value)
    instance._state.adding = False
    instance._state.db = connection.alias


@cache
def _statement(
    model: type[Model], vendor: str, computed: tuple[tuple[str, str], ...]
) -> tuple[str, tuple[Field[Any, Any], ...], tuple[Field[Any, Any], ...]]:
    """(the INSERT … RETURNING, the fields whose values it takes in order, the fields it returns)."""
    quote = connection.ops.quote_name
    expressions = dict(computed)
    meta = model._meta
    pk = meta.pk
    assert pk is not None
    automatic = pk.get_internal_type() in ("AutoField", "BigAutoField", "SmallAutoField")
    fields = tuple(
        f for f in meta.concrete_fields if f.attname not in expressions and not (f.primary_key and automatic)
    )
    # A database default or a generated column would need DEFAULT in the statement: not done here.
    assert not any(f.has_db_default() or f.generated for f in fields), f"{model.__name__}: use the ORM"
    by_name = {f.attname: f for f in meta.concrete_fields}
    columns = [quote(str(f.column)) for f in fields] + [quote(str(by_name[name].column)) for name in expressions]
    values = ["%s"] * len(fields) + list(expressions.values())
    returned = ((pk,) if automatic else ()) + tuple(by_name[name] for name in expressions)
    assert returned, "insert() is for rows with an automatic key or a computed column"
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(columns)}) VALUES ({', '.join(values)}) "
        f"RETURNING {', '.join(quote(str(f.column)) for f in returned)}"
    )
    return sql, fields, returned
