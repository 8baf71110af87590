"""Filters for the thread on the ticket page: why a mail is here, how its delivery went, its
inline images, time spent, and the names of fields in the agent's words."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from django import template
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from sportello.tickets.delivery import delivery_attempts, threading_reason
from sportello.tickets.models import Attachment, Entry

register = template.Library()


@register.filter
def threading(metadata: dict[str, Any] | None) -> dict[str, str] | None:
    return threading_reason(metadata)


@register.filter
def attempts(metadata: dict[str, Any] | None) -> dict[str, Any]:
    return delivery_attempts(metadata)


@register.filter
def field_label(name: str) -> str:
    """A ticket field's name as agents read it ("status", "message moved"), translated."""
    from sportello.tickets.forms import FIELD_LABELS

    return str(FIELD_LABELS.get(name, name.replace("_", " ")))


@register.filter
def shown_value(value: str, field: str) -> str:
    """A history value in the agent's language: statuses, priorities and delivery states are stored
    in English and translated here; free text (a subject, tag names) is shown as written."""
    if field in ("status", "priority", "delivery") and value:
        return _(value)
    return value


@register.filter
def minutes(value: int | None) -> str:
    """Minutes as "1 h 20 min" (time tracking)."""
    total = int(value or 0)
    hours, rest = divmod(total, 60)
    if hours and rest:
        return _("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": rest}
    if hours:
        return _("%(hours)d h") % {"hours": hours}
    return _("%(minutes)d min") % {"minutes": rest}


@register.filter
def is_image(content_type: str) -> bool:
    """An image a browser shows in an <img> (not SVG: it can carry scripts, and is served as bytes)."""
    return content_type.lower() in {"image/png", "image/jpeg", "image/gif", "image/webp"}


_CID = re.compile(r'src="cid:([^"]+)"', re.I)


@register.simple_tag
def inline_images(body_html: str, attachments: Iterable[Attachment]) -> SafeString:
    """The entry's sanitized HTML with its `cid:` images pointing at their files (through the
    access-checked attachment view), so an inline image shows in place. Unknown ids stay as they are."""
    by_id = {item.content_id.strip("<>").lower(): item.pk for item in attachments if item.content_id}
    if not by_id:
        return mark_safe(body_html)  # sanitized before it was stored

    def point(found: re.Match[str]) -> str:
        pk = by_id.get(found.group(1).strip("<>").lower())
        return f'src="{reverse("attachment", args=[pk])}"' if pk else found.group(0)

    return mark_safe(_CID.sub(point, body_html))


@register.simple_tag(takes_context=True)
def thread(context: template.Context, entries: Sequence[Entry]) -> SafeString:
    """The thread's entries (`tickets/_entry.html` each), from the cache where they were rendered
    before: see tickets/thread.py."""
    from sportello.tickets.thread import render_thread

    return render_thread(
        entries,
        ticket=context["ticket"],
        can_reply=bool(context.get("can_reply")),
        several_entries=bool(context.get("several_entries")),
        csrf_token=str(context.get("csrf_token") or ""),
    )
