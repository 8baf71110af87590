"""Template tags for the phone: whether the pop-up is needed, and numbers as dial links."""

from __future__ import annotations

from typing import Any

from django import template
from django.core.cache import cache

from sportello.phone.models import FLAGS_CACHE_KEY, CtiAccount

register = template.Library()

FLAGS_SECONDS = 600  # a bound on staleness should a forgetting be lost (a cache outage)


def flags() -> dict[str, bool]:
    """{"enabled": an active CTI account exists, "dial": one dials out}: kept in the cache (saving
    or deleting an account forgets it), so pages pay no query for it."""
    found: dict[str, bool] | None = cache.get(FLAGS_CACHE_KEY)
    if found is None:
        accounts = list(CtiAccount.objects.filter(active=True).values_list("outbound_url", flat=True))
        found = {"enabled": bool(accounts), "dial": any(accounts)}
        cache.set(FLAGS_CACHE_KEY, found, FLAGS_SECONDS)
    return found


@register.simple_tag
def phone_flags() -> dict[str, bool]:
    return flags()


@register.inclusion_tag("phone/_dial.html")
def dial_link(number: str) -> dict[str, Any]:
    return {"number": number, "dial": flags()["dial"]}
