"""One model row inserted in one statement, its SQL built once per process.

`Model.objects.create` compiles its INSERT for every row: on the intake path (a mail, a ticket
from the API) the compiling cost more than the database spent on the statement. `insert` writes
the same row — every concrete field, `pre_save` applied (auto_now_add), each value prepared by
its field as the ORM prepares it — with the statement's text kept per model and column set.
It sends no `pre_save`/`post_save` signals: use it only for models nothing listens to.

Preparing a value (`Field.get_db_prep_save`) is four or five calls deep and reads the connection
through Django's proxy each time; for most values it returns them unchanged. So each column keeps,
with the statement, the types whose values are final already for that field and database (a
`str` for a text column, an `int` for a key, an aware `datetime` on PostgreSQL): those are passed
as they are, anything else (an enum member, JSON, a naive time, a lazy string) goes through the
field as before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache, lru_cache
from types import NoneType
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from django.db.models import Field, Model, fields
from django.db.models.fields.related import ForeignKey, OneToOneField

M = TypeVar("M", bound=Model)

# A column: (the attribute read, or "" when the field's pre_save computes the value; the field; the
# types of the values passed unchanged, see `_final_types`).
_Column = tuple[str, Field[Any, Any], frozenset[type]]

# Field classes (exactly these: a subclass may prepare its values otherwise) whose stock
# preparation returns a value of these types unchanged, on every backend.
_TEXT = (fields.CharField, fields.TextField, fields.EmailField, fields.SlugField, fields.URLField)
_INTEGER = (
    fields.IntegerField,
    fields.BigIntegerField,
    fields.SmallIntegerField,
    fields.PositiveIntegerField,
    fields.PositiveSmallIntegerField,
    fields.PositiveBigIntegerField,
)
_AUTO = (fields.AutoField, fields.BigAutoField, fields.SmallAutoField)


def insert(instance: Model, *, computed: dict[str, str] | None = None) -> None:
    """INSERT `instance` (an automatic primary key is left to the database) and set its primary
    key, as `save(force_insert=True)` does. `computed`: field name -> an SQL expression without
    parameters that the database evaluates for that column instead (e.g. "nextval('seq')"); its
    value comes back with the key and is set on the instance."""
    connection = connections[DEFAULT_DB_ALIAS]  # once: each `django.db.connection.x` looks it up again
    model = type(instance)
    sql, columns, returned = _statement(model, connection.vendor, tuple(sorted((computed or {}).items())))
    with bound_cursor(connection) as cursor:
        cursor.execute(sql, parameters(instance, columns, connection))
        row = cursor.fetchone()
    for field, value in zip(returned, row, strict=True):
        setattr(instance, field.attname, value)
    instance._state.adding = False
    instance._state.db = connection.alias


def insert_many(instances: Sequence[Model]) -> None:
    """INSERT rows of one model as `insert` does each, in multi-row statements (as many rows as
    the database takes parameters for), in order; each instance gets its primary key."""
    if not instances:
        return
    connection = connections[DEFAULT_DB_ALIAS]
    model = type(instances[0])
    _sql, columns, returned = _statement(model, connection.vendor, ())
    if connection.vendor == "postgresql" and len(instances) > 1:
        # One array a column: the statement's text and its parameters are the same for any number
        # of rows, so psycopg keeps it converted and the server keeps it prepared; a VALUES list
        # of a hundred rows (~2,000 placeholders) was split by psycopg in Python and parsed and
        # planned by the server anew each time. RETURNING gives the rows in the arrays' order,
        # as Django's bulk_create (which inserts the same way) relies on.
        rows = [parameters(instance, columns, connection) for instance in instances]
        with bound_cursor(connection) as cursor:
            cursor.execute(_unnest_statement(model), [list(values) for values in zip(*rows, strict=True)])
            _saved(instances, cursor.fetchall(), returned, connection.alias)
        return
    size = max(1, connection.ops.bulk_batch_size([field for _attname, field, _final in columns], instances))
    for start in range(0, len(instances), size):
        chunk = instances[start : start + size]
        values = [value for instance in chunk for value in parameters(instance, columns, connection)]
        with bound_cursor(connection) as cursor:
            cursor.execute(_statement(model, connection.vendor, (), len(chunk))[0], values)
            _saved(chunk, cursor.fetchall(), returned, connection.alias)


def keyed_insert(instance: Model) -> tuple[str, list[Any]]:
    """The INSERT of `instance` with its key given (a key taken ahead from the table's sequence),
    each value prepared as `insert` prepares it, and its parameters: for a writer that sends it
    inside a statement of its own (intake's new ticket, its rows in one data-modifying WITH)."""
    connection = connections[DEFAULT_DB_ALIAS]
    sql, columns = _keyed_statement(type(instance), connection.vendor)
    return sql, [instance.pk, *parameters(instance, columns, connection)]


@cache
def _keyed_statement(model: type[Model], vendor: str) -> tuple[str, tuple[_Column, ...]]:
    _insert, columns, _returned = _statement(model, vendor, ())
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    pk = model._meta.pk
    assert pk is not None
    names = [quote(str(pk.column))] + [quote(str(field.column)) for _attname, field, _final in columns]
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))})"
    return sql, columns


def selected_insert(instance: Model, keys: dict[str, str], source: str) -> tuple[str, list[Any]]:
    """The INSERT of `instance` as `keyed_insert` writes it, but an INSERT … SELECT … FROM `source`
    (a one-row relation of the same statement, e.g. a CTE that takes the new rows' keys from
    their sequences): its key and the columns named in `keys` (attribute name -> an expression
    over `source`) come from there, the other values are parameters. When `source` holds no row,
    nothing is inserted: a statement guarded by its first part (intake's new sender)."""
    connection = connections[DEFAULT_DB_ALIAS]
    sql, columns = _selected_statement(type(instance), connection.vendor, tuple(keys.items()), source)
    return sql, parameters(instance, columns, connection)


@cache
def _selected_statement(
    model: type[Model], vendor: str, keys: tuple[tuple[str, str], ...], source: str
) -> tuple[str, tuple[_Column, ...]]:
    _insert, taken, _returned = _statement(model, vendor, ())
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    expressions = dict(keys)
    pk = model._meta.pk
    assert pk is not None and pk.attname in expressions, "the key comes from the source"
    names, values, columns = [quote(str(pk.column))], [expressions[pk.attname]], []
    for column in taken:
        field = column[1]
        names.append(quote(str(field.column)))
        if field.attname in expressions:
            values.append(expressions[field.attname])
        else:
            values.append("%s")
            columns.append(column)
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(names)}) SELECT {', '.join(values)} FROM {source}"
    return sql, tuple(columns)


def from_row(model: type[M], values: Sequence[Any]) -> M:
    """An instance of `model` from a raw row of its concrete fields' columns, in order, as a query
    would give it: the database's and the fields' converters applied (a JSON field's text decoded,
    SQLite's naive UTC times made aware, its 0/1 booleans), then `Model.from_db`."""
    connection = connections[DEFAULT_DB_ALIAS]
    converted = list(values)
    for index, column, converters in _converters(model, connection.vendor):
        value = converted[index]
        for convert in converters:
            value = convert(value, column, connection)
        converted[index] = value
    return model.from_db(connection.alias, _attnames(model), converted)


def copy_of(instance: M) -> M:
    """A new instance of the same row, as a query would give it (no related objects cached)."""
    model = type(instance)
    names = _attnames(model)
    return model.from_db(DEFAULT_DB_ALIAS, names, [getattr(instance, name) for name in names])


@cache
def _attnames(model: type[Model]) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields]


@cache
def _converters(model: type[Model], vendor: str) -> tuple[tuple[int, Any, tuple[Any, ...]], ...]:
    """(position, column, converters) of each of `model`'s fields that has converters, as Django's
    query compiler finds them (built once per process and database)."""
    connection = connections[DEFAULT_DB_ALIAS]
    found = []
    for index, field in enumerate(model._meta.concrete_fields):
        column = field.get_col(model._meta.db_table)
        converters = (*connection.ops.get_db_converters(column), *column.get_db_converters(connection))
        if converters:
            found.append((index, column, converters))
    return tuple(found)


def _saved(
    instances: Sequence[Model], found: Sequence[Sequence[Any]], returned: Sequence[Field[Any, Any]], alias: str
) -> None:
    """Give inserted `instances` the values their INSERT returned (`found`, a row each, in order)
    and mark them saved."""
    for instance, row in zip(instances, found, strict=True):
        for field, value in zip(returned, row, strict=True):
            setattr(instance, field.attname, value)
        instance._state.adding = False
        instance._state.db = alias


def bound_cursor(connection: BaseDatabaseWrapper | None = None) -> CursorWrapper:
    """A cursor that sends its parameters apart from the statement (PostgreSQL; elsewhere the
    usual cursor). Django's cursors on PostgreSQL put each value into the SQL text (escaped),
    which the server parses and plans again every time; with this one a statement is prepared on
    its connection once it repeats (psycopg's `prepare_threshold`, settings.py), and then only
    its values travel. For statements whose text is built here from a few fixed shapes (an
    intake INSERT, mail's look-up): each value's type must be clear from where its placeholder
    stands (a column, a comparison), which the ORM's SQL does not always make so.

    While queries are logged (DEBUG, a test capturing them) it is the usual cursor too: Django's
    log reads a statement's text with its values from the cursor, and this one has no such text."""
    connection = connection or connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql" or connection.queries_logged:
        return connection.cursor()
    from django.db.backends.postgresql.base import TIMESTAMPTZ_OID
    from django.db.backends.postgresql.psycopg_any import register_tzloader
    from psycopg.pq import Format

    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        cursor = _numbering_cursor()(connection.connection)
        # As Django's own cursors: times are read in the connection's time zone.
        if connection.connection.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT).timezone != connection.timezone:
            register_tzloader(connection.timezone, cursor)
        return connection._prepare_cursor(cursor)  # type: ignore[attr-defined,no-any-return]


@cache
def _numbering_cursor() -> type[Any]:
    """psycopg's raw cursor (placeholders `$1`, `$2`… as PostgreSQL takes them, parameters sent
    apart) with Django's cursor methods, taking statements written with `%s` as the others: each
    text's placeholders are numbered once per process (`numbered`). psycopg's own cursor splits a
    statement's text at its placeholders every time it runs when the text is longer than 4,096
    characters or has more than 50 parameters (its cache stops there): intake's one statement for a
    new ticket is both, and splitting it cost ~0.27 ms of a create's ~1.7 ms."""
    from django.db.backends.postgresql.base import CursorMixin
    from psycopg import RawCursor

    class NumberingCursor(CursorMixin, RawCursor[Any]):  # type: ignore[misc]
        def execute(self, query: Any, params: Any = None, **options: Any) -> Any:
            return super().execute(numbered(query) if params is not None else query, params, **options)

        def executemany(self, query: Any, params_seq: Any, **options: Any) -> Any:
            return super().executemany(numbered(query), params_seq, **options)

    return NumberingCursor


_PLACEHOLDER = re.compile(r"%(.)", re.DOTALL)


@lru_cache(maxsize=512)
def numbered(sql: str) -> str:
    """`sql` with psycopg's positional placeholders numbered as PostgreSQL's own: each `%s` becomes
    `$1`, `$2`… in order and `%%` a percent sign. Any other `%` form (a named placeholder, a
    binary one) is refused: these statements are written here, with `%s` only."""
    count = 0

    def number(match: re.Match[str]) -> str:
        nonlocal count
        if match.group(1) == "%":
            return "%"
        if match.group(1) != "s":
            raise ValueError(f"only %s placeholders are numbered, not %{match.group(1)}: {sql[:80]}")
        count += 1
        return f"${count}"

    return _PLACEHOLDER.sub(number, sql)


def parameters(instance: Model, columns: tuple[_Column, ...], connection: BaseDatabaseWrapper) -> list[Any]:
    """The INSERT's parameters: each column's value as `field.get_db_prep_save(field.pre_save(…))`
    gives it, the field's work skipped for values that are final already."""
    values = []
    for attname, field, final in columns:
        value = getattr(instance, attname) if attname else field.pre_save(instance, True)
        kind = type(value)
        if kind in final or (kind is datetime and AwareDateTime in final and value.utcoffset() is not None):
            values.append(value)
        else:
            values.append(field.get_db_prep_save(value, connection))
    return values


def _final_types(field: Field[Any, Any], connection: BaseDatabaseWrapper) -> frozenset[type]:
    """The types of the values `field.get_db_prep_save` returns unchanged on `connection` (None
    among them when it does so for None); empty: every value goes through the field."""
    kind = type(field)
    if kind in (ForeignKey, OneToOneField):
        assert isinstance(field, ForeignKey)
        target = field.target_field
        return _final_types(target, connection) if type(target) in _AUTO + _INTEGER else frozenset()
    if kind in _TEXT:
        return frozenset({str, NoneType})
    if kind in _INTEGER or kind in _AUTO:
        # The ORM wraps an int in a sized type on PostgreSQL (Int4, Int8) for comparisons to pick
        # the column's index; an INSERT converts the value to its column's type either way.
        return frozenset({int, NoneType})
    if kind is fields.BooleanField:
        return frozenset({bool, NoneType})
    if kind is fields.DateTimeField:
        # An aware datetime is final where the backend takes it as it is (PostgreSQL); SQLite
        # stores text, and a naive one is made aware with a warning: those go through the field.
        sample = datetime(2000, 1, 1, tzinfo=UTC)
        if connection.ops.adapt_datetimefield_value(sample) is sample:
            return frozenset({AwareDateTime, NoneType})
    return frozenset()


class AwareDateTime:
    """Marks a column whose aware `datetime` values are final (checked value by value)."""


@cache
def _statement(
    model: type[Model], vendor: str, computed: tuple[tuple[str, str], ...], count: int = 1
) -> tuple[str, tuple[_Column, ...], tuple[Field[Any, Any], ...]]:
    """(the INSERT … RETURNING of `count` rows, the columns whose values each row takes in order,
    the fields it returns)."""
    connection = connections[DEFAULT_DB_ALIAS]
    quote = connection.ops.quote_name
    expressions = dict(computed)
    meta = model._meta
    pk = meta.pk
    assert pk is not None
    automatic = pk.get_internal_type() in ("AutoField", "BigAutoField", "SmallAutoField")
    taken = tuple(f for f in meta.concrete_fields if f.attname not in expressions and not (f.primary_key and automatic))
    # A database default or a generated column would need DEFAULT in the statement: not done here.
    assert not any(f.has_db_default() or f.generated for f in taken), f"{model.__name__}: use the ORM"
    by_name = {f.attname: f for f in meta.concrete_fields}
    names = [quote(str(f.column)) for f in taken] + [quote(str(by_name[name].column)) for name in expressions]
    values = ["%s"] * len(taken) + list(expressions.values())
    returned = ((pk,) if automatic else ()) + tuple(by_name[name] for name in expressions)
    assert returned, "insert() is for rows with an automatic key or a computed column"
    row = f"({', '.join(values)})"
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(names)}) VALUES {', '.join([row] * count)} "
        f"RETURNING {', '.join(quote(str(f.column)) for f in returned)}"
    )
    columns = tuple(
        # pre_save only where it computes the value (auto_now, auto_now_add, files); else the attribute.
        ("" if type(f).pre_save is not Field.pre_save and _computes(f) else f.attname, f, _final_types(f, connection))
        for f in taken
    )
    return sql, columns, returned


@cache
def _unnest_statement(model: type[Model]) -> str:
    """PostgreSQL: `_statement`'s INSERT for any number of rows, each column's values in one
    array parameter. The arrays' element types are the columns' without their length (as Django
    casts them: `varchar[]`, not `varchar(64)[]`, which would cut a longer value silently; the
    INSERT still refuses one)."""
    connection = connections[DEFAULT_DB_ALIAS]
    quote = connection.ops.quote_name
    _sql, columns, returned = _statement(model, connection.vendor, ())
    arrays = ", ".join(f"%s::{str(field.db_type(connection)).split('(')[0]}[]" for _attname, field, _final in columns)
    names = ", ".join(quote(str(field.column)) for _attname, field, _final in columns)
    return (
        f"INSERT INTO {quote(model._meta.db_table)} ({names}) SELECT * FROM unnest({arrays}) "
        f"RETURNING {', '.join(quote(str(f.column)) for f in returned)}"
    )


def _computes(field: Field[Any, Any]) -> bool:
    """Whether `field.pre_save` may give something else than the attribute's value."""
    if isinstance(field, fields.DateField | fields.TimeField):  # DateTimeField is a DateField
        return bool(field.auto_now or field.auto_now_add)
    return True
