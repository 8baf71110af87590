"""The public help centre over HTTP: clean URLs, languages, visibility, sitemap, feedback."""

from __future__ import annotations

import re

import pytest

from sportello.kb.models import Feedback
from sportello.kb.services import ArticleText, create_article
from sportello.kb.views import CATEGORY_PAGE_SIZE, HOME_PER_CATEGORY
from tests.conftest import client_for


def sitemap_locs(xml: str) -> list[str]:
    """The addresses in a sitemap or sitemap index, as paths with their query (for the test client)."""
    locs = re.findall(r"<loc>(.*?)</loc>", xml)
    return [loc.replace("http://127.0.0.1:8000", "").replace("&amp;", "&") for loc in locs]


def test_help_redirects_to_the_browser_language(client):
    response = client.get("/help/", headers={"accept-language": "de-DE,de;q=0.9,en;q=0.5"})
    assert response.status_code == 302 and response["Location"] == "/help/de/"
    assert client.get("/help/", headers={"accept-language": "fr"})["Location"] == "/help/en/"


def test_article_page_has_clean_url_meta_and_language_switch(client, invoice_article):
    response = client.get("/help/en/invoices/downloading-your-invoices")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<strong>Account &gt; Invoices</strong>" in html
    assert '<meta name="description" content="Open Account &gt; Invoices and press Download.' in html
    assert 'name="viewport"' in html
    assert 'href="/help/it/invoices/scaricare-le-fatture"' in html  # switch to Italian
    assert "/help/de/invoices/rechnungen-herunterladen" not in html  # the German draft is not offered
    assert '<html lang="en">' in html


def test_article_in_italian_renders_in_italian(client, invoice_article):
    response = client.get("/help/it/invoices/scaricare-le-fatture")
    assert response.status_code == 200 and '<html lang="it">' in response.content.decode()


@pytest.mark.parametrize(
    "path",
    [
        "/help/en/invoices/refund-invoices-by-hand",  # internal
        "/help/en/invoices/invoice-drafts-upcoming",  # draft
        "/help/de/invoices/rechnungen-herunterladen",  # a draft translation of a public article
        "/help/en/billing/downloading-your-invoices",  # wrong category
        "/help/fr/invoices/downloading-your-invoices",  # no such language
    ],
)
def test_what_is_not_public_is_not_found(client, invoice_article, internal_article, draft_article, path):
    assert client.get(path).status_code == 404


def test_stranger_signed_in_cannot_see_internal_articles(stranger, internal_article):
    assert client_for(stranger).get(internal_article.public_path()).status_code == 404


def test_home_and_category_list_public_articles_only(client, invoice_article, internal_article, draft_article):
    for path in ("/help/en/", "/help/en/invoices/", "/help/en/billing/"):
        html = client.get(path).content.decode()
        assert "Downloading your invoices" in html, path
        assert "Refund invoices" not in html and "Invoice drafts" not in html


def test_category_name_is_translated(client, invoice_article):
    assert "Fatturazione" in client.get("/help/it/billing/").content.decode()


def test_search_page_shows_highlighted_public_results_only(client, invoice_article, internal_article):
    html = client.get("/help/en/search", {"q": "invoice"}).content.decode()
    assert "Downloading your invoices" in html and "Refund" not in html and "<mark>" in html


def test_sitemap_lists_published_public_translations_only(client, invoice_article, internal_article, draft_article):
    response = client.get("/help/sitemap.xml")
    assert response["Content-Type"].startswith("application/xml")
    xml = "".join(client.get(loc).content.decode() for loc in sitemap_locs(response.content.decode()))
    assert "http://127.0.0.1:8000/help/en/invoices/downloading-your-invoices" in xml
    assert "/help/it/invoices/scaricare-le-fatture" in xml
    assert "refund" not in xml and "drafts" not in xml and "rechnungen" not in xml


def test_feedback_is_counted_once_per_session(client, invoice_article):
    url = f"/help/articles/{invoice_article.article_id}/feedback"
    client.get(invoice_article.public_path())
    assert client.post(url, {"helpful": "yes"}).status_code == 200
    client.post(url, {"helpful": "no"})
    client_for(None).post(url, {"helpful": "yes"})
    votes = sorted(Feedback.objects.values_list("helpful", flat=True))
    assert votes == [False, True]


def test_feedback_on_internal_article_is_refused(client, internal_article):
    assert client.post(f"/help/articles/{internal_article.article_id}/feedback", {"helpful": "yes"}).status_code == 404


def test_article_page_costs_few_queries(client, invoice_article, django_assert_max_num_queries):
    client.get("/help/en/")  # a session
    with django_assert_max_num_queries(6):
        assert client.get(invoice_article.public_path()).status_code == 200


def test_article_page_with_its_languages_is_one_query(client, invoice_article, django_assert_num_queries):
    """The translation, its article and category, and the other published languages come in one query."""
    client_for(None).get("/help/en/")  # an earlier visitor: the branding is kept per process since
    with django_assert_num_queries(1):
        html = client.get(invoice_article.public_path()).content.decode()
    assert 'hreflang="it" href="/help/it/invoices/scaricare-le-fatture"' in html


def test_home_lists_the_first_articles_of_each_category(client, agent, invoices, invoice_article):
    for n in range(HOME_PER_CATEGORY):
        create_article(agent, category=invoices, publish=True, text=ArticleText("en", f"Topic {n:02}", "Text."))
    html = client.get("/help/en/").content.decode()
    # Same position for all: by title, so "Downloading…" and the first topics but one.
    assert "Downloading your invoices" in html
    assert f"Topic {HOME_PER_CATEGORY - 2:02}" in html and f"Topic {HOME_PER_CATEGORY - 1:02}" not in html


def test_search_page_queries_do_not_grow_with_the_hits(client, agent, invoices, django_assert_num_queries):
    for n in range(6):
        create_article(agent, category=invoices, publish=True, text=ArticleText("en", f"Modem {n}", "Modem help."))
    client_for(None).get("/help/en/")  # an earlier visitor: the branding is kept per process since
    with django_assert_num_queries(2):  # the ranked page of matches, then its translations with their categories
        html = client.get("/help/en/search", {"q": "modem"}).content.decode()
    assert html.count('href="/help/en/invoices/modem-') == 6


def test_a_long_category_comes_in_pages(client, agent, invoices, invoice_article):
    for n in range(CATEGORY_PAGE_SIZE):
        create_article(agent, category=invoices, publish=True, text=ArticleText("en", f"Topic {n:02}", "Text."))
    first = client.get("/help/en/invoices/").content.decode()
    assert first.count('href="/help/en/invoices/') == CATEGORY_PAGE_SIZE
    assert "Downloading your invoices" in first and 'rel="next" href="?page=2"' in first
    second = client.get("/help/en/invoices/", {"page": 2}).content.decode()
    assert second.count('href="/help/en/invoices/') == 1 and f"Topic {CATEGORY_PAGE_SIZE - 1:02}" in second
    assert 'rel="prev" href="?page=1"' in second and "Page 2 of 2" in second
    for bad in ("3", "0", "x", "99999999999999999999"):
        assert client.get("/help/en/invoices/", {"page": bad}).status_code == 404
