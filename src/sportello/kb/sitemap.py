"""The sitemap of the public help centre, for search engines.

`/help/sitemap.xml` is a sitemap index naming one sitemap per language (`/help/sitemap-<lang>.xml`),
each cut into pages (`?p=2`, …) of at most `URLS_PER_PAGE` addresses, the protocol's limit of
50,000. Only published translations of public articles are listed.

Each document is built once and kept in Django's cache under the current `PublicVersion` stamp,
which the services change whenever what the public sees changes (publishing, unpublishing,
visibility, addresses). Reading the stamp is one primary-key query per request, so a change made
through any process is seen by every process at its next request, with a local-memory cache too;
copies under older stamps are never read again and expire.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from math import ceil

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max
from django.urls import reverse
from django.utils.encoding import iri_to_uri
from django.utils.html import escape

from sportello.kb.access import public_translations
from sportello.kb.models import LANGUAGES, PublicVersion, public_path

URLS_PER_PAGE = 50_000
CACHE_SECONDS = 24 * 3600
XMLNS = "http://www.sitemaps.org/schemas/sitemap/0.9"


def current_stamp() -> str:
    return PublicVersion.objects.filter(pk=1).values_list("stamp", flat=True).first() or ""


def sitemap_index() -> str:
    return _cached("index", _build_index)


def sitemap_page(language: str, page: int) -> str | None:
    """The `page`th sitemap of `language` (from 1), or None past the last page (page 1 always exists)."""
    if language not in LANGUAGES or page < 1:
        return None
    xml = _cached(f"{language}:{page}", lambda: _build_page(language, page) or "")
    return xml or None


def _cached(name: str, build: Callable[[], str]) -> str:
    key = f"kb:sitemap:{current_stamp()}:{name}"
    xml: str | None = cache.get(key)
    if xml is None:
        xml = build()
        cache.set(key, xml, CACHE_SECONDS)
    return xml


def _loc(path: str) -> str:
    return escape(iri_to_uri(settings.SITE_URL + path))


def _day(moment: datetime | None) -> str:
    return f"<lastmod>{moment:%Y-%m-%d}</lastmod>" if moment else ""


def _build_index() -> str:
    per_language = (
        public_translations("").values("language").annotate(count=Count("pk"), last=Max("updated_at")).order_by()
    )
    found = {row["language"]: row for row in per_language}
    entries = []
    for language in LANGUAGES:
        if language not in found:
            continue
        path = reverse("kb:sitemap-language", args=[language])
        for page in range(1, ceil(found[language]["count"] / URLS_PER_PAGE) + 1):
            loc = _loc(path if page == 1 else f"{path}?p={page}")
            entries.append(f"  <sitemap><loc>{loc}</loc>{_day(found[language]['last'])}</sitemap>")
    return _document("sitemapindex", entries)


def _build_page(language: str, page: int) -> str | None:
    start = (page - 1) * URLS_PER_PAGE
    rows = (
        public_translations(language)
        .order_by("article_id")
        .values_list("article__category__slug", "slug", "updated_at")[start : start + URLS_PER_PAGE]
    )
    entries = [
        f"  <url><loc>{_loc(public_path(language, category, slug))}</loc>{_day(updated)}</url>"
        for category, slug, updated in rows
    ]
    if not entries and page > 1:
        return None
    return _document("urlset", entries)


def _document(root: str, entries: list[str]) -> str:
    body = "\n".join(entries)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{XMLNS}">\n{body}\n</{root}>\n'
