"""The FAQ knowledge base and canned responses of `sportello import osticket`, read from a real
MariaDB loaded with osTicket's schema and sample rows (osticket_db.py, tests/fixtures/importers/osticket)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from sportello.automation.models import Macro
from sportello.importers.models import ImportedRecord
from sportello.importers.runner import run_import
from sportello.importers.sources.osticket import OsticketSource
from sportello.kb.models import Article, ArticleFile, ArticleTranslation, Category
from tests.importers.osticket_db import OsticketDb, osticket_database

pytestmark = pytest.mark.django_db


@pytest.fixture
def osticket() -> Iterator[OsticketDb]:
    yield from osticket_database()


def kb_counts() -> dict[str, int]:
    return {
        "categories": Category.objects.count(),
        "articles": Article.objects.count(),
        "translations": ArticleTranslation.objects.count(),
        "files": ArticleFile.objects.count(),
        "macros": Macro.objects.count(),
        "records": ImportedRecord.objects.filter(
            kind__in=("category", "article", "translation", "image", "macro")
        ).count(),
    }


def test_faq_categories_arrive_nested_with_their_translated_names(osticket: OsticketDb) -> None:
    report = run_import(OsticketSource(osticket.url))

    printers = Category.objects.get(name="Printers", parent=None)
    assert printers.names == {"de": "Drucker"}
    assert Category.objects.get(name="Paper trays").parent == printers
    assert Category.objects.get(name="Staff only").parent is None
    assert report.created["category"] == 3


def test_an_faq_arrives_with_its_translation_inline_image_and_files(osticket: OsticketDb) -> None:
    report = run_import(OsticketSource(osticket.url))

    english = ArticleTranslation.objects.get(language="en", title="How do I clear a paper jam?")
    article = english.article
    assert article.category.name == "Paper trays" and article.visibility == "public" and english.is_published
    assert sorted(article.tags.values_list("name", flat=True)) == ["jam", "printer"]
    assert article.created_at == datetime(2023, 2, 2, 9, tzinfo=UTC)
    german = ArticleTranslation.objects.get(article=article, language="de")
    assert german.title == "Wie behebe ich einen Papierstau?" and german.is_published
    assert "<b>vordere</b>" in german.body_html
    files = {f.filename: f for f in ArticleFile.objects.filter(article=article)}
    assert sorted(files) == ["jam-checklist.pdf", "jam-diagram.png", "stau-anleitung.pdf"]
    image = files["jam-diagram.png"]
    assert image.is_image and image.file.read() == b"\x89PNG\r\n\x1a\n diagram"
    assert files["jam-checklist.pdf"].file.read() == b"%PDF-1.4 jam checklist"
    # The image is shown in both texts from here; every file is linked after each text, a German
    # file after the German text only.
    for translation in (english, german):
        assert f'src="{image.url()}"' in translation.body_html and "cid:" not in translation.body_html
        assert files["jam-checklist.pdf"].url() in translation.body_html
        assert "jam-checklist.pdf</a>" in translation.body_html
        assert "/file.php" not in translation.body_html
    assert files["stau-anleitung.pdf"].url() in german.body_html
    assert "stau-anleitung.pdf" not in english.body_html
    # Sanitized as the KB does; an image from elsewhere stays where it is.
    assert "<script>" not in english.body_html and "https://cdn.example.org/logo.png" in english.body_html
    # French is not one of this help desk's languages: reported, the rest still comes.
    assert not ArticleTranslation.objects.filter(article=article, language="fr").exists()
    assert {"id": "1:fr_FR", "reason": "article 1: language 'fr_FR' is not one of en, it, de, bg"} in report.reasons[
        "translation"
    ]
    assert report.created["image"] == 3


def test_internal_faqs_and_faqs_of_private_categories_are_for_agents(osticket: OsticketDb) -> None:
    report = run_import(OsticketSource(osticket.url))

    toner = ArticleTranslation.objects.get(title="Which toner do we order?")  # listed as Internal
    assert toner.article.visibility == "internal" and toner.is_published
    contacts = ArticleTranslation.objects.get(title="Escalation contacts")  # Featured, in a private category
    assert contacts.article.visibility == "internal" and contacts.article.category.name == "Staff only"
    assert not ArticleTranslation.objects.filter(title="An FAQ whose category is gone").exists()
    assert {"id": "4", "reason": "its category category:99 was not imported"} in report.reasons["article"]
    assert report.created["article"] == 3


def test_canned_responses_become_macros_and_what_they_lose_is_reported(osticket: OsticketDb) -> None:
    report = run_import(OsticketSource(osticket.url))

    thanks = Macro.objects.get(name="Thanks for writing")
    assert thanks.active and thanks.actions == [] and thanks.owner is None
    assert "Hello {{ customer.first_name }}," in thanks.body
    assert "ticket {{ ticket.number }} is with us (%{ticket.sla})." in thanks.body and "<p>" not in thanks.body
    assert Macro.objects.get(name="Returns").body == "Please fill in the attached form."
    assert not Macro.objects.get(name="Old greeting").active  # disabled in osTicket
    unmapped = {value for (what, value) in report.unmapped if what == "macro action"}
    assert "variable %{ticket.sla} (macro 'Thanks for writing')" in unmapped
    assert "attachments returns-form.pdf (macro 'Returns')" in unmapped
    assert "restriction to department 2 (macro 'Returns')" in unmapped
    assert report.created["macro"] == 3


def test_a_second_run_imports_nothing_twice_and_since_brings_what_changed(osticket: OsticketDb) -> None:
    run_import(OsticketSource(osticket.url))
    first = kb_counts()

    again = run_import(OsticketSource(osticket.url), restart=True)
    assert kb_counts() == first
    assert again.created["article"] == 0 and again.unchanged["article"] == 3 and again.unchanged["macro"] == 3
    assert again.created["image"] == 0

    osticket.execute(
        "UPDATE ost_faq SET answer = '<p>Order the <i>TN-2430</i> toner.</p>', updated = '2023-06-01 09:00:00' "
        "WHERE faq_id = 2"
    )
    osticket.execute(
        "UPDATE ost_canned_response SET isenabled = 1, updated = '2023-06-01 09:00:00' WHERE canned_id = 3"
    )
    delta = run_import(OsticketSource(osticket.url), since=datetime(2023, 5, 1, tzinfo=UTC))

    assert "TN-2430" in ArticleTranslation.objects.get(title="Which toner do we order?").body_html
    assert Macro.objects.get(name="Old greeting").active
    assert delta.updated["translation"] == 1 and delta.updated["macro"] == 1
    # The others, unchanged since, were not looked at.
    assert delta.unchanged["translation"] == 0 and delta.unchanged["macro"] == 0 and delta.unchanged["category"] == 3
    assert kb_counts() == first


def test_a_dry_run_writes_nothing_and_reads_no_file(osticket: OsticketDb) -> None:
    report = run_import(OsticketSource(osticket.url), dry_run=True)

    assert kb_counts() == {k: 0 for k in kb_counts()}
    assert report.created["article"] == 3 and report.created["image"] == 3 and report.created["macro"] == 3


def test_without_the_knowledge_base_only_tickets_come(osticket: OsticketDb) -> None:
    run_import(OsticketSource(osticket.url, kb=False))
    assert kb_counts() == {k: 0 for k in kb_counts()}
