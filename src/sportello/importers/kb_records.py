"""What a source reads of a knowledge base and of macros, in one shape for every help desk.

The knowledge-base writer (kb_writer.py) knows only these, as the ticket writer knows records.py.
Ids are the source's own, as strings; a category's `parent` and an article's `category` are
other categories' `source_id`s, and a macro's group and assignee are the source's group and agent
ids (resolved through the ImportedRecords of the ticket import's groups and agents).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from html import unescape
from typing import Any

IMG_SRC = re.compile(r"""<img\b[^>]*?\bsrc\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.I)


def image_sources(html: str) -> list[str]:
    """The `src` of every `<img>` in `html`, unescaped, in order, once each."""
    found: list[str] = []
    for match in IMG_SRC.finditer(html or ""):
        src = unescape(match.group(1) if match.group(1) is not None else match.group(2)).strip()
        if src and src not in found:
            found.append(src)
    return found


@dataclass
class KbCategoryIn:
    """A category (a Zendesk category, a Freshdesk solution category) or, with a `parent`, one
    level under it (a Zendesk section, a Freshdesk folder)."""

    source_id: str
    name: str
    parent: str = ""
    position: int = 100
    names: dict[str, str] = field(default_factory=dict)  # other languages' names, by Sportello language


@dataclass
class KbTranslationIn:
    source_id: str
    locale: str  # the source's locale ("en-us", "de"); mapped to one of Sportello's languages
    title: str
    body_html: str
    draft: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass
class KbImageIn:
    """An image an article shows from the source's own storage: downloaded and stored here."""

    url: str  # as the article's HTML has it (unescaped)
    filename: str
    # Reads the bytes (a download); never called on a dry run.
    fetch: Callable[[], bytes] | None = field(default=None, compare=False, repr=False)


@dataclass
class KbArticleIn:
    source_id: str
    category: str  # a KbCategoryIn's source_id
    translations: list[KbTranslationIn]
    visibility: str = "public"  # kb.models.Visibility
    tags: list[str] = field(default_factory=list)
    position: int = 100
    created_at: datetime | None = None
    updated_at: datetime | None = None
    images: list[KbImageIn] = field(default_factory=list)


@dataclass
class MacroIn:
    """A macro with its actions in Sportello's shape (automation.actions), except that values are
    the source's: `set_status` names its status, `set_priority` its priority word, `set_group`
    and `set_assignee` the source's ids. `unmapped` lists what Sportello has no action for."""

    source_id: str
    name: str
    body: str = ""
    actions: list[dict[str, Any]] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    active: bool = True
    owner: str = ""  # an agent's source id: a personal macro; "" shared
    updated_at: datetime | None = None


KbRecord = KbCategoryIn | KbArticleIn | MacroIn
