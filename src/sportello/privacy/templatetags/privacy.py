from __future__ import annotations

from typing import Any

from django import template

from sportello.customers.models import Customer
from sportello.privacy.access import may_export
from sportello.privacy.erasure import is_erased

register = template.Library()


@register.inclusion_tag("privacy/_customer_actions.html", takes_context=True)
def privacy_actions(context: Any, customer: Customer) -> dict[str, Any]:
    """The customer page's "Personal data" card, for those who may export or erase."""
    user = context["request"].user
    can_export = may_export(user)
    can_erase = bool(user.is_authenticated and user.is_admin)
    return {
        "customer": customer,
        "can_export": can_export,
        "can_erase": can_erase,
        "erased": (can_export or can_erase) and is_erased(customer),
        "csrf_token": context.get("csrf_token"),
    }
