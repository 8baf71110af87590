"""The solutions (knowledge base) and canned responses of `sportello import freshdesk`
(freshdesk_server.py, tests/fixtures/importers/freshdesk/solutions.json)."""

from __future__ import annotations

import pytest

from sportello.automation.models import Macro
from sportello.importers.models import ImportedRecord
from sportello.importers.runner import run_import
from sportello.importers.sources.freshdesk import FreshdeskSource
from sportello.kb.models import Article, ArticleFile, ArticleTranslation, Category
from tests.importers.freshdesk_server import API_KEY, FreshdeskServer

pytestmark = pytest.mark.django_db


def source(server: FreshdeskServer) -> FreshdeskSource:
    return FreshdeskSource(server.url, token=API_KEY, sleep=lambda s: None)


def kb_counts() -> dict[str, int]:
    return {
        "categories": Category.objects.count(),
        "articles": Article.objects.count(),
        "translations": ArticleTranslation.objects.count(),
        "files": ArticleFile.objects.count(),
        "macros": Macro.objects.count(),
        "records": ImportedRecord.objects.count(),
    }


def test_a_solution_article_arrives_with_its_translation_and_image(freshdesk: FreshdeskServer) -> None:
    report = run_import(source(freshdesk))

    general = Category.objects.get(name="General", parent=None)
    assert general.names == {"it": "Generale"}
    started = Category.objects.get(name="Getting Started")
    assert started.parent == general and started.names == {"it": "Per iniziare"}

    english = ArticleTranslation.objects.get(language="en", title="Set up your account")
    article = english.article
    assert article.category == started and article.visibility == "public" and english.is_published
    assert list(article.tags.values_list("name", flat=True)) == ["setup"]
    italian = ArticleTranslation.objects.get(article=article, language="it")
    assert italian.title == "Configura il tuo account" and italian.is_published
    image = ArticleFile.objects.get(article=article)
    assert image.is_image and image.file.read() == b"\x89PNG\r\n\x1a\n settings"
    for translation in (english, italian):
        assert image.url() in translation.body_html and "/helpdesk/attachments/" not in translation.body_html
    assert "<b>Settings</b>" in english.body_html and "iframe" not in english.body_html

    internal = ArticleTranslation.objects.get(title="Refunds over 100 EUR")
    assert internal.article.visibility == "internal" and not internal.is_published  # agents' folder, a draft
    assert report.created["article"] == 2 and report.created["translation"] == 3 and report.created["image"] == 1


def test_a_canned_response_becomes_a_macro_and_what_it_loses_is_reported(freshdesk: FreshdeskServer) -> None:
    report = run_import(source(freshdesk))

    macro = Macro.objects.get(name="Thanks for writing")
    assert macro.body == "Hi {{ customer.first_name }}, thanks for ticket {{ ticket.number }}. {{ticket.cc_email}}"
    assert macro.actions == [] and macro.owner is None
    unmapped = {value for (what, value) in report.unmapped if what == "macro action"}
    assert "attachments terms.pdf (macro 'Thanks for writing')" in unmapped
    assert "placeholder {{ticket.cc_email}} (macro 'Thanks for writing')" in unmapped
    # A personal one: Freshdesk does not say whose, so it is not shared with everyone here.
    assert not Macro.objects.filter(name="My own signature").exists()
    assert report.reasons["macro"] == [
        {"id": "71", "reason": "a personal canned response (the API does not say whose)"}
    ]


def test_a_second_run_imports_nothing_twice(freshdesk: FreshdeskServer) -> None:
    run_import(source(freshdesk))
    first = kb_counts()
    asked = len(freshdesk.requests)

    report = run_import(source(freshdesk))

    assert kb_counts() == first
    assert sum(report.created.values()) == 0 and sum(report.updated.values()) == 0
    assert report.unchanged["article"] == 2 and report.unchanged["macro"] == 1
    assert not any(p.startswith("/helpdesk/attachments/") for p in freshdesk.requests[asked:])


def test_a_dry_run_writes_nothing_and_downloads_no_image(freshdesk: FreshdeskServer) -> None:
    report = run_import(source(freshdesk), dry_run=True)

    assert kb_counts() == {k: 0 for k in kb_counts()}
    assert report.created["article"] == 2 and report.created["image"] == 1 and report.created["macro"] == 1
    assert not any(p.startswith("/helpdesk/attachments/") for p in freshdesk.requests)
