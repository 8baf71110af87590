"""Help-centre articles in the chat widget while the visitor types, and deflections from the chat."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.test import Client

from sportello.kb.models import Deflection, DeflectionSource
from sportello.kb.services import ArticleText, count_deflections, create_article
from tests.chat.conftest import receive_until, visitor_socket

pytestmark = pytest.mark.django_db(transaction=True)


def suggestions(web: Client, q: str, lang: str = "en", key: str = "website") -> list[dict]:
    response = web.get(f"/chat/suggest/{key}", {"q": q, "lang": lang})
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    return response.json()["articles"]


def test_the_widget_gets_at_most_three_public_articles_in_the_visitors_language(
    chat_channel, agent, invoices, invoice_article, internal_article, draft_article
):
    web = Client()  # the widget, from any website
    found = suggestions(web, "cannot download my invoice")
    assert [a["title"] for a in found] == ["Downloading your invoices"]  # not the internal one, not the draft
    article = found[0]
    assert article["id"] == invoice_article.article_id
    assert article["url"] == f"http://testserver{invoice_article.public_path()}"
    assert "<" not in article["snippet"] and "invoice" in article["snippet"].lower()
    assert article["method"] in ("text", "meaning")  # handed back with "this solved my problem"

    assert [a["title"] for a in suggestions(web, "fatture", lang="it")] == ["Scaricare le fatture"]
    assert suggestions(web, "Rechnungen", lang="de") == []  # the German translation is a draft
    assert suggestions(web, "invoice", lang="xx")[0]["title"] == "Downloading your invoices"  # unknown: default
    assert suggestions(web, "in") == []  # too short to search
    assert suggestions(web, "") == [] and suggestions(web, "\x00<script>" * 50) == []

    for number in range(4):
        create_article(
            agent, category=invoices, text=ArticleText("en", f"Invoice topic {number}", "About invoices."), publish=True
        )
    assert len(suggestions(web, "invoice")) == 3
    assert web.get("/chat/suggest/nope", {"q": "invoice"}).status_code == 404


def test_this_solved_my_problem_records_a_chat_deflection_once_per_visitor(
    chat_channel, agent, invoice_article, internal_article
):
    async def tokens() -> list[str]:
        found = []
        for _ in range(2):
            visitor = visitor_socket()
            assert (await visitor.connect())[0]
            await visitor.send_json_to({"type": "hello", "language": "it"})
            found.append((await receive_until(visitor, "welcome"))["token"])
            await visitor.disconnect()
        return found

    token, other_token = async_to_sync(tokens)()
    web = Client()
    url = "/chat/solved/website"
    article = invoice_article.article_id

    answer = web.post(url, {"token": token, "article": article, "q": "scaricare fattura", "lang": "it"})
    assert answer.status_code == 200 and answer.json() == {"ok": True}
    assert answer["Access-Control-Allow-Origin"] == "*"
    deflection = Deflection.objects.get()
    assert deflection.source == DeflectionSource.CHAT and deflection.article_id == article
    assert deflection.query == "scaricare fattura" and deflection.language == "it"

    assert web.post(url, {"token": token, "article": article}).status_code == 200  # again: still one
    forged = web.post(url, {"token": other_token, "article": article, "method": "<forged>"})
    assert forged.status_code == 422 and "Unknown method" in forged.json()["error"]
    answer = web.post(url, {"token": other_token, "article": article, "method": "meaning"})  # another visitor
    assert answer.status_code == 200
    assert sorted(Deflection.objects.values_list("method", flat=True)) == ["", "meaning"]
    assert count_deflections() == {"chat": 2, "total": 2}

    assert web.post(url, {"token": token, "article": internal_article.article_id}).status_code == 404
    assert web.post(url, {"token": token, "article": "x"}).status_code == 404
    assert web.post(url, {"token": "forged", "article": article}).status_code == 404
    assert web.post("/chat/solved/nope", {"token": token, "article": article}).status_code == 404
    assert web.get(url).status_code == 405
    assert Deflection.objects.count() == 2
