"""The gates every view and API handler goes through to reach a ticket.

A ticket the user may not see is reported as not found (404), so that guessing numbers tells a
stranger nothing; a ticket they may see but not change gives Forbidden (403).
"""

from __future__ import annotations

from django.db.models import QuerySet

from sportello.accounts.models import User
from sportello.core.errors import Forbidden, NotFound
from sportello.tickets.models import Entry, Ticket


def tickets_visible_to(user: User) -> QuerySet[Ticket]:
    """The tickets an agent may see: all of them, or only their groups' when restricted."""
    if not user.is_authenticated or not user.is_staff_member:
        return Ticket.objects.none()
    tickets = Ticket.objects.all()
    if user.restricted_to_groups and not user.is_admin:
        tickets = tickets.filter(group__members=user)
    return tickets


def ticket_for_agent(user: User, number: int, *, write: bool = False, stamp: int | None = None) -> Ticket:
    """The ticket with reference `number` if `user` may see it (and change it, with `write`).

    With the lookups' version `stamp` its status, group and category are this process's copies
    (tickets/held.py) and the ticket it was merged into is read only when there is one, instead of
    four more joins (PostgreSQL planned the six-table join in ~2 ms at 1M tickets, two in 0.2 ms).
    """
    if not user.is_authenticated or not user.is_staff_member:
        raise Forbidden("Agents only")
    if stamp is None:
        related: tuple[str, ...] = ("customer", "status", "group", "assignee", "category", "merged_into")
    else:
        related = ("customer", "assignee")
    ticket = tickets_visible_to(user).select_related(*related).filter(number=number).first()
    if ticket is None:
        raise NotFound(f"No ticket #{number}")
    if stamp is not None:
        from sportello.tickets.held import hold_lookups

        hold_lookups([ticket], stamp, category=True)
    if write and not user.can_reply:
        raise Forbidden("Light agents can add internal notes only")
    return ticket


def entry_for_agent(user: User, entry_id: int) -> Entry:
    entry = Entry.objects.select_related("ticket").filter(pk=entry_id).first()
    if entry is None or not tickets_visible_to(user).filter(pk=entry.ticket_id).exists():
        raise NotFound(f"No entry {entry_id}")
    return entry


def entry_on_ticket(ticket: Ticket, entry_id: int) -> Entry:
    """An entry of a ticket the caller already reached through a gate; another ticket's is not found."""
    entry = Entry.objects.select_related("ticket").filter(pk=entry_id, ticket=ticket).first()
    if entry is None:
        raise NotFound(f"No entry {entry_id} on ticket #{ticket.number}")
    return entry


def require_agent(user: User) -> None:
    if not user.is_authenticated or not user.is_staff_member:
        raise Forbidden("Agents only")


def require_full_agent(user: User) -> None:
    """Agents and admins; light agents may only read and add internal notes."""
    require_agent(user)
    if not user.can_reply:
        raise Forbidden("Light agents can add internal notes only")


def require_admin(user: User) -> None:
    if not user.is_authenticated or not user.is_admin:
        raise Forbidden("Admins only")


def tickets_for_customer(user: User) -> QuerySet[Ticket]:
    """The tickets a portal user may see: their own, and their organization's when it shares them."""
    from sportello.accounts.models import Role
    from sportello.customers.models import Customer

    if not user.is_authenticated or not user.is_active or user.role != Role.CUSTOMER:
        return Ticket.objects.none()
    customer = Customer.objects.select_related("organization").filter(user=user).first()
    if customer is None:
        return Ticket.objects.none()
    organization = customer.organization
    if organization is not None and organization.shared_tickets:
        return Ticket.objects.filter(customer__organization=organization)
    return Ticket.objects.filter(customer=customer)


def ticket_for_customer(user: User, number: int) -> Ticket:
    """The ticket with reference `number` if this portal user may see it; else NotFound.

    The number alone never grants access: the ticket must be the customer's own, or their
    organization's when the organization shares tickets.
    """
    ticket = tickets_for_customer(user).select_related("status", "customer").filter(number=number).first()
    if ticket is None:
        raise NotFound(f"No ticket #{number}")
    return ticket
