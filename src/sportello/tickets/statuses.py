"""The six built-in statuses (one per category) and lookups that cost no query after the first."""

from __future__ import annotations

from functools import lru_cache

from django.utils.translation import gettext_noop

from sportello.core import lookups
from sportello.tickets.models import Status, StatusCategory

# The names are stored in English; templates show them translated ({% translate status.name %}).
BUILTIN = [
    (gettext_noop("New"), StatusCategory.NEW, 10),
    (gettext_noop("Open"), StatusCategory.OPEN, 20),
    (gettext_noop("Pending"), StatusCategory.PENDING, 30),
    (gettext_noop("On hold"), StatusCategory.ON_HOLD, 40),
    (gettext_noop("Solved"), StatusCategory.SOLVED, 50),
    (gettext_noop("Closed"), StatusCategory.CLOSED, 60),
    (gettext_noop("Spam"), StatusCategory.SPAM, 70),
]


def ensure_builtin() -> None:
    for name, category, position in BUILTIN:
        Status.objects.update_or_create(
            slug=str(category), defaults={"name": name, "category": category, "builtin": True, "position": position}
        )


@lru_cache(maxsize=16)
def _builtin_id(category: str) -> int:
    return Status.objects.values_list("pk", flat=True).get(slug=category, builtin=True)


def builtin(category: str, stamp: int | None = None) -> Status:
    """The built-in status of a category (its slug is the category's value). With the lookups'
    version `stamp` (core/lookups.py) it is read once per process and version, not per call."""
    return lookups.cached(f"status:{category}", stamp, lambda: _read_builtin(category))


def _read_builtin(category: str) -> Status:
    try:
        return Status.objects.get(pk=_builtin_id(category))
    except Status.DoesNotExist:  # a flushed database (tests) or a deleted row: put them back
        _builtin_id.cache_clear()
        ensure_builtin()
        return Status.objects.get(pk=_builtin_id(category))


def on_agent_reply() -> Status | None:
    """The active status flagged to follow an agent's public reply ("Answered"), if any."""
    return Status.objects.filter(set_on_agent_reply=True, active=True).order_by("position", "pk").first()
