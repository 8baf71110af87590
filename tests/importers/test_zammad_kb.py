"""The knowledge base of `sportello import zammad`, read as Zammad's source serves it (zammad_server.py,
tests/fixtures/importers/zammad/knowledge_base.json, which cites the controllers and specs)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sportello.importers.models import ImportedRecord
from sportello.importers.runner import run_import
from sportello.importers.sources.zammad import ZammadSource
from sportello.kb.models import Article, ArticleFile, ArticleTranslation, Category
from tests.importers.zammad_server import TOKEN, ZammadServer

pytestmark = pytest.mark.django_db


def source(server: ZammadServer) -> ZammadSource:
    return ZammadSource(server.url, token=TOKEN, sleep=lambda s: None)


def kb_counts() -> dict[str, int]:
    return {
        "categories": Category.objects.count(),
        "articles": Article.objects.count(),
        "translations": ArticleTranslation.objects.count(),
        "files": ArticleFile.objects.count(),
        "records": ImportedRecord.objects.filter(kind__in=("category", "article", "translation", "image")).count(),
    }


def test_categories_arrive_with_their_names_in_each_language(zammad: ZammadServer) -> None:
    report = run_import(source(zammad))

    started = Category.objects.get(name="Getting started", parent=None)
    assert started.names == {"de": "Erste Schritte"}
    accounts = Category.objects.get(name="Accounts")
    assert accounts.parent == started and accounts.names == {"de": "Konten"}
    # Zammad nests deeper than the KB here: "Passwords" (under Accounts) goes beside its parent.
    assert Category.objects.get(name="Passwords").parent == started
    assert Category.objects.get(name="Internal procedures").parent is None
    assert report.created["category"] == 4


def test_an_answer_arrives_with_its_translations_inline_image_and_attachment(zammad: ZammadServer) -> None:
    report = run_import(source(zammad))

    english = ArticleTranslation.objects.get(language="en", title="Reset your password")
    article = english.article
    assert article.category.name == "Passwords" and article.visibility == "public" and english.is_published
    assert sorted(article.tags.values_list("name", flat=True)) == ["account", "password"]
    assert article.created_at == datetime(2024, 1, 5, 10, tzinfo=UTC)
    german = ArticleTranslation.objects.get(article=article, language="de")
    assert german.title == "Passwort zurücksetzen" and german.is_published
    assert "<b>Einstellungen</b>" in german.body_html
    # The inline image and the attached PDF are stored here, once each, and both texts point to them.
    files = {f.filename: f for f in ArticleFile.objects.filter(article=article)}
    assert sorted(files) == ["image-30", "reset-checklist.pdf"]
    image, pdf = files["image-30"], files["reset-checklist.pdf"]
    assert image.is_image and image.file.read() == "\u0089PNG\r\n\u001a\n the reset screen".encode("latin-1")
    assert not pdf.is_image and pdf.file.read() == b"%PDF-1.4 reset checklist"
    for translation in (english, german):
        assert image.url() in translation.body_html and pdf.url() in translation.body_html
        assert "/api/v1/attachments/" not in translation.body_html
        assert "reset-checklist.pdf</a>" in translation.body_html
    # Sanitized as the KB does; an image from elsewhere on the web stays where it is.
    assert "<script>" not in english.body_html and "https://cdn.example.org/logo.png" in english.body_html
    # French is not one of this help desk's languages: reported, the rest still comes.
    assert not ArticleTranslation.objects.filter(article=article, language="fr").exists()
    assert {"id": "13", "reason": "article 1: language 'fr-fr' is not one of en, it, de, bg"} in report.reasons[
        "translation"
    ]
    # Each answer's texts were asked for with its own content ids.
    assert "/api/v1/knowledge_bases/1/answers/1?include_contents=111%2C112%2C113" in zammad.requests


def test_internal_draft_scheduled_and_archived_answers(zammad: ZammadServer) -> None:
    report = run_import(source(zammad))

    internal = ArticleTranslation.objects.get(title="Refunds over 100 EUR")
    assert internal.article.visibility == "internal" and internal.is_published
    assert internal.article.category.name == "Internal procedures"
    draft = ArticleTranslation.objects.get(title="Billing questions")
    assert not draft.is_published
    scheduled = ArticleTranslation.objects.get(title="Prices in 2099")  # published in the future: a draft here
    assert not scheduled.is_published
    assert not ArticleTranslation.objects.filter(title="Prices in 2023").exists()
    assert {"id": "4", "reason": "archived in Zammad"} in report.reasons["article"]
    assert report.created["article"] == 4 and report.created["translation"] == 5 and report.created["image"] == 2


def test_a_second_run_imports_nothing_twice_and_a_changed_text_is_saved_again(zammad: ZammadServer) -> None:
    run_import(source(zammad))
    first = kb_counts()
    asked = len(zammad.requests)

    report = run_import(source(zammad))
    assert kb_counts() == first
    assert report.created["article"] == 0 and report.unchanged["article"] == 4
    assert not any(r.startswith("/api/v1/attachments/") for r in zammad.requests[asked:])

    zammad.kb_data["contents"]["rows"]["121"]["body"] = "<p>Ask a team lead above <b>200 EUR</b>.</p>"
    zammad.kb_assets("KnowledgeBaseAnswerTranslation")["21"]["updated_at"] = "2024-03-01T09:00:00.000Z"
    asked = len(zammad.requests)
    report = run_import(source(zammad), since=datetime(2024, 2, 1, tzinfo=UTC))

    assert "200 EUR" in ArticleTranslation.objects.get(title="Refunds over 100 EUR").body_html
    assert report.updated["translation"] == 1 and kb_counts() == first
    shown = [r for r in zammad.requests[asked:] if "/answers/" in r]
    assert shown == ["/api/v1/knowledge_bases/1/answers/2?include_contents=121"]  # only the changed answer


def test_a_dry_run_writes_nothing_and_downloads_nothing(zammad: ZammadServer) -> None:
    report = run_import(source(zammad), dry_run=True)

    assert kb_counts() == {k: 0 for k in kb_counts()}
    assert report.created["article"] == 4 and report.created["image"] == 2
    assert not any(r.startswith("/api/v1/attachments/") for r in zammad.requests)


def test_a_token_without_the_editor_permission_brings_what_it_is_shown(zammad: ZammadServer) -> None:
    zammad.kb_editor = False
    report = run_import(source(zammad))

    assert ArticleTranslation.objects.filter(title="Reset your password").exists()
    assert ArticleTranslation.objects.filter(title="Refunds over 100 EUR").exists()
    assert not ArticleTranslation.objects.filter(title="Billing questions").exists()  # drafts are not shown to it
    assert report.created["article"] == 2


def test_an_instance_without_a_knowledge_base_imports_none(zammad: ZammadServer) -> None:
    zammad.kb = False
    run_import(source(zammad))

    assert kb_counts() == {k: 0 for k in kb_counts()}
    assert not any("/answers/" in r or r == "/api/v1/locales" for r in zammad.requests)


def test_an_answer_gone_since_the_list_is_reported_and_the_others_come(zammad: ZammadServer) -> None:
    zammad.kb_assets("KnowledgeBaseAnswer")["9"] = {**zammad.kb_assets("KnowledgeBaseAnswer")["3"], "id": 9}
    zammad.kb_gone.add("9")  # listed by the init, deleted before its texts are asked for
    report = run_import(source(zammad))

    assert {
        "id": "9",
        "reason": "Zammad answered 404 to /api/v1/knowledge_bases/1/answers/9: "
        "Couldn't find KnowledgeBase::Answer with 'id'=9",
    } in report.reasons["article"]
    assert report.created["article"] == 4
