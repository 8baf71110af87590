"""The knowledge base and macros of `sportello import zendesk` (zendesk_server.py, help_center.json, macros.json)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.core.management import call_command

from sportello.automation.models import Macro
from sportello.importers.models import ImportedRecord
from sportello.importers.runner import run_import
from sportello.importers.sources.zendesk import ZendeskSource
from sportello.kb.models import Article, ArticleFile, ArticleTranslation, Category, Revision
from sportello.tickets.models import Status
from tests.importers.zendesk_server import EMAIL, TOKEN, ZendeskServer

pytestmark = pytest.mark.django_db


def source(server: ZendeskServer) -> ZendeskSource:
    return ZendeskSource(server.url, email=EMAIL, token=TOKEN, sleep=lambda s: None)


def kb_counts() -> dict[str, int]:
    return {
        "categories": Category.objects.count(),
        "articles": Article.objects.count(),
        "translations": ArticleTranslation.objects.count(),
        "files": ArticleFile.objects.count(),
        "revisions": Revision.objects.count(),
        "macros": Macro.objects.count(),
        "records": ImportedRecord.objects.count(),
    }


def test_an_article_arrives_with_its_translations_and_images(zendesk: ZendeskServer) -> None:
    report = run_import(source(zendesk))

    general = Category.objects.get(name="General", parent=None)
    printing = Category.objects.get(name="Printing")
    assert printing.parent == general
    assert general.names == {"it": "Generale"} and printing.names == {"de": "Drucken"}
    # Zendesk nests sections; the KB nests one level: a section in a section goes beside its parent.
    assert Category.objects.get(name="Paper jams").parent == general

    english = ArticleTranslation.objects.get(language="en", title="Printing Guide")
    article = english.article
    assert article.category == printing and article.visibility == "public"
    assert sorted(article.tags.values_list("name", flat=True)) == ["guide", "printer"]
    assert english.is_published
    italian = ArticleTranslation.objects.get(article=article, language="it")
    assert italian.title == "Guida alla stampa" and italian.is_published
    assert not article.translations.filter(language="fr").exists()  # not a language of this KB: reported
    assert any("'fr'" in row["reason"] for row in report.reasons["translation"])

    # Each image the account kept is stored once in the KB's storage, and both languages show it from here.
    files = {f.filename: f for f in ArticleFile.objects.filter(article=article)}
    assert sorted(files) == ["printer.png", "tray.gif"]
    assert files["printer.png"].is_image and files["printer.png"].file.read() == b"\x89PNG\r\n\x1a\n a printer"
    assert files["tray.gif"].content_type == "image/gif"
    for translation in (english, italian):
        assert files["printer.png"].url() in translation.body_html
        assert "article_attachments" not in translation.body_html
    assert files["tray.gif"].url() in italian.body_html
    # An image from elsewhere on the web stays where it is; the body is sanitized as the KB's are.
    assert 'src="https://images.example.org/logo.png"' in english.body_html
    assert "<script>" not in english.body_html and "alert" not in english.body_html
    assert "<strong>off</strong>" in english.body_html
    assert "5 * 3 = 15" in english.body_html  # HTML is not read as Markdown

    agents_only = ArticleTranslation.objects.get(title="Clearing a jam (agents)")
    assert agents_only.article.visibility == "internal" and not agents_only.is_published
    assert agents_only.article.category.name == "Paper jams"

    counts = report.as_dict()["counts"]
    assert counts["category"]["created"] == 3 and counts["article"]["created"] == 2
    assert counts["translation"]["created"] == 3 and counts["image"]["created"] == 2


def test_a_macro_arrives_with_its_actions_and_what_cannot_be_mapped_is_reported(zendesk: ZendeskServer) -> None:
    report = run_import(source(zendesk))

    macro = Macro.objects.get(name="Printer on fire")
    johnny = ImportedRecord.objects.get(kind="agent", source_id="35436").local_id
    djs = ImportedRecord.objects.get(kind="group", source_id="211").local_id
    pending = Status.objects.get(slug=macro.actions[0]["status"])
    assert pending.category == "pending"
    assert macro.actions == [
        {"type": "set_status", "status": pending.slug},
        {"type": "set_priority", "priority": 3},
        {"type": "set_group", "group": djs},
        {"type": "set_assignee", "assignee": johnny},
        {"type": "add_tags", "tags": ["printer", "fire"]},
    ]
    assert macro.body == (
        "Hi {{ customer.first_name }}, about ticket {{ ticket.number }}: unplug it. {{ticket.organization.name}}"
    )
    assert macro.owner is None and macro.active
    # Restricted to one agent in Zendesk: that agent's own macro here.
    assert Macro.objects.get(name="Close and Save").owner_id == johnny

    unmapped = {value for (what, value) in report.unmapped if what == "macro action"}
    assert "subject=\"Printer on fire\" (macro 'Printer on fire')" in unmapped
    assert "custom_fields_360005=\"hardware\" (macro 'Printer on fire')" in unmapped
    assert "placeholder {{ticket.organization.name}} (macro 'Printer on fire')" in unmapped
    assert any("cannot map macro action 'subject" in line for line in report.lines())


def test_a_second_run_imports_nothing_twice(zendesk: ZendeskServer) -> None:
    run_import(source(zendesk))
    first = kb_counts()
    asked = len(zendesk.requests)

    report = run_import(source(zendesk))

    assert kb_counts() == first
    assert sum(report.created.values()) == 0 and sum(report.updated.values()) == 0
    assert report.unchanged["category"] == 3 and report.unchanged["article"] == 2
    assert report.unchanged["translation"] == 3 and report.unchanged["macro"] == 2
    assert not any(path.startswith("/hc/") for path in zendesk.requests[asked:])  # no image downloaded again


def test_a_changed_translation_is_updated_in_place(zendesk: ZendeskServer) -> None:
    run_import(source(zendesk))
    first = kb_counts()
    italian = zendesk.help_center["translations"]["35467"][1]
    italian["title"] = "Guida alla stampa (nuova)"
    italian["updated_at"] = "2013-02-02T00:00:00Z"

    report = run_import(source(zendesk))

    assert ArticleTranslation.objects.get(language="it").title == "Guida alla stampa (nuova)"
    assert report.updated["translation"] == 1 and report.unchanged["translation"] == 2
    after = kb_counts()
    assert after["revisions"] == first["revisions"] + 1
    assert {k: v for k, v in after.items() if k != "revisions"} == {k: v for k, v in first.items() if k != "revisions"}


def test_a_dry_run_counts_the_knowledge_base_and_writes_nothing(zendesk: ZendeskServer) -> None:
    report = run_import(source(zendesk), dry_run=True)

    assert kb_counts() == {k: 0 for k in kb_counts()}
    counts = report.as_dict()["counts"]
    assert counts["article"]["created"] == 2 and counts["image"]["created"] == 2 and counts["macro"]["created"] == 2
    assert not any(path.startswith("/hc/article_attachments/") for path in zendesk.requests)


def test_a_missing_image_and_unreadable_rows_are_reported_not_a_crash(zendesk: ZendeskServer) -> None:
    del zendesk.help_center["files"]["/hc/article_attachments/4408/tray.gif"]  # a 404
    zendesk.help_center["categories"].append({"name": "No id"})
    zendesk.help_center["articles"].append({"title": "No id either", "section_id": 3457836})

    report = run_import(source(zendesk))

    italian = ArticleTranslation.objects.get(language="it", title="Guida alla stampa")
    assert "/hc/article_attachments/4408/tray.gif" in italian.body_html  # kept where it was
    assert ArticleFile.objects.filter(article=italian.article).count() == 1  # the printer
    assert [row["id"] for row in report.reasons["image"]] == ["/hc/article_attachments/4408/tray.gif"]
    assert "404" in report.reasons["image"][0]["reason"]
    assert report.reasons["category"] == [{"id": "?", "reason": "a category without an id"}]
    assert report.reasons["article"][0]["id"] == "?"
    assert Article.objects.count() == 2


def test_the_command_reports_the_knowledge_base_and_macros(zendesk: ZendeskServer, tmp_path, capsys) -> None:
    path = tmp_path / "report.json"
    call_command(
        "import",
        "zendesk",
        "--url",
        zendesk.url,
        "--email",
        EMAIL,
        "--token",
        TOKEN,
        "--dry-run",
        "--report",
        str(path),
    )
    out = capsys.readouterr().out
    assert "articles: 2 would be created" in out and "macros: 2 would be created" in out
    assert "categories: 3 would be created" in out and "images: 2 would be created" in out
    assert "cannot map macro action 'subject=" in out
    assert json.loads(path.read_text())["counts"]["translation"]["created"] == 3
    assert Article.objects.count() == 0 and Macro.objects.count() == 0


def test_an_import_stopped_in_the_knowledge_base_finishes_without_duplicates(zendesk: ZendeskServer) -> None:
    from sportello.importers.sources.tabular import SourceError

    second = zendesk.help_center["translations"].pop("35468")  # Zendesk answers 404: the import stops there
    with pytest.raises(SourceError, match="404"):
        run_import(source(zendesk))
    assert Article.objects.count() == 1 and Macro.objects.count() == 0

    zendesk.help_center["translations"]["35468"] = second
    report = run_import(source(zendesk))

    assert report.unchanged["article"] == 1 and report.created["article"] == 1
    assert kb_counts()["articles"] == 2 and ArticleTranslation.objects.count() == 3
    assert ArticleFile.objects.count() == 2 and Macro.objects.count() == 2


def test_since_brings_only_the_articles_and_macros_changed_since(zendesk: ZendeskServer) -> None:
    run_import(source(zendesk))
    first = kb_counts()
    later = zendesk.help_center["articles"][1]
    later["updated_at"] = later["edited_at"] = "2021-03-01T00:00:00Z"
    zendesk.help_center["translations"]["35468"][0]["title"] = "Scanning, revised"
    zendesk.help_center["translations"]["35468"][0]["updated_at"] = "2021-03-01T00:00:00Z"
    zendesk.requests.clear()

    report = run_import(source(zendesk), since=datetime(2019, 12, 1, tzinfo=UTC))

    assert ArticleTranslation.objects.filter(title="Scanning, revised").exists()
    assert report.updated["translation"] == 1 and report.updated["article"] + report.unchanged["article"] == 1
    assert report.as_dict()["counts"]["macro"]["unchanged"] == 1  # the one of 2020; the 2019 one left out
    assert any("/articles/35468/translations" in r for r in zendesk.requests)
    assert not any("/articles/35467/translations" in r for r in zendesk.requests)  # unchanged: not asked
    assert kb_counts()["articles"] == first["articles"]
