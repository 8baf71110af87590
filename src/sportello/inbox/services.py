"""The inbox's use cases: saved views (personal and shared) and bulk changes to many tickets.

Bulk changes go through the ticket services (`update_ticket`, `merge_tickets`) one ticket at a
time, each in its own transaction: a ticket that cannot change (changed meanwhile, not visible, a
rule of the service) is reported with its reason and the others still change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from sportello.accounts.models import Group, User
from sportello.core.errors import Conflict, Forbidden, InvalidInput, NotFound, ServiceError
from sportello.inbox.models import SavedView, Sharing
from sportello.search import backend as search
from sportello.tickets.access import require_agent, tickets_visible_to
from sportello.tickets.models import Status, StatusCategory, Ticket
from sportello.tickets.queries import TicketFilter, filtered, forget_view_counts
from sportello.tickets.services import TicketChanges, changes_since, merge_tickets, update_ticket
from sportello.tickets.snooze import mark_spam

# The most tickets one bulk action changes: past it, narrow the filter (a request must end).
BULK_MAX = 5000

# --- Saved views ------------------------------------------------------------------------------------


def views_for(user: User) -> QuerySet[SavedView]:
    """The saved views an agent sees: their own personal ones, those shared with every agent, and
    those shared with a group they belong to."""
    if not user.is_authenticated or not user.is_staff_member:
        return SavedView.objects.none()
    return SavedView.objects.filter(
        Q(owner=user, sharing=Sharing.PERSONAL)
        | Q(sharing=Sharing.EVERYONE)
        | Q(sharing=Sharing.GROUP, group__in=Group.members.through.objects.filter(user=user).values("group_id"))
    ).select_related("group")


def view_for_agent(user: User, view_id: int) -> SavedView:
    view = views_for(user).filter(pk=view_id).first()
    if view is None:
        raise NotFound(f"No saved view {view_id}")
    return view


def may_edit_view(user: User, view: SavedView) -> bool:
    """Its owner edits a view; an admin edits every shared one too."""
    return view.owner_id == user.pk or (user.is_admin and view.sharing != Sharing.PERSONAL)


def _check_sharing(user: User, sharing: str, group: Group | None) -> None:
    if sharing not in Sharing.values:
        raise InvalidInput(f"Unknown sharing {sharing!r}; one of: {', '.join(Sharing.values)}", field="sharing")
    if sharing == Sharing.EVERYONE and not user.is_admin:
        raise Forbidden("Only admins share a view with every agent")
    if sharing == Sharing.GROUP:
        if group is None:
            raise InvalidInput("Choose the group to share the view with", field="group")
        if not user.is_admin and not group.members.filter(pk=user.pk).exists():
            raise Forbidden("You can share a view only with a group you belong to")


def save_view(
    user: User,
    *,
    name: str,
    flt: TicketFilter,
    params: str = "",
    sharing: str = Sharing.PERSONAL,
    group: Group | None = None,
    view: SavedView | None = None,
) -> SavedView:
    """Create a saved view (or change `view`) from a filter of the inbox."""
    require_agent(user)
    name = name.strip()
    if not name:
        raise InvalidInput("Give the view a name", field="name")
    if len(name) > 80:
        raise InvalidInput("A view's name has at most 80 characters", field="name")
    if len(params) > 2000:
        raise InvalidInput("The view's filters are too long", field="params")
    flt.validate()
    if flt.view is None and not flt.to_json():
        raise InvalidInput("Choose at least one filter for the view", field="filter")
    _check_sharing(user, sharing, group)
    if view is not None and not may_edit_view(user, view):
        raise Forbidden("Only its owner (or an admin, for a shared view) changes a view")
    now = timezone.now()
    view = view or SavedView(owner=user, created_at=now)
    view.name = name
    view.filter = flt.to_json()
    view.params = params
    view.sharing = sharing
    view.group = group if sharing == Sharing.GROUP else None
    view.updated_at = now
    view.save()
    transaction.on_commit(_views_changed)
    return view


def delete_view(user: User, view: SavedView) -> None:
    require_agent(user)
    if not may_edit_view(user, view):
        raise Forbidden("Only its owner (or an admin, for a shared view) deletes a view")
    view.delete()
    transaction.on_commit(_views_changed)


def saved_filters(views: Iterable[SavedView]) -> list[tuple[str, TicketFilter]]:
    """The views' count keys and filters, for `view_counts`."""
    return [(view.count_key, TicketFilter.from_json(view.filter)) for view in views]


def _views_changed() -> None:
    """Open inboxes reload their list of views (a view shared with them appears with its count)."""
    _tell_inboxes(0, 0)


def _tell_inboxes(ticket_id: int, number: int) -> None:
    from sportello.chat.live import INBOX_GROUP, inbox_notice, push

    push(INBOX_GROUP, inbox_notice(ticket_id, number))


# --- Bulk changes -------------------------------------------------------------------------------------


@dataclass
class BulkChanges:
    """What to do to every chosen ticket: field changes, a merge into one of them, spam, or delete."""

    status: Status | None = None
    priority: int | None = None
    group: Group | None = None
    clear_group: bool = False
    assignee: User | None = None
    clear_assignee: bool = False
    add_tags: list[str] = field(default_factory=list)
    remove_tags: list[str] = field(default_factory=list)
    merge_into: int | None = None  # a ticket number
    spam: bool = False
    delete: bool = False

    def field_changes(self) -> bool:
        return bool(
            self.status
            or self.priority
            or self.group
            or self.clear_group
            or self.assignee
            or self.clear_assignee
            or self.add_tags
            or self.remove_tags
        )


@dataclass
class Refusal:
    number: int
    reason: str


@dataclass
class BulkOutcome:
    updated: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)


def bulk_targets(user: User, flt: TicketFilter) -> list[tuple[int, int | None]]:
    """Every ticket a filter matches ("select all N matching"), without versions, up to BULK_MAX."""
    numbers = list(filtered(user, flt).order_by("-updated_at", "-id").values_list("number", flat=True)[: BULK_MAX + 1])
    if len(numbers) > BULK_MAX:
        raise InvalidInput(f"More than {BULK_MAX} tickets match; narrow the filter first", field="filter")
    return [(number, None) for number in numbers]


def bulk_update(user: User, targets: list[tuple[int, int | None]], changes: BulkChanges) -> BulkOutcome:
    """Apply `changes` to the tickets `targets` names ((number, version the agent saw, or None)).

    1. Check the action as a whole: one kind of action (field changes, a merge, spam or delete),
       an agent who may change tickets, delete for admins only, a merge target the agent may write.
    2. Read the tickets the agent may see in one query; the others are refused as not found (a
       number the agent may not see tells them nothing).
    3. Change each ticket in a transaction of its own, through the ticket services: a version that
       moved since the agent saw the ticket is refused with who changed it.
    """
    require_agent(user)
    if not user.can_reply:
        raise Forbidden("Light agents can add internal notes only")
    kinds = [changes.field_changes(), changes.merge_into is not None, changes.spam, changes.delete]
    if sum(kinds) != 1:
        raise InvalidInput("Choose one action: changes to fields, a merge, spam, or delete", field="action")
    if changes.delete and not user.is_admin:
        raise Forbidden("Only admins delete tickets")
    if not targets:
        raise InvalidInput("Choose at least one ticket", field="tickets")
    if len(targets) > BULK_MAX:
        raise InvalidInput(f"At most {BULK_MAX} tickets in one action", field="tickets")
    versions = dict(targets)
    tickets = {
        t.number: t
        for t in tickets_visible_to(user).select_related("status", "group", "assignee").filter(number__in=versions)
    }
    outcome = BulkOutcome()
    merge_target = _merge_target(user, changes, tickets) if changes.merge_into is not None else None
    for number, version in targets:
        ticket = tickets.get(number)
        if ticket is None:
            outcome.refused.append(Refusal(number, _("#%(number)s was not found") % {"number": number}))
            continue
        if merge_target is not None and ticket.pk == merge_target.pk:
            continue  # the one the others go into
        try:
            if changes.delete:
                changed = _delete(ticket, version)
            elif changes.spam:
                changed = _spam(ticket, user, version)
            elif merge_target is not None:
                merge_tickets(ticket, merge_target, user, expected_version=version)
                changed = True
            else:
                changed = _update(ticket, user, version, changes)
        except Conflict as err:
            outcome.refused.append(Refusal(number, _changed_by(number, err)))
            continue
        except ServiceError as err:
            outcome.refused.append(Refusal(number, f"#{number}: {err.message}"))
            continue
        (outcome.updated if changed else outcome.unchanged).append(number)
    if changes.delete and outcome.updated:
        forget_view_counts()
    return outcome


def _merge_target(user: User, changes: BulkChanges, tickets: dict[int, Ticket]) -> Ticket:
    target = tickets.get(changes.merge_into) if changes.merge_into is not None else None
    if target is None:
        target = tickets_visible_to(user).filter(number=changes.merge_into).first()
    if target is None:
        raise InvalidInput(f"No ticket #{changes.merge_into} to merge into", field="merge_into")
    return target


def _update(ticket: Ticket, user: User, version: int | None, changes: BulkChanges) -> bool:
    """One ticket's changes in one transaction; True when something changed."""
    fields = TicketChanges(
        status=changes.status,
        priority=changes.priority,
        group=changes.group,
        clear_group=changes.clear_group,
        assignee=changes.assignee,
        clear_assignee=changes.clear_assignee,
    )
    before = ticket.version
    if not (changes.add_tags or changes.remove_tags):
        result = update_ticket(ticket, user, fields, expected_version=version)  # its own transaction
    else:
        with transaction.atomic():
            # Under the row lock: the tag list update_ticket writes is this one plus and minus ours
            # (a version that moved meanwhile is refused by update_ticket, with what changed).
            locked = Ticket.objects.select_for_update(of=("self",)).get(pk=ticket.pk)
            current = list(locked.tags.values_list("name", flat=True))
            removed = {name.strip().lower() for name in changes.remove_tags}
            tags = [name for name in current if name not in removed]
            tags += [name for name in changes.add_tags if name.strip().lower() not in {*tags, *removed}]
            fields.tags = tags
            result = update_ticket(ticket, user, fields, expected_version=version)
    return result.version != before if version is None else result.version != version


def _spam(ticket: Ticket, user: User, version: int | None) -> bool:
    """Mark one ticket as spam (its own transaction); one that is spam already is left unchanged."""
    if ticket.state == StatusCategory.SPAM and (version is None or version == ticket.version):
        return False
    try:
        mark_spam(ticket, user, expected_version=version)
    except InvalidInput:
        # Marked as spam by someone else between the read above and the row lock: nothing to do.
        if Ticket.objects.filter(pk=ticket.pk, state=StatusCategory.SPAM, merged_into=None).exists():
            return False
        raise
    return True


def _delete(ticket: Ticket, version: int | None) -> bool:
    with transaction.atomic():
        locked = Ticket.objects.select_for_update(of=("self",)).filter(pk=ticket.pk).first()
        if locked is None:
            raise NotFound(f"No ticket #{ticket.number}")
        if version is not None and locked.version != version:
            raise Conflict(
                f"Ticket #{locked.number} changed",
                current_version=locked.version,
                changes=changes_since(locked, version),
            )
        search.remove_ticket(locked.pk)
        locked.delete()
        transaction.on_commit(lambda: _tell_inboxes(ticket.pk, ticket.number))
    return True


def _changed_by(number: int, err: Conflict) -> str:
    changes = err.details.get("changes") or []
    names = sorted({str(change.get("by")) for change in changes if change.get("by")})
    if names:
        return _("#%(number)s was changed by %(names)s since you saw it") % {
            "number": number,
            "names": ", ".join(names),
        }
    return _("#%(number)s was changed since you saw it") % {"number": number}
