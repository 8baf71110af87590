"""Rows that admins put in order with "move up" and "move down" buttons (statuses, custom
fields, knowledge-base categories): one row swaps places with its neighbour among its siblings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.db import transaction
from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)


def move_among(
    siblings: QuerySet[M],
    row: M,
    *,
    up: bool,
    step: int = 10,
    field: str = "position",
    save: Callable[[M], object] | None = None,
) -> bool:
    """Swap `row` with the sibling just above (`up`) or below it, and number the siblings
    `step`, 2 * `step`, 3 * `step`... in their new order (in the integer column `field`).
    False when there is no neighbour that way (or `row` is not among `siblings`): the order
    stays as it was.

    1. `siblings` is the queryset of the rows sharing one order, sorted as pages show them; it is
       read with its rows locked (`select_for_update`), so two admins moving rows at once cannot
       give two rows the same position.
    2. Positions are renumbered rather than only exchanged: rows added with equal positions (or
       gaps) get an unambiguous order the first time one of them moves.
    3. Only the rows whose position changed are saved, one `save(update_fields=[field])`
       each, so whatever listens to saves (the audit trail) sees a real change; or, given
       `save`, by calling it with the row and its new position set (for rows whose service
       does more on a save, such as an SLA policy's).
    """
    with transaction.atomic():
        rows = list(siblings.select_for_update())
        index = next((i for i, sibling in enumerate(rows) if sibling.pk == row.pk), None)
        if index is None:
            return False
        other = index - 1 if up else index + 1
        moved = 0 <= other < len(rows)
        if moved:
            rows[index], rows[other] = rows[other], rows[index]
        for number, sibling in enumerate(rows, start=1):
            if getattr(sibling, field) != number * step:
                setattr(sibling, field, number * step)
                if save is None:
                    sibling.save(update_fields=[field])
                else:
                    save(sibling)
    return moved
