"""Admins' changes to statuses and ticket categories (the settings pages call these).

Statuses and categories are near-static rows kept per process (core/lookups.py): every save and
delete here bumps the lookups' version through the model signals, so the next page reads them again.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from sportello.core.errors import InvalidInput
from sportello.core.ordering import move_among
from sportello.tickets.models import ACTIVE_CATEGORIES, Category, Status, StatusCategory, Ticket


@dataclass(frozen=True)
class PresetStatus:
    slug: str  # a built-in status's slug is its category's value
    name: str
    category: str
    on_agent_reply: bool = False


# LiveAgent's statuses, each mapped to the category that drives views, SLA clocks and reports.
# "Answered" waits for the customer (pending): an agent's public reply sets it, and the customer's
# next message sets the ticket back to Open as for any pending ticket. The built-in statuses keep
# their rows (code finds them by slug), so existing tickets and their history stay as they are.
LIVEAGENT_PRESET: tuple[PresetStatus, ...] = (
    PresetStatus(StatusCategory.NEW, gettext_noop("New"), StatusCategory.NEW),
    PresetStatus(StatusCategory.OPEN, gettext_noop("Open"), StatusCategory.OPEN),
    PresetStatus("answered", gettext_noop("Answered"), StatusCategory.PENDING, on_agent_reply=True),
    PresetStatus("in-progress", gettext_noop("In progress"), StatusCategory.OPEN),
    PresetStatus(StatusCategory.ON_HOLD, gettext_noop("On hold"), StatusCategory.ON_HOLD),
    PresetStatus("postponed", gettext_noop("Postponed"), StatusCategory.ON_HOLD),
    PresetStatus(StatusCategory.SOLVED, gettext_noop("Resolved"), StatusCategory.SOLVED),
    PresetStatus(StatusCategory.CLOSED, gettext_noop("Closed"), StatusCategory.CLOSED),
)

# Categories an admin may give a status of their own; spam is the built-in "Spam" only.
CHOOSABLE_CATEGORIES = [(value, label) for value, label in StatusCategory.choices if value != StatusCategory.SPAM]


def _check_name(model: type[Status] | type[Category], name: str, exclude: int | None = None) -> str:
    name = " ".join(name.split())
    if not name:
        raise InvalidInput(_("Write a name."), field="name")
    same = model.objects.filter(name__iexact=name)
    if (same.exclude(pk=exclude) if exclude is not None else same).exists():
        raise InvalidInput(_("“%(name)s” is taken; choose another name.") % {"name": name}, field="name")
    return name


def _free_slug(name: str, exclude: int | None = None) -> str:
    base = slugify(name)[:50] or "status"
    slug, n = base, 2
    while Status.objects.filter(slug=slug).exclude(pk__in=[exclude] if exclude else []).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def _only_flag(status: Status) -> None:
    """At most one status follows an agent's reply: flagging one clears the others."""
    if status.set_on_agent_reply:
        _clear_flag(exclude=[status.pk])


def _clear_flag(*, exclude: list[int]) -> None:
    # Row by row (a few at most): each save is a settings change the audit trail records.
    for other in Status.objects.filter(set_on_agent_reply=True).exclude(pk__in=exclude):
        other.set_on_agent_reply = False
        other.save(update_fields=["set_on_agent_reply"])


def create_status(*, name: str, category: str, set_on_agent_reply: bool = False) -> Status:
    if category not in dict(CHOOSABLE_CATEGORIES):
        raise InvalidInput(_("Choose one of the categories."), field="category")
    with transaction.atomic():
        name = _check_name(Status, name)
        last = Status.objects.aggregate(last=Max("position"))["last"] or 0
        status = Status.objects.create(
            name=name,
            slug=_free_slug(name),
            category=category,
            position=min(last + 10, 32000),
            set_on_agent_reply=set_on_agent_reply,
        )
        _only_flag(status)
    return status


def update_status(status: Status, *, name: str, category: str, set_on_agent_reply: bool) -> Status:
    """Rename a status, change its category (not a built-in's: code finds those by it) or flag it."""
    if status.builtin and category != status.category:
        raise InvalidInput(_("A built-in status keeps its category."), field="category")
    if not status.builtin and category not in dict(CHOOSABLE_CATEGORIES):
        raise InvalidInput(_("Choose one of the categories."), field="category")
    with transaction.atomic():
        status.name = _check_name(Status, name, exclude=status.pk)
        changed = status.category != category
        status.category = category
        status.set_on_agent_reply = set_on_agent_reply
        status.save(update_fields=["name", "category", "set_on_agent_reply"])
        _only_flag(status)
        if changed:  # the tickets' state follows their status's category
            Ticket.objects.filter(status=status).update(state=category)
    return status


def move_status(status: Status, *, up: bool) -> None:
    """Swap a status with its neighbour in the order dropdowns show."""
    move_among(Status.objects.order_by("position", "name", "pk"), status, up=up)


def set_status_active(status: Status, *, active: bool) -> None:
    if not active and status.builtin:
        raise InvalidInput(
            _("“%(name)s” is built in: the help desk sets it itself (new tickets, replies, snoozes), so it stays.")
            % {"name": _(status.name)}
        )
    status.active = active
    status.save(update_fields=["active"])


def usage_message(count: int, open_count: int) -> str:
    return ngettext(
        "%(count)d ticket has it (%(open)d still open).",
        "%(count)d tickets have it (%(open)d still open).",
        count,
    ) % {"count": count, "open": open_count}


def delete_status(status: Status) -> None:
    """Delete a status no ticket has; a built-in one or one in use is refused, saying why."""
    if status.builtin:
        raise InvalidInput(_("“%(name)s” is built in and cannot be deleted.") % {"name": _(status.name)})
    tickets = Ticket.objects.filter(status=status)
    count = tickets.count()
    if count:
        open_count = tickets.filter(state__in=ACTIVE_CATEGORIES).count()
        raise InvalidInput(
            _("“%(name)s” cannot be deleted: %(usage)s Move those tickets to another status, or deactivate it.")
            % {"name": status.name, "usage": usage_message(count, open_count)}
        )
    status.delete()


def apply_liveagent_preset() -> list[Status]:
    """Make LiveAgent's eight statuses, in its order; running it again changes nothing.

    1. Each status is found by its slug, else by its name (an admin's own "Answered"), else made.
    2. It gets the preset's name, category and place; a built-in keeps its category.
    3. "Answered" is the one status an agent's reply sets.
    4. Statuses outside the set (Pending, Spam, an admin's own) keep their rows, after the set.
    """
    with transaction.atomic():
        found: list[Status] = []
        for position, item in enumerate(LIVEAGENT_PRESET, start=1):
            status = (
                Status.objects.select_for_update().filter(slug=item.slug).first()
                or Status.objects.select_for_update().filter(name__iexact=item.name).first()
            )
            if status is None:
                status = Status(slug=item.slug)
            clash = Status.objects.filter(name__iexact=item.name).exclude(pk=status.pk).first()
            if clash is not None:  # a row of another slug holds the name: keep it, renamed
                clash.name = f"{clash.name} ({clash.slug})"[:60]
                clash.save(update_fields=["name"])
            status.name = item.name
            moved = status.pk is not None and not status.builtin and status.category != item.category
            status.category = status.category if status.builtin else item.category
            status.position = position * 10
            status.active = True
            status.set_on_agent_reply = item.on_agent_reply
            status.save()
            if moved:  # an admin's own "Answered" of another category: its tickets' state follows
                Ticket.objects.filter(status=status).update(state=status.category)
            found.append(status)
        _clear_flag(exclude=[s.pk for s in found if s.set_on_agent_reply])
        others = Status.objects.exclude(pk__in=[s.pk for s in found]).order_by("position", "name")
        for offset, status in enumerate(others, start=len(found) + 1):
            if status.position != offset * 10:
                status.position = offset * 10
                status.save(update_fields=["position"])
    return found


# --- Ticket categories (types) ------------------------------------------------------------------


def create_category(*, name: str) -> Category:
    with transaction.atomic():
        return Category.objects.create(name=_check_name(Category, name))


def rename_category(category: Category, *, name: str) -> Category:
    with transaction.atomic():
        category.name = _check_name(Category, name, exclude=category.pk)
        category.save(update_fields=["name"])
    return category


def set_category_active(category: Category, *, active: bool) -> None:
    category.active = active
    category.save(update_fields=["active"])


def delete_category(category: Category) -> None:
    """Delete a category no ticket is filed under; one in use is refused with the counts."""
    tickets = Ticket.objects.filter(category=category)
    count = tickets.count()
    if count:
        open_count = tickets.filter(state__in=ACTIVE_CATEGORIES).count()
        raise InvalidInput(
            _("“%(name)s” cannot be deleted: %(usage)s Deactivate it instead; its tickets keep it.")
            % {"name": category.name, "usage": usage_message(count, open_count)}
        )
    category.delete()
