"""Dates and times on agents' pages, one way everywhere: `{% load ui %}`, then

    {{ entry.created_at|when }}   → <time datetime="2026-12-02T03:17:00+00:00">2 Dec 2026, 04:17</time>
    {{ ticket.due_at|day }}       → <time datetime="2026-12-02">2 Dec 2026</time>
    {{ line.at|clock }}           → <time datetime="…" title="2 Dec 2026, 04:17">04:17</time>

The value is shown in the current time zone (the agent's own, set by
core.middleware.AgentPreferencesMiddleware) with the current language's formats
(src/sportello/formats/<lang>/formats.py: DATETIME_FORMAT, DATE_FORMAT, TIME_FORMAT), so
`{{ value|date:"DATETIME_FORMAT" }}` and `{{ value|when }}` read the same. Values may be aware
datetimes, dates, or ISO 8601 strings (what the live payloads carry); anything else renders as
it is, and None as nothing.
"""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils import formats, timezone
from django.utils.html import format_html

register = template.Library()


def _moment(value: object) -> dt.datetime | dt.date | None:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, dt.datetime):
        if timezone.is_naive(value):
            value = timezone.make_aware(value, dt.UTC)
        return timezone.localtime(value)
    if isinstance(value, dt.date):
        return value
    return None


@register.filter(is_safe=True)
def when(value: object) -> str:
    """A date and time: `<time>` with the machine-readable value and the one human format."""
    moment = _moment(value)
    if moment is None:
        return "" if value in (None, "") else str(value)
    if not isinstance(moment, dt.datetime):
        return day(moment)
    text = formats.date_format(moment, "DATETIME_FORMAT")
    return format_html('<time datetime="{}">{}</time>', moment.isoformat(), text)


@register.filter(is_safe=True)
def day(value: object) -> str:
    """A date only (a due date, a period)."""
    moment = _moment(value)
    if moment is None:
        return "" if value in (None, "") else str(value)
    text = formats.date_format(moment, "DATE_FORMAT")
    stamp = moment.date().isoformat() if isinstance(moment, dt.datetime) else moment.isoformat()
    return format_html('<time datetime="{}">{}</time>', stamp, text)


@register.filter(is_safe=True)
def clock(value: object) -> str:
    """A time of day (a chat line), with the full date and time as its title."""
    moment = _moment(value)
    if not isinstance(moment, dt.datetime):
        return when(value)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        moment.isoformat(),
        formats.date_format(moment, "DATETIME_FORMAT"),
        formats.time_format(moment, "TIME_FORMAT"),
    )
