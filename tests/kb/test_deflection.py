"""Deflection: suggestions while typing the web form's subject, and "this solved my problem"."""

from __future__ import annotations

from sportello.kb.models import Deflection
from sportello.kb.services import count_deflections


def test_webform_subject_asks_for_suggestions(client, db):  # the page reads the branding
    html = client.get("/support/new").content.decode()
    assert 'hx-get="/help/suggest"' in html and 'id="kb-suggestions"' in html


def test_suggestions_show_matching_public_articles(client, invoice_article, internal_article):
    response = client.get("/help/suggest", {"subject": "cannot download my invoice"})
    html = response.content.decode()
    assert "Downloading your invoices" in html
    assert "?from=webform&amp;q=cannot%20download%20my%20invoice" in html
    assert "Refund" not in html


def test_suggestions_follow_the_language(client, invoice_article):
    html = client.get("/help/suggest", {"subject": "fatture", "lang": "it"}).content.decode()
    assert "Scaricare le fatture" in html


def test_short_or_empty_subjects_suggest_nothing(client, invoice_article):
    assert client.get("/help/suggest", {"subject": "in"}).content.strip() == b""


def test_article_opened_from_the_form_offers_solved_button(client, invoice_article):
    html = client.get(invoice_article.public_path(), {"from": "webform", "q": "invoice"}).content.decode()
    assert "This solved my problem" in html
    assert "This solved my problem" not in client.get(invoice_article.public_path()).content.decode()


def test_solved_is_counted_once_per_session_and_reported(client, invoice_article):
    url = f"/help/articles/{invoice_article.article_id}/solved"
    client.get(invoice_article.public_path())
    response = client.post(url, {"q": "invoice", "lang": "en", "source": "webform"})
    assert response.status_code == 200 and "Glad it helped" in response.content.decode()
    client.post(url, {"q": "invoice", "lang": "en"})
    assert Deflection.objects.count() == 1
    assert count_deflections() == {"webform": 1, "total": 1}


def test_internal_article_cannot_deflect(client, internal_article):
    assert client.post(f"/help/articles/{internal_article.article_id}/solved").status_code == 404


def test_the_portals_new_request_form_suggests_and_counts_for_the_portal(client, customer, invoice_article):
    client.force_login(customer.user)
    form = client.get("/portal/new").content.decode()
    assert 'hx-get="/help/suggest"' in form and "&quot;source&quot;: &quot;portal&quot;" in form
    assert 'id="kb-suggestions"' in form
    html = client.get("/help/suggest", {"subject": "download invoice", "source": "portal"}).content.decode()
    assert "?from=portal&amp;q=download%20invoice" in html
    article = client.get(invoice_article.public_path(), {"from": "portal", "q": "download invoice"}).content.decode()
    assert 'name="source" value="portal"' in article and 'href="/portal/new"' in article
    client.post(f"/help/articles/{invoice_article.article_id}/solved", {"q": "x", "lang": "en", "source": "portal"})
    assert list(Deflection.objects.values_list("source", flat=True)) == ["portal"]


def test_an_unknown_source_falls_back_to_the_web_form(client, invoice_article):
    html = client.get("/help/suggest", {"subject": "download invoice", "source": "<script>"}).content.decode()
    assert "?from=webform&amp;" in html and "<script>" not in html
    article = client.get(invoice_article.public_path(), {"from": "chat"}).content.decode()
    assert "This solved my problem" not in article  # the chat widget has its own button


def test_the_method_of_the_suggestion_goes_with_this_solved_my_problem(client, invoice_article):
    html = client.get("/help/suggest", {"subject": "cannot download my invoice"}).content.decode()
    # Full text finds it; by meaning too when an encoder is installed: either way the link says which.
    assert "&amp;q=cannot%20download%20my%20invoice&amp;via=text" in html or "&amp;via=meaning" in html
    article = client.get(invoice_article.public_path(), {"from": "webform", "q": "invoice", "via": "meaning"})
    assert 'name="method" value="meaning"' in article.content.decode()
    url = f"/help/articles/{invoice_article.article_id}/solved"
    client.post(url, {"q": "invoice", "lang": "en", "source": "webform", "method": "meaning"})
    assert list(Deflection.objects.values_list("method", flat=True)) == ["meaning"]


def test_a_forged_method_is_dropped_from_the_page_and_refused_when_posted(client, invoice_article):
    article = client.get(invoice_article.public_path(), {"from": "webform", "via": '"><script>'}).content.decode()
    assert "This solved my problem" in article and 'name="method"' not in article and "<script>" not in article
    url = f"/help/articles/{invoice_article.article_id}/solved"
    response = client.post(url, {"q": "invoice", "lang": "en", "source": "webform", "method": "x" * 5000})
    assert response.status_code == 422 and "Unknown method" in response.content.decode()
    assert not Deflection.objects.exists()
    client.post(url, {"q": "invoice", "lang": "en", "source": "webform"})  # no method: recorded, as not known
    assert list(Deflection.objects.values_list("method", flat=True)) == [""]


def test_each_suggestion_says_whether_it_was_found_by_meaning_or_by_text(client, invoice_article, monkeypatch):
    from sportello.semantic import services as semantic

    monkeypatch.setattr(semantic, "nearest_translations", lambda query, language, limit: [(invoice_article.pk, 0.9)])
    html = client.get("/help/suggest", {"subject": "my bill is missing"}).content.decode()
    assert "Downloading your invoices" in html and "&amp;via=meaning" in html and "via=text" not in html
    monkeypatch.setattr(semantic, "nearest_translations", lambda query, language, limit: [])  # no encoder
    html = client.get("/help/suggest", {"subject": "cannot download my invoice"}).content.decode()
    assert "Downloading your invoices" in html and "&amp;via=text" in html and "via=meaning" not in html
