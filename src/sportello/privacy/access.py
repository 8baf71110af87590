"""Who may export and erase customers' personal data; the gates every privacy page goes through."""

from __future__ import annotations

from sportello.accounts.models import Role, User
from sportello.core.errors import Forbidden, NotFound
from sportello.customers.models import Customer
from sportello.privacy.models import DataExport, ExportState, agents_may_export


def may_export(user: User) -> bool:
    """Admins; agents who may reply too, when the retention settings allow agents to export."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_admin:
        return True
    return user.can_reply and user.role == Role.AGENT and agents_may_export()


def require_exporter(user: User) -> None:
    if not may_export(user):
        raise Forbidden("Only admins (and agents, when the privacy settings allow it) may export personal data")


def require_eraser(user: User) -> None:
    if not user.is_authenticated or not user.is_admin:
        raise Forbidden("Admins only")


def customer_for_privacy(customer_id: int) -> Customer:
    found = Customer.objects.select_related("organization", "user").filter(pk=customer_id).first()
    if found is None:
        raise NotFound(f"No customer {customer_id}")
    return found


def own_customer(user: User) -> Customer:
    """The customer file of a signed-in portal user."""
    found = None
    if user.is_authenticated and user.is_active and user.role == Role.CUSTOMER:
        found = Customer.objects.filter(user=user).first()
    if found is None:
        raise Forbidden("The portal is for customers")
    return found


def export_for_customer(user: User, export_id: int) -> DataExport:
    """A ready export of this signed-in customer's own file; anybody else's is not found."""
    customer = own_customer(user)
    export = DataExport.objects.filter(pk=export_id, customer=customer, state=ExportState.READY).first()
    if export is None:
        raise NotFound("No such export")
    return export
