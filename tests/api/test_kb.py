"""The knowledge base over the API: categories, articles, translations, publishing, and who is refused."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sportello.kb.models import Article, ArticleTranslation, Category, Revision
from sportello.kb.search import search_articles
from sportello.kb.services import ArticleText, create_article, save_translation
from tests.api.conftest import API, api_as
from tests.kb.conftest import billing, draft_article, internal_article, invoice_article, invoices  # noqa: F401

pytestmark = pytest.mark.django_db


def ok(response, status: int = 200):  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.content
    return response.json()


# --- Categories -------------------------------------------------------------------------------------


def test_agents_list_categories_with_their_names_per_language(as_agent, billing, invoices):  # noqa: F811
    found = ok(as_agent.get("/kb/categories"))
    assert [(c["slug"], c["parent"]) for c in found] == [("billing", None), ("invoices", billing.pk)]
    assert found[0]["names"] == {"it": "Fatturazione", "de": "Rechnungen"}


def test_admins_create_and_rename_categories(as_admin, billing):  # noqa: F811
    made = ok(
        as_admin.post("/kb/categories", {"name": "Refunds", "parent": billing.pk, "names": {"it": "Rimborsi"}}), 201
    )
    assert (made["slug"], made["parent"], made["names"]) == ("refunds", billing.pk, {"it": "Rimborsi"})
    changed = ok(as_admin.patch(f"/kb/categories/{made['id']}", {"names": {"de": "Erstattungen"}, "parent": None}))
    assert changed["names"] == {"de": "Erstattungen"} and changed["parent"] is None
    assert Category.objects.get(pk=made["id"]).name_in("de") == "Erstattungen"


@pytest.mark.parametrize(
    ("body", "field"),
    [({"name": ""}, "name"), ({"name": "X", "names": {"xx": "?"}}, "names.xx"), ({"name": "X", "color": 1}, "color")],
)
def test_a_bad_category_body_is_422(as_admin, body, field):
    answer = ok(as_admin.post("/kb/categories", body), 422)
    assert field in answer["detail"]


def test_a_taken_address_or_unknown_parent_is_422(as_admin, billing):  # noqa: F811
    assert "taken" in ok(as_admin.post("/kb/categories", {"name": "Billing"}), 422)["detail"]
    assert ok(as_admin.post("/kb/categories", {"name": "X", "parent": 999999}), 422)["field"] == "parent"


def test_an_unknown_category_is_404(as_admin):
    assert ok(as_admin.patch("/kb/categories/999999", {"name": "X"}), 404)["detail"] == "No category 999999"


def test_only_admins_manage_categories(as_agent, as_light, billing):  # noqa: F811
    for api in (as_agent, as_light):
        assert api.post("/kb/categories", {"name": "Mine"}).status_code == 403
        assert api.patch(f"/kb/categories/{billing.pk}", {"name": "Mine"}).status_code == 403
    assert Category.objects.get(pk=billing.pk).name == "Billing"


# --- Articles -----------------------------------------------------------------------------------------


def test_list_filters_by_category_state_language_and_title(
    as_agent,
    billing,  # noqa: F811
    invoices,  # noqa: F811
    invoice_article,  # noqa: F811
    internal_article,  # noqa: F811
    draft_article,  # noqa: F811
):
    def ids(**params):  # type: ignore[no-untyped-def]
        return {item["id"] for item in ok(as_agent.get("/kb/articles", params))["items"]}

    every = {invoice_article.article_id, internal_article.article_id, draft_article.article_id}
    assert ids() == every
    assert ids(category=invoices.pk) == every and ids(category=billing.pk) == set()
    assert ids(state="draft") == {invoice_article.article_id, draft_article.article_id}  # the German draft counts
    assert ids(language="de", state="published") == set()
    assert ids(language="it") == {invoice_article.article_id}
    assert ids(q="REFUND") == {internal_article.article_id}
    first = ok(as_agent.get("/kb/articles", {"q": "downloading"}))["items"][0]
    assert [t["language"] for t in first["translations"]] == ["de", "en", "it"]
    assert first["tags"] == ["billing", "pdf"] and "body" not in first["translations"][0]


def test_pages_walk_every_article_once(as_agent, invoice_article, internal_article, draft_article):  # noqa: F811
    seen, cursor = [], None
    while True:
        page = ok(as_agent.get("/kb/articles", {"size": 2, **({"cursor": cursor} if cursor else {})}))
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(Article.objects.values_list("pk", flat=True)) and len(seen) == 3
    assert ok(as_agent.get("/kb/articles", {"cursor": "garbage"}), 422)["field"] == "cursor"


def test_get_has_every_translation_with_its_text(as_agent, invoice_article):  # noqa: F811
    found = ok(as_agent.get(f"/kb/articles/{invoice_article.article_id}"))
    by_language = {t["language"]: t for t in found["translations"]}
    assert by_language["en"]["state"] == "published" and by_language["de"]["state"] == "draft"
    assert "<strong>Account &gt; Invoices</strong>" in by_language["en"]["body_html"]
    assert by_language["it"]["body"].startswith("Apri **Account")


def test_unknown_article_is_404_and_bad_id_422(as_agent):
    assert ok(as_agent.get("/kb/articles/999999"), 404)["detail"] == "No article 999999"
    assert as_agent.get("/kb/articles/abc").status_code == 422
    assert as_agent.post("/kb/articles/999999/translations/en/publish").status_code == 404


def test_create_update_translate_publish_and_unpublish(as_agent, invoices, billing):  # noqa: F811
    made = ok(
        as_agent.post(
            "/kb/articles",
            {"category": invoices.pk, "language": "en", "title": "Change your address", "body": "Go to *Profile*.",
             "tags": ["Account"], "visibility": "internal"},
        ),
        201,
    )  # fmt: skip
    article_id = made["id"]
    assert made["translations"][0]["state"] == "draft" and made["tags"] == ["account"]
    assert made["visibility"] == "internal"

    changed = ok(as_agent.patch(f"/kb/articles/{article_id}", {"category": billing.pk, "visibility": "public"}))
    assert (changed["category"], changed["visibility"], changed["tags"]) == (billing.pk, "public", ["account"])

    italian = ok(
        as_agent.client.put(
            f"{API}/kb/articles/{article_id}/translations/it",
            {"title": "Cambiare indirizzo", "body": "Vai al *Profilo*.", "note": "prima stesura"},
            content_type="application/json",
        )
    )
    assert (italian["language"], italian["state"], italian["slug"]) == ("it", "draft", "cambiare-indirizzo")
    translation = ArticleTranslation.objects.get(article=article_id, language="it")
    assert Revision.objects.filter(translation=translation, note="prima stesura").exists()

    assert ok(as_agent.post(f"/kb/articles/{article_id}/translations/it/publish"))["state"] == "published"
    assert [hit.translation.pk for hit in search_articles("profilo", "it")] == [translation.pk]
    assert ok(as_agent.post(f"/kb/articles/{article_id}/translations/it/unpublish"))["state"] == "draft"
    assert search_articles("profilo", "it") == []
    assert ok(as_agent.post(f"/kb/articles/{article_id}/translations/de/publish"), 404)["detail"].endswith(
        "no de translation"
    )


@pytest.mark.parametrize(
    "body",
    [
        {"language": "en", "title": "T", "category": None},  # no category
        {"category": 999999, "language": "en", "title": "T"},
        {"language": "xx", "title": "T"},
        {"language": "en", "title": "   "},
        {"language": "en", "title": "T", "visibility": "secret"},
        {"language": "en", "title": "T", "publish": "maybe"},
        {"language": "en", "title": "T", "author": "me"},
    ],
)
def test_bad_article_bodies_are_422(as_agent, invoices, body):  # noqa: F811
    answer = ok(as_agent.post("/kb/articles", {"category": invoices.pk, **body}), 422)
    assert answer["detail"]
    assert not Article.objects.exists()


def test_a_taken_address_in_the_language_is_422(as_agent, invoice_article, invoices):  # noqa: F811
    body = {"category": invoices.pk, "language": "en", "title": "Other", "slug": invoice_article.slug}
    assert ok(as_agent.post("/kb/articles", body), 422)["field"] == "slug"


def test_only_admins_delete_articles(as_agent, as_admin, invoice_article):  # noqa: F811
    path = f"/kb/articles/{invoice_article.article_id}"
    assert as_agent.delete(path).status_code == 403
    assert as_admin.delete(path).status_code == 204
    assert not Article.objects.exists() and search_articles("invoices", "en") == []
    assert as_admin.delete(path).status_code == 404


def test_light_agents_read_but_do_not_write(as_light, invoice_article, invoices):  # noqa: F811
    article_id = invoice_article.article_id
    assert as_light.get(f"/kb/articles/{article_id}").status_code == 200
    assert as_light.get("/kb/articles").status_code == 200
    refused = [
        as_light.post("/kb/articles", {"category": invoices.pk, "language": "en", "title": "Mine"}),
        as_light.patch(f"/kb/articles/{article_id}", {"visibility": "internal"}),
        as_light.client.put(
            f"{API}/kb/articles/{article_id}/translations/en", {"title": "Mine"}, content_type="application/json"
        ),
        as_light.post(f"/kb/articles/{article_id}/translations/de/publish"),
        as_light.post(f"/kb/articles/{article_id}/translations/en/unpublish"),
        as_light.delete(f"/kb/articles/{article_id}"),
    ]
    assert [r.status_code for r in refused] == [403] * 6
    assert ArticleTranslation.objects.get(pk=invoice_article.pk).title == "Downloading your invoices"


def test_customers_and_strangers_are_refused(client, customer_user, invoice_article, invoices):  # noqa: F811
    article_id = invoice_article.article_id
    calls = [
        ("get", "/kb/categories", None),
        ("post", "/kb/categories", {"name": "X"}),
        ("patch", f"/kb/categories/{invoices.pk}", {"name": "X"}),
        ("get", "/kb/articles", None),
        ("get", f"/kb/articles/{article_id}", None),
        ("post", "/kb/articles", {"category": invoices.pk, "language": "en", "title": "X"}),
        ("patch", f"/kb/articles/{article_id}", {"visibility": "internal"}),
        ("put", f"/kb/articles/{article_id}/translations/en", {"title": "X"}),
        ("post", f"/kb/articles/{article_id}/translations/en/unpublish", None),
        ("delete", f"/kb/articles/{article_id}", None),
    ]
    as_customer = api_as(customer_user).client
    for method, path, body in calls:
        kwargs = {"data": body, "content_type": "application/json"} if body is not None else {}
        assert getattr(client, method)(API + path, **kwargs).status_code == 401, path
        answer = getattr(as_customer, method)(API + path, **kwargs)
        assert answer.status_code == 403 and answer.json()["detail"] == "Agents only", path
    assert ArticleTranslation.objects.get(pk=invoice_article.pk).is_published


def test_every_operation_is_in_the_document(as_agent):
    paths = ok(as_agent.get("/openapi.json"))["paths"]
    expected = {
        "/api/v1/kb/categories": {"get", "post"},
        "/api/v1/kb/categories/{category_id}": {"patch"},
        "/api/v1/kb/articles": {"get", "post"},
        "/api/v1/kb/articles/{article_id}": {"get", "patch", "delete"},
        "/api/v1/kb/articles/{article_id}/translations/{language}": {"put"},
        "/api/v1/kb/articles/{article_id}/translations/{language}/publish": {"post"},
        "/api/v1/kb/articles/{article_id}/translations/{language}/unpublish": {"post"},
    }
    for path, methods in expected.items():
        assert set(paths[path]) == methods, path
        for method in methods:
            assert {"401", "403"} <= set(paths[path][method]["responses"]), (path, method)


def test_the_list_takes_the_same_queries_for_one_article_or_many(as_agent, agent, invoices):  # noqa: F811
    def queries() -> int:
        with CaptureQueriesContext(connection) as seen:
            assert ok(as_agent.get("/kb/articles"))["items"]
        return len(seen)

    def write(title: str, tag: str) -> None:
        made = create_article(agent, category=invoices, text=ArticleText("en", title, "x"), tags=[tag])
        save_translation(agent, made.article, ArticleText("it", f"{title} (it)", "x"))

    write("One", "a")
    queries()  # the token is looked up and cached once
    one = queries()
    for number in range(5):
        write(f"More {number}", f"t{number}")
    assert queries() == one
