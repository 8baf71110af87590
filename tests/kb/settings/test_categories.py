"""/settings/help-centre/categories/: add (names per language, nesting), edit, reorder, delete."""

from __future__ import annotations

import pytest

from sportello.kb.models import Article, Category
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

PAGE = "/settings/help-centre/categories/"


def test_add_a_category_with_names_per_language_then_an_agent_can_file_an_article_in_it(admin, agent):
    client = client_for(admin)
    response = client.post(PAGE, {"name": "Billing", "name_it": "Fatturazione", "name_de": " "})
    assert response.status_code == 302
    category = Category.objects.get()
    assert (category.slug, category.names) == ("billing", {"it": "Fatturazione"})
    assert category.name_in("it") == "Fatturazione" and category.name_in("de") == "Billing"
    new_article = client_for(agent).get("/help/agent/new").content.decode()
    assert f'<option value="{category.pk}">Billing</option>' in new_article


def test_a_sub_category_then_rename_and_move_it_to_the_top(admin):
    client = client_for(admin)
    client.post(PAGE, {"name": "Billing"})
    top = Category.objects.get()
    client.post(PAGE, {"name": "Invoices", "slug": "invoices", "parent": top.pk})
    child = Category.objects.get(slug="invoices")
    assert child.parent_id == top.pk
    html = client.get(PAGE).content.decode()
    assert html.index('data-kb-category="billing"') < html.index('data-kb-category="invoices"')
    response = client.post(f"{PAGE}{child.pk}/", {"name": "Bills", "parent": "", "name_en": "Bills"})
    assert response.status_code == 302
    child.refresh_from_db()
    assert (child.name, child.parent_id, child.slug) == ("Bills", None, "invoices")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": ""}, "This field is required."),
        ({"name": "Billing", "slug": "billing"}, "The address &#x27;billing&#x27; is taken"),
        ({"name": "Deep", "parent": "{child}"}, "Select a valid choice."),
        ({"name": "X", "slug": "not a slug!"}, "Enter a valid “slug”"),
    ],
)
def test_bad_input_is_refused_with_a_message(admin, data, message):
    client = client_for(admin)
    top = Category.objects.create(name="Billing", slug="billing")
    child = Category.objects.create(name="Invoices", slug="invoices", parent=top)
    data = {key: value.format(child=child.pk) for key, value in data.items()}
    response = client.post(PAGE, data)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert Category.objects.count() == 2


def test_a_top_category_with_sub_categories_cannot_go_inside_another(admin):
    top = Category.objects.create(name="Billing", slug="billing")
    Category.objects.create(name="Invoices", slug="invoices", parent=top)
    other = Category.objects.create(name="Account", slug="account")
    response = client_for(admin).post(f"{PAGE}{top.pk}/", {"name": "Billing", "parent": other.pk})
    assert response.status_code == 422
    assert "Categories nest one level only" in response.content.decode()


def test_reorder_among_siblings(admin):
    client = client_for(admin)
    a = Category.objects.create(name="Alpha", slug="alpha", position=10)
    b = Category.objects.create(name="Beta", slug="beta", position=20)
    client.post(f"{PAGE}{b.pk}/move", {"direction": "up"})
    a.refresh_from_db()
    b.refresh_from_db()
    assert b.position < a.position
    html = client.get(PAGE).content.decode()
    assert html.index('data-kb-category="beta"') < html.index('data-kb-category="alpha"')


def test_deleting_a_category_with_articles_is_refused_with_counts(admin):
    client = client_for(admin)
    full = Category.objects.create(name="Billing", slug="billing")
    Article.objects.create(category=full)
    empty = Category.objects.create(name="Empty", slug="empty")
    response = client.post(f"{PAGE}{full.pk}/delete")
    assert response.status_code == 422
    assert "cannot be deleted: it holds 1 articles and 0 sub-categories" in response.content.decode()
    assert client.post(f"{PAGE}{empty.pk}/delete").status_code == 302
    assert list(Category.objects.values_list("slug", flat=True)) == ["billing"]


@pytest.mark.parametrize(
    ("method", "suffix"), [("get", ""), ("post", ""), ("get", "{pk}/"), ("post", "{pk}/move"), ("post", "{pk}/delete")]
)
def test_strangers_customers_and_agents_are_refused(client, agent, customer_user, method, suffix):
    row = Category.objects.create(name="Billing", slug="billing")
    url = PAGE + suffix.format(pk=row.pk)
    response = getattr(client, method)(url, {"name": "X"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert getattr(client_for(customer_user), method)(url, {"name": "X"}).status_code in (302, 403)
    assert getattr(client_for(agent), method)(url, {"name": "X"}).status_code == 403
    assert list(Category.objects.values_list("name", flat=True)) == ["Billing"]
