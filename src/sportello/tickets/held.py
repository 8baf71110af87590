"""A ticket's near-static relations (status, group, category) from this process's copy.

Statuses, groups and categories change a few times a year and every save or delete of one bumps
the lookups' version (core/lookups.py). A page that has read that version hands it here, and the
tickets it shows get the rows kept for that version instead of a join each: on PostgreSQL every
table joined to the tickets makes planning dearer (the inbox's five joins: 2.4 to 6 ms of planning
for a 0.6 ms scan at 1M tickets; two joins: 0.2 ms), and each joined row is one more model
instance to build. The instances are shared by every page of the process: read them, never change
them. A row missing from the copy (made after the version was read) is read when asked for.
"""

from __future__ import annotations

from collections.abc import Iterable

from sportello.accounts.models import Group
from sportello.core import lookups
from sportello.tickets.models import Category, Status, Ticket


def hold_lookups(tickets: Iterable[Ticket], stamp: int, *, category: bool = False) -> None:
    """Each ticket's status and group (and category) from the copy at version `stamp`."""
    statuses = lookups.cached("held:statuses", stamp, lambda: {s.pk: s for s in Status.objects.all()})
    groups = lookups.cached("held:groups", stamp, lambda: {g.pk: g for g in Group.objects.all()})
    relations = [
        (Ticket._meta.get_field("status"), "status_id", statuses),
        (Ticket._meta.get_field("group"), "group_id", groups),
    ]
    if category:
        categories = lookups.cached("held:categories", stamp, lambda: {c.pk: c for c in Category.objects.all()})
        relations.append((Ticket._meta.get_field("category"), "category_id", categories))
    for ticket in tickets:
        for field, attname, rows in relations:
            key = getattr(ticket, attname)
            if key is None:
                field.set_cached_value(ticket, None)  # type: ignore[attr-defined]
            elif (row := rows.get(key)) is not None:
                field.set_cached_value(ticket, row)  # type: ignore[attr-defined]
