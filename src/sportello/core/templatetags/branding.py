"""`{% brand as brand %}`: the help desk's name, logo and colour for the page's header."""

from __future__ import annotations

from typing import Any

from django import template

from sportello.core.branding import Brand, current, last_known

register = template.Library()


@register.simple_tag(takes_context=True)
def brand(context: dict[str, Any]) -> Brand:
    """The branding, at the lookups' version the page read already when it did (no query)."""
    return current(context.get("lookups_stamp"))


@register.simple_tag
def last_brand() -> Brand:
    """The branding this process read last, without a query (the server error page)."""
    return last_known()
