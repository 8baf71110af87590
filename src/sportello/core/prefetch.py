"""Related rows a writer already holds, handed to the instance as prefetch_related would leave them.

Django answers `instance.<name>.all()` from `instance._prefetched_objects_cache[name]`: a QuerySet
filtered to the instance, its rows in hand. Building that QuerySet (a related manager, then a
filtered and cloned query) cost ~50 µs a call on intake's path, three calls a create, where what
the create itself reads (the document's addresses, the answer's tags) is only the rows. So `hold`
keeps the rows, and the QuerySet is built the first time Django reads the entry; `held` gives the
rows without building it.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

from django.db.models import Model


class _Rows:
    """A held entry not yet read through Django: the rows, and whose they are."""

    __slots__ = ("instance", "objects")

    def __init__(self, instance: Model, objects: list[Model]) -> None:
        self.instance = weakref.ref(instance)  # the instance holds this cache: no cycle to collect
        self.objects = objects


class HeldCache(dict[str, Any]):
    """An instance's `_prefetched_objects_cache` with entries `hold` put there: each becomes the
    QuerySet prefetch_related would have left when Django reads it (`[name]`, `get`), built by the
    instance's related manager as before. Pickled as the plain dict Django keeps."""

    def __getitem__(self, name: str) -> Any:
        value = dict.__getitem__(self, name)
        return self._built(name, value) if type(value) is _Rows else value

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:  # absent, or held for an instance that is gone
            return default

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, ({name: self[name] for name in list(self)},))

    def _built(self, name: str, rows: _Rows) -> Any:
        instance = rows.instance()
        if instance is None:  # the instance is gone: nothing can ask for its rows through it
            raise KeyError(name)
        dict.__delitem__(self, name)  # so that the manager builds its QuerySet instead of answering this
        try:
            queryset: Any = getattr(instance, name).all()  # a QuerySet, not run
        except BaseException:
            dict.__setitem__(self, name, rows)
            raise
        queryset._result_cache = rows.objects
        queryset._prefetch_done = True
        dict.__setitem__(self, name, queryset)
        return queryset


def hold(instance: Model, name: str, objects: Sequence[Model]) -> None:
    """Make `instance.<name>.all()` answer `objects` without a query (a reverse foreign key or a
    many-to-many field named `name`): a service that has just written them needs no read back."""
    cache = instance.__dict__.get("_prefetched_objects_cache")
    if type(cache) is not HeldCache:
        cache = instance.__dict__["_prefetched_objects_cache"] = HeldCache(cache or {})
    dict.__setitem__(cache, name, _Rows(instance, list(objects)))


def held(instance: Model, name: str) -> list[Any] | None:
    """The rows `instance.<name>.all()` would answer without a query (given by `hold`, or left by
    prefetch_related), without building the QuerySet; None when it would query."""
    cache = instance.__dict__.get("_prefetched_objects_cache")
    if not cache:
        return None
    value = dict.get(cache, name)
    if type(value) is _Rows:
        return value.objects
    return getattr(value, "_result_cache", None)
