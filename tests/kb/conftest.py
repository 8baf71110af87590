"""Knowledge-base fixtures: a category tree and articles in several languages and visibilities."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from sportello.kb.models import ArticleTranslation, Category
from sportello.kb.services import ArticleText, create_article, create_category, save_translation


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    """Cached sitemaps are keyed by the public stamp, which every test's rollback puts back."""
    cache.clear()


@pytest.fixture
def billing(db) -> Category:
    top = create_category(name="Billing", slug="billing")
    top.names = {"it": "Fatturazione", "de": "Rechnungen"}
    top.save()
    return top


@pytest.fixture
def invoices(billing) -> Category:
    return create_category(name="Invoices", slug="invoices", parent=billing)


@pytest.fixture
def invoice_article(agent, invoices) -> ArticleTranslation:
    """A public article published in English and Italian, a German draft."""
    english = create_article(
        agent,
        category=invoices,
        text=ArticleText(
            "en",
            "Downloading your invoices",
            "Open **Account > Invoices** and press *Download*. Invoices are PDF files.",
        ),
        tags=["billing", "pdf"],
        publish=True,
    )
    from sportello.kb.services import publish_translation

    italian = save_translation(
        agent,
        english.article,
        ArticleText("it", "Scaricare le fatture", "Apri **Account > Fatture** e premi *Scarica*. Le fatture sono PDF."),
    )
    publish_translation(agent, italian)
    save_translation(agent, english.article, ArticleText("de", "Rechnungen herunterladen", "Öffnen Sie Konto."))
    return english


@pytest.fixture
def internal_article(agent, invoices) -> ArticleTranslation:
    return create_article(
        agent,
        category=invoices,
        visibility="internal",
        text=ArticleText("en", "Refund invoices by hand", "Secret procedure: refund the invoice in the ledger."),
        publish=True,
    )


@pytest.fixture
def draft_article(agent, invoices) -> ArticleTranslation:
    return create_article(
        agent, category=invoices, text=ArticleText("en", "Invoice drafts upcoming", "Unreleased invoice feature.")
    )
