"""Related rows a writer already holds, handed to the instance as prefetch_related would leave them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import Model


def hold(instance: Model, name: str, objects: Sequence[Model]) -> None:
    """Make `instance.<name>.all()` answer `objects` without a query (a reverse foreign key or a
    many-to-many field named `name`): a service that has just written them needs no read back."""
    held: Any = getattr(instance, name).all()  # a QuerySet, not run
    held._result_cache = list(objects)
    held._prefetch_done = True
    instance.__dict__.setdefault("_prefetched_objects_cache", {})[name] = held
