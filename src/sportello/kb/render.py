"""Article bodies: Markdown (raw HTML allowed) rendered, then sanitized with nh3.

Unlike mail, an article is written by our own agents and may show images from the web or from our
media storage, so `img` keeps http(s) and relative sources. Everything that runs code (script,
iframe, event handlers, javascript: links) is removed.
"""

from __future__ import annotations

import re

import markdown
import nh3

from sportello.core.html import ALLOWED_ATTRIBUTES, ALLOWED_TAGS

URL_SCHEMES = {"http", "https", "mailto", "tel"}
ATTRIBUTES = {**ALLOWED_ATTRIBUTES, "a": {"href", "name", "id"}, "h2": {"id"}, "h3": {"id"}}


def render_body(source: str, *, link_rel: str = "noopener noreferrer") -> str:
    """Safe HTML for an article body written in Markdown.

    The forum renders its posts here too, with `link_rel` "nofollow ugc …": links written by
    visitors earn no search ranking (and spammers no reason to post them).
    """
    html = markdown.markdown(source or "", extensions=["extra", "sane_lists"], output_format="html")
    return sanitize_article_html(html, link_rel=link_rel)


def sanitize_article_html(html: str, *, link_rel: str = "noopener noreferrer") -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel=link_rel,
        strip_comments=True,
    )


def plain_text(html: str) -> str:
    from sportello.core.html import html_to_text

    return html_to_text(html)


def summary_of(text: str, length: int = 160) -> str:
    """The first sentences of a text, cut at a word, for a meta description."""
    flat = re.sub(r"\s+", " ", text or "").strip()
    if len(flat) <= length:
        return flat
    return flat[:length].rsplit(" ", 1)[0] + "…"
