"""The sitemap: an index of per-language sitemaps cut into pages, cached until what the public sees changes."""

from __future__ import annotations

from sportello.kb import sitemap
from sportello.kb.models import Category
from sportello.kb.services import (
    ArticleText,
    create_article,
    publish_translation,
    save_translation,
    unpublish_translation,
    update_article,
)
from tests.kb.test_public_pages import sitemap_locs

HOST = "http://127.0.0.1:8000"


def listed(client, language: str) -> str:
    response = client.get(f"/help/sitemap-{language}.xml")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/xml")
    return response.content.decode()


def test_index_names_a_sitemap_per_language_with_public_articles(client, invoice_article, internal_article):
    xml = client.get("/help/sitemap.xml").content.decode()
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex')
    # English and Italian are published; German is a draft, Bulgarian has nothing.
    assert sitemap_locs(xml) == ["/help/sitemap-en.xml", "/help/sitemap-it.xml"]
    assert f"<loc>{HOST}/help/sitemap-en.xml</loc><lastmod>" in xml


def test_language_sitemap_lists_its_language_only(client, invoice_article):
    assert sitemap_locs(listed(client, "it")) == ["/help/it/invoices/scaricare-le-fatture"]
    assert sitemap_locs(listed(client, "en")) == ["/help/en/invoices/downloading-your-invoices"]
    assert sitemap_locs(listed(client, "bg")) == []  # a valid, empty sitemap
    assert client.get("/help/sitemap-fr.xml").status_code == 404


def test_pages_hold_at_most_urls_per_page(client, agent, invoices, invoice_article, monkeypatch):
    monkeypatch.setattr(sitemap, "URLS_PER_PAGE", 2)
    for n in range(3):
        create_article(agent, category=invoices, publish=True, text=ArticleText("en", f"Paging {n}", "Text."))
    index = sitemap_locs(client.get("/help/sitemap.xml").content.decode())
    assert index == ["/help/sitemap-en.xml", "/help/sitemap-en.xml?p=2", "/help/sitemap-it.xml"]
    pages = [sitemap_locs(client.get(loc).content.decode()) for loc in index[:2]]
    assert [len(page) for page in pages] == [2, 2]
    assert len(set(pages[0] + pages[1])) == 4  # every English article once
    for wrong in ("3", "0", "x", "-1"):
        assert client.get("/help/sitemap-en.xml", {"p": wrong}).status_code == 404, wrong


def test_a_cached_sitemap_costs_one_query(client, invoice_article, django_assert_num_queries):
    listed(client, "en")
    client.get("/help/sitemap.xml")
    with django_assert_num_queries(1):  # the public stamp
        listed(client, "en")
    with django_assert_num_queries(1):
        assert client.get("/help/sitemap.xml").status_code == 200


def test_publishing_and_unpublishing_change_the_cached_sitemap(client, agent, invoices, invoice_article):
    assert "downloading-your-invoices" in listed(client, "en")  # now cached
    new = create_article(agent, category=invoices, text=ArticleText("en", "Printer jams", "Open the tray."))
    assert "printer-jams" not in listed(client, "en")  # a draft
    publish_translation(agent, new)
    assert "printer-jams" in listed(client, "en")
    unpublish_translation(agent, invoice_article)
    xml = listed(client, "en")
    assert "printer-jams" in xml and "downloading-your-invoices" not in xml


def test_visibility_category_and_address_changes_reach_the_cached_sitemap(client, agent, invoices, invoice_article):
    assert "downloading-your-invoices" in listed(client, "en")
    save_translation(agent, invoice_article.article, ArticleText("en", "Invoices as PDF", "Text.", slug="pdf-invoices"))
    assert "/help/en/invoices/pdf-invoices" in listed(client, "en")
    other = Category.objects.create(name="Other", slug="other")
    update_article(agent, invoice_article.article, category=other, visibility="public", tags=[])
    assert "/help/en/other/pdf-invoices" in listed(client, "en")
    update_article(agent, invoice_article.article, category=other, visibility="internal", tags=[])
    assert "pdf-invoices" not in listed(client, "en")
    assert sitemap_locs(client.get("/help/sitemap.xml").content.decode()) == []


def test_the_stamp_lives_in_the_database(agent, invoice_article):
    """Each process may have its own local-memory cache: what tells them all of a change is the
    stamp in the database, changed in the same transaction as the change."""
    before = sitemap.current_stamp()
    assert before
    unpublish_translation(agent, invoice_article)
    assert sitemap.current_stamp() != before
