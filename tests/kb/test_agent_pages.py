"""Agents' KB pages: list, editor with preview, suggestions on the ticket; everyone else refused."""

from __future__ import annotations

import pytest

from sportello.kb.models import ArticleTranslation, PublishState
from tests.conftest import client_for

AGENT_PAGES = ["/help/agent/", "/help/agent/new"]


@pytest.mark.parametrize("path", AGENT_PAGES)
def test_agent_pages_refuse_strangers_and_customers(path, stranger, customer):
    assert client_for(stranger).get(path).status_code == 403
    assert client_for(customer.user).get(path).status_code == 403
    assert client_for(None).get(path).status_code == 302  # to sign in


def test_edit_preview_and_suggestions_refuse_strangers(stranger, invoice_article, ticket):
    client = client_for(stranger)
    assert client.get(f"/help/agent/{invoice_article.article_id}/en/").status_code == 403
    assert client.post("/help/agent/preview", {"body": "x"}).status_code == 403
    assert client.get(f"/help/agent/tickets/{ticket.number}/suggestions").status_code == 403


def test_agent_lists_articles_with_their_languages(agent, invoice_article, internal_article):
    html = client_for(agent).get("/help/agent/").content.decode()
    assert "Downloading your invoices" in html and "Refund invoices by hand" in html


def test_agent_creates_edits_and_publishes(agent, invoices):
    client = client_for(agent)
    data = {
        "category": invoices.pk, "visibility": "public", "tags": "printer, paper", "language": "en",
        "title": "Paper jams", "slug": "", "summary": "", "body": "Open the tray.", "action": "save",
    }  # fmt: skip
    response = client.post("/help/agent/new", data)
    assert response.status_code == 302
    item = ArticleTranslation.objects.get(slug="paper-jams")
    assert item.state == PublishState.DRAFT
    assert sorted(item.article.tags.values_list("name", flat=True)) == ["paper", "printer"]
    response = client.post(response["Location"], {**data, "body": "Open the *tray*.", "action": "publish"})
    item.refresh_from_db()
    assert item.state == PublishState.PUBLISHED and item.body_html == "<p>Open the <em>tray</em>.</p>"
    page = client.get(f"/help/agent/{item.article_id}/en/").content.decode()
    assert "Published" in page and "Alice Agent" in page  # revision history names the author
    # A second language is a tab of the same article.
    response = client.post(f"/help/agent/{item.article_id}/it/", {**data, "language": "it", "title": "Carta inceppata"})
    assert item.article.translations.filter(language="it").exists()


def test_light_agent_reads_but_cannot_save(light_agent, invoice_article):
    client = client_for(light_agent)
    url = f"/help/agent/{invoice_article.article_id}/en/"
    assert client.get(url).status_code == 200
    assert client.post(url, {"title": "x"}).status_code == 403


def test_preview_is_sanitized(agent):
    html = client_for(agent).post("/help/agent/preview", {"body": "**hi** <script>alert(1)</script>"}).content.decode()
    assert "<strong>hi</strong>" in html and "<script" not in html


def test_ticket_page_loads_suggestions(agent, ticket):
    html = client_for(agent).get(f"/tickets/{ticket.number}/").content.decode()
    assert f'hx-get="/help/agent/tickets/{ticket.number}/suggestions"' in html


def test_suggestions_match_the_ticket_and_offer_a_link_to_insert(
    agent, customer, invoices, invoice_article, internal_article
):
    from sportello.customers.services import Sender
    from sportello.tickets.intake import Inbound, ingest

    found = ingest(
        Inbound(channel="web", sender=Sender(name="C", email="carla@example.com"), subject="Invoice download",
                body_text="Where can I download my invoice?", acknowledge=False)
    ).ticket  # fmt: skip
    html = client_for(agent).get(f"/help/agent/tickets/{found.number}/suggestions").content.decode()
    assert "Downloading your invoices" in html
    assert 'data-link="http://127.0.0.1:8000/help/en/invoices/downloading-your-invoices"' in html
    assert "Refund invoices by hand" in html and "internal" in html  # agents see internal ones, marked


def test_suggestions_respect_ticket_access(restricted_agent, ticket):
    assert client_for(restricted_agent).get(f"/help/agent/tickets/{ticket.number}/suggestions").status_code == 404
