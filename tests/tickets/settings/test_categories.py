"""/settings/ticket-types/: add, rename, deactivate, delete (refused when tickets use it)."""

from __future__ import annotations

import re

import pytest

from sportello.tickets.models import Category, Ticket
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

PAGE = "/settings/ticket-types/"


def category_options(response) -> str:  # type: ignore[no-untyped-def]
    """The options of the ticket page's category dropdown (the properties panel)."""
    found = re.search(r'<select[^>]*id="update_category"[^>]*>(.*?)</select>', response.content.decode(), re.DOTALL)
    assert found is not None
    return found.group(1)


def test_add_rename_and_list_with_counts(admin, ticket):
    client = client_for(admin)
    assert client.post(PAGE, {"name": "  Billing   questions "}).status_code == 302
    row = Category.objects.get()
    assert row.name == "Billing questions"
    Ticket.objects.filter(pk=ticket.pk).update(category=row)
    assert client.post(f"{PAGE}{row.pk}/", {"name": "Invoices"}).status_code == 302
    html = client.get(PAGE).content.decode()
    assert f'<tr data-category="{row.pk}">' in html and "Invoices" in html
    assert "<td>1</td>" in html


def test_a_taken_or_empty_name_is_refused_with_a_message(admin):
    client = client_for(admin)
    Category.objects.create(name="Billing")
    response = client.post(PAGE, {"name": "billing"})
    assert response.status_code == 422
    assert "“billing” is taken; choose another name." in response.content.decode()
    response = client.post(PAGE, {"name": "   "})
    assert response.status_code == 422
    assert "This field is required." in response.content.decode()
    assert Category.objects.count() == 1


def test_deactivated_type_is_not_offered_but_its_tickets_keep_it(admin, agent, ticket):
    client = client_for(admin)
    old = Category.objects.create(name="Legacy")
    other = Category.objects.create(name="Hardware")
    assert client.post(f"{PAGE}{old.pk}/active", {"active": "false"}).status_code == 302
    options = category_options(client_for(agent).get(f"/tickets/{ticket.number}/"))
    assert f'<option value="{old.pk}"' not in options and f'<option value="{other.pk}"' in options
    Ticket.objects.filter(pk=ticket.pk).update(category=old)
    options = category_options(client_for(agent).get(f"/tickets/{ticket.number}/"))
    assert f'<option value="{old.pk}" selected>Legacy</option>' in options
    assert client.post(f"{PAGE}{old.pk}/active", {"active": "true"}).status_code == 302
    assert Category.objects.get(pk=old.pk).active


def test_deleting_a_type_in_use_is_refused_with_counts_else_done(admin, ticket):
    client = client_for(admin)
    row = Category.objects.create(name="Billing")
    Ticket.objects.filter(pk=ticket.pk).update(category=row)
    response = client.post(f"{PAGE}{row.pk}/delete")
    assert response.status_code == 422
    assert "“Billing” cannot be deleted: 1 ticket has it (1 still open)." in response.content.decode()
    assert Category.objects.filter(pk=row.pk).exists()
    Ticket.objects.filter(pk=ticket.pk).update(category=None)
    assert client.post(f"{PAGE}{row.pk}/delete").status_code == 302
    assert not Category.objects.exists()


URLS = [("get", ""), ("post", ""), ("get", "{pk}/"), ("post", "{pk}/active"), ("post", "{pk}/delete")]


@pytest.mark.parametrize(("method", "suffix"), URLS)
def test_strangers_customers_and_agents_are_refused(client, agent, customer_user, method, suffix):
    row = Category.objects.create(name="Billing")
    url = PAGE + suffix.format(pk=row.pk)
    response = getattr(client, method)(url, {"name": "X", "active": "false"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert getattr(client_for(customer_user), method)(url, {"name": "X"}).status_code in (302, 403)
    assert getattr(client_for(agent), method)(url, {"name": "X", "active": "false"}).status_code == 403
    assert list(Category.objects.values_list("name", "active")) == [("Billing", True)]
