"""The knowledge base of `sportello import helpscout --docs-key`: Help Scout's Docs API v1, served by
helpscout_server.py from tests/fixtures/importers/helpscout/docs.json."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command

from sportello.importers.models import ImportedRecord
from sportello.importers.runner import run_import
from sportello.importers.sources.helpscout import HelpScoutSource
from sportello.importers.sources.tabular import SourceError
from sportello.kb.models import Article, ArticleTranslation, Category
from tests.importers.helpscout_server import APP_ID, APP_SECRET, DOCS_KEY, HelpScoutServer

pytestmark = pytest.mark.django_db


def source(server: HelpScoutServer, docs_key: str = DOCS_KEY, **kwargs) -> HelpScoutSource:
    return HelpScoutSource(
        app_id=APP_ID,
        app_secret=APP_SECRET,
        url=server.url,
        docs_key=docs_key,
        docs_url=server.url,
        sleep=lambda s: None,
        **kwargs,
    )


def kb_counts() -> dict[str, int]:
    return {
        "categories": Category.objects.count(),
        "articles": Article.objects.count(),
        "translations": ArticleTranslation.objects.count(),
        "records": ImportedRecord.objects.filter(kind__in=("category", "article", "translation")).count(),
    }


def test_collections_categories_and_articles_arrive(helpscout: HelpScoutServer) -> None:
    report = run_import(source(helpscout))

    collection = Category.objects.get(name="My Collection", parent=None)
    runbooks = Category.objects.get(name="Runbooks", parent=None)
    assert list(Category.objects.filter(parent=collection).order_by("position").values_list("name", flat=True)) == [
        "My Category",
        "Billing",
    ]
    welcome = ArticleTranslation.objects.get(title="My Article")
    assert welcome.article.category.name == "My Category" and welcome.article.visibility == "public"
    assert welcome.is_published and welcome.language == "en"
    # The text is HTML, sanitized as the KB sanitizes: the script and the handler are gone.
    assert "<b>article text</b>" in welcome.body_html
    assert "<script>" not in welcome.body_html and "onclick" not in welcome.body_html
    assert sorted(welcome.article.tags.values_list("name", flat=True)) == ["setup", "welcome"]
    assert welcome.article.created_at == datetime(2013, 8, 21, 19, 34, 13, tzinfo=UTC)
    # "notpublished" is a draft; of two categories, the first.
    refunds = ArticleTranslation.objects.get(title="Refunds")
    assert not refunds.is_published and refunds.article.category.name == "Billing"
    # A private collection's article is for agents; without a category it sits in the collection.
    relay = ArticleTranslation.objects.get(title="Restart the mail relay")
    assert relay.article.visibility == "internal" and relay.article.category == runbooks
    assert "<code>systemctl restart postfix</code>" in relay.body_html
    assert report.created["category"] == 4 and report.created["article"] == 3
    # Every list was read page by page (a page holds one row here) with the Docs API key.
    assert any("/v1/collections?page=2" in r for r in helpscout.requests)
    assert any("/v1/collections/5214c83d45667acd25394b53/articles?status=all&page=2" in r for r in helpscout.requests)


def test_a_second_run_imports_nothing_twice_and_since_asks_only_for_changed_articles(
    helpscout: HelpScoutServer,
) -> None:
    run_import(source(helpscout))
    first = kb_counts()
    report = run_import(source(helpscout))
    assert kb_counts() == first and report.unchanged["article"] == 3 and report.created["article"] == 0

    helpscout.docs["articles"][0].update(text="Now with <i>more</i> text.", updatedAt="2024-01-02T00:00:00Z")
    asked = len(helpscout.requests)
    report = run_import(source(helpscout), since=datetime(2024, 1, 1, tzinfo=UTC))
    assert "<i>more</i>" in ArticleTranslation.objects.get(title="My Article").body_html
    read = [r for r in helpscout.requests[asked:] if "/v1/articles/" in r]
    assert read == ["GET /v1/articles/521632244566c845e582652d"]  # the others' texts were not asked for
    assert kb_counts() == first


def test_without_a_docs_key_no_knowledge_base_is_read(helpscout: HelpScoutServer) -> None:
    run_import(source(helpscout, docs_key=""))
    assert not Article.objects.exists() and not any("/v1/" in r for r in helpscout.requests)


def test_a_wrong_docs_key_stops_with_help_scouts_message(helpscout: HelpScoutServer) -> None:
    with pytest.raises(SourceError, match="Help Scout Docs answered 401 to /v1/collections: Invalid API key"):
        run_import(source(helpscout, docs_key="wrong"))


def test_a_docs_language_that_is_not_the_help_desks_is_refused(helpscout: HelpScoutServer) -> None:
    with pytest.raises(CommandError, match="--docs-language 'xx' is not one of this help desk's languages"):
        call_command(
            "import", "helpscout", "--app-id", APP_ID, "--app-secret", APP_SECRET, "--api-url", helpscout.url,
            "--docs-key", DOCS_KEY, "--docs-url", helpscout.url, "--docs-language", "xx", "--no-progress",
        )  # fmt: skip


def test_a_dry_run_writes_nothing(helpscout: HelpScoutServer) -> None:
    report = run_import(source(helpscout), dry_run=True)
    assert kb_counts() == {k: 0 for k in kb_counts()}
    assert report.created["article"] == 3 and report.created["category"] == 4
