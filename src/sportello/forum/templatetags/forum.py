"""How forum pages name people: a member by first name and initial, an agent by first name."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext as _

from sportello.accounts.models import User

register = template.Library()


@register.filter
def forum_name(user: User | None) -> str:
    """ "Carla R." for Carla Rossi: enough to follow a conversation, not a full name for the web."""
    if user is None:
        return _("Someone")
    words = (user.get_full_name() or "").split()
    if not words:
        return _("Member %(n)d") % {"n": user.pk}
    if user.is_staff_member or len(words) == 1:
        return words[0]
    return f"{words[0]} {words[-1][0]}."
