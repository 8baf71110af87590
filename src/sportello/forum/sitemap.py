"""The forum's sitemap for search engines: `/help/forum/sitemap.xml`, cut into pages (`?p=2`, …) of
at most `URLS_PER_PAGE` addresses (the protocol's limit is 50,000).

Listed: each language's categories that hold a public topic, and every topic the public may read
(not hidden, opening post published), with its last activity. Built from one indexed query per
page; not cached, since a forum changes by the minute.
"""

from __future__ import annotations

from sportello.forum.access import readable_topics
from sportello.forum.models import ForumCategory
from sportello.kb.sitemap import _day, _document, _loc

URLS_PER_PAGE = 50_000


def sitemap_page(page: int) -> str | None:
    """The `page`th page (from 1) or None past the last one (page 1 always exists)."""
    if page < 1:
        return None
    public = readable_topics(None)
    entries = []
    if page == 1:
        categories = ForumCategory.objects.filter(topics__in=public).distinct().order_by("language", "position", "pk")
        entries += [f"  <url><loc>{_loc(c.public_path())}</loc></url>" for c in categories]
    start = (page - 1) * URLS_PER_PAGE
    rows = public.order_by("pk").values_list("pk", "slug", "category__language", "last_activity_at")
    for pk, slug, language, last in rows[start : start + URLS_PER_PAGE]:
        path = f"/help/forum/{language}/t/{pk}/{slug}"
        entries.append(f"  <url><loc>{_loc(path)}</loc>{_day(last)}</url>")
    if len(entries) == 0 and page > 1:
        return None
    return _document("urlset", entries)
