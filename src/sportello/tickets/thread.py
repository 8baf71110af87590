"""The thread on the ticket page, rendered once per entry and kept in the cache.

Rendering an entry through the template costs 0.4 to 0.5 ms (some sixty lookups, dates, links,
forms): a page of twenty entries spent a third of its time there, on markup that is the same every
time. Entries hardly change (a delivery state, its attempts; a move), so each entry's HTML is kept in
the cache (Redis in production, local memory otherwise) under a digest of everything it shows:

- the entry's own fields, its author's name and its attachments (a delivery that failed, an author
  renamed, an entry moved give a new key, so nothing stale is ever served: no invalidation needed);
- the agent's language and time zone (two agents see their own words and times);
- what the page decides for the agent: whether they may reply (the entry's forms), whether the
  ticket was merged, whether there are several entries (move/split), the ticket's number (links);
- a fingerprint of the package's code, templates and translations, so a deployment that changes
  any of them is never answered from an old rendering.

The CSRF token and the ticket's version (the move and split forms') differ per request and per
change of the ticket; they are rendered as marks and replaced on every page, so one rendering serves
them all. A page costs one `get_many` and renders only what was not there.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from html import escape
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache as shared_cache
from django.template.loader import get_template
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from sportello.tickets.models import Attachment, Entry, Ticket

log = logging.getLogger("sportello.tickets")

TEMPLATE = "tickets/_entry.html"
TIMEOUT = 7 * 24 * 3600  # an entry nobody opens for a week is rendered again when someone does


@cache
def _marks() -> tuple[str, str]:
    """The CSRF and version marks: HTML comments no escaped text can hold, derived from the secret key
    so that no sanitized mail body can forge one (the cache is shared by every process)."""
    secret = hmac.new(settings.SECRET_KEY.encode(), b"sportello-thread-marks", hashlib.sha256).hexdigest()[:20]
    return f"<!--csrf-{secret}-->", f"<!--version-{secret}-->"


@cache
def _fingerprint() -> str:
    """What renders an entry: the templates, and the code and translations behind their tags and
    filters (a channel's wording of why an entry is here, a new translation). Every source, template
    and message catalog of the installed package, by name, size and modification time: a deployment
    that changes any of them renders every entry again instead of serving the old words for a week."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.blake2b(digest_size=8)
    for path in sorted(root.rglob("*")):
        if path.suffix in (".py", ".html", ".mo"):
            stat = path.stat()
            digest.update(f"{path.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class _Ticket:
    """What an entry shows of its ticket; the version is the mark."""

    number: int
    merged_into: bool
    version: SafeString


_FILES = "_thread_attachments"  # where load_attachments leaves an entry's files


def load_attachments(entries: Sequence[Entry]) -> None:
    """The files of all these entries in one query, kept on each entry for `attachments_of` (cheaper
    than prefetch_related's machinery for a page of entries)."""
    files: dict[int, list[Attachment]] = {entry.pk: [] for entry in entries}
    if files:
        for item in Attachment.objects.filter(entry_id__in=list(files)).order_by("pk"):
            files[item.entry_id].append(item)
    for entry in entries:
        entry.__dict__[_FILES] = files[entry.pk]


def attachments_of(entry: Entry) -> list[Attachment]:
    found: list[Attachment] | None = entry.__dict__.get(_FILES)
    return found if found is not None else list(entry.attachments.all())


def _digest(entry: Entry, files: list[Attachment], page: tuple[Any, ...]) -> str:
    attachments = [(a.pk, a.filename, a.content_type, a.size, a.content_id, a.inline) for a in files]
    shown = (
        entry.pk,
        entry.kind,
        entry.channel,
        entry.direction,
        entry.internal,
        entry.author_user_id,
        entry.author_customer_id,
        entry.author_name,
        entry.body_text,
        entry.body_html,
        entry.metadata,
        entry.delivery,
        entry.delivery_error,
        entry.time_spent,
        entry.created_at.isoformat(),
        attachments,
        page,
    )
    text = json.dumps(shown, sort_keys=True, default=str, ensure_ascii=False)
    return "sportello:entry:" + hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def render_thread(
    entries: Sequence[Entry], *, ticket: Ticket, can_reply: bool, several_entries: bool, csrf_token: str
) -> SafeString:
    """The thread's `<li>`s, as `tickets/_entry.html` renders them for this agent and request."""
    if not entries:
        return mark_safe("")
    csrf_mark, version_mark = _marks()
    merged = ticket.merged_into_id is not None
    page = (
        _fingerprint(),
        get_language(),
        timezone.get_current_timezone_name(),
        ticket.number,
        merged,
        bool(can_reply),
        bool(several_entries),
    )
    files = [attachments_of(entry) for entry in entries]
    keys = [_digest(entry, entry_files, page) for entry, entry_files in zip(entries, files, strict=True)]
    try:
        found: dict[str, str] = shared_cache.get_many(keys)
    except Exception:  # the cache is an aid: without it (Redis down) the page renders every entry
        log.warning("the thread cache could not be read", exc_info=True)
        found = {}
    missing: dict[str, str] = {}
    if len(found) < len(keys):
        template = get_template(TEMPLATE)
        shown = _Ticket(number=ticket.number, merged_into=merged, version=mark_safe(version_mark))
        for key, entry, entry_files in zip(keys, entries, files, strict=True):
            if key not in found:
                missing[key] = template.render(
                    {
                        "entry": entry,
                        "attachments": entry_files,
                        "ticket": shown,
                        "can_reply": can_reply,
                        "several_entries": several_entries,
                        "csrf_token": mark_safe(csrf_mark),
                    }
                )
        try:
            shared_cache.set_many(missing, TIMEOUT)
        except Exception:
            log.warning("the thread cache could not be written", exc_info=True)
    html = "".join(found.get(key) or missing[key] for key in keys)
    html = html.replace(csrf_mark, escape(str(csrf_token))).replace(version_mark, str(ticket.version))
    return mark_safe(html)  # rendered by the template (autoescaped); the two values put in are escaped
