"""Who may open which page: anonymous visitors sign in, customers and strangers are refused."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from sportello.tickets.services import TicketChanges, update_ticket
from tests.conftest import PASSWORD, client_for

pytestmark = pytest.mark.django_db

PAGES = ["inbox", "ticket", "search", "tokens"]


def url_of(name: str, ticket) -> str:  # type: ignore[no-untyped-def]
    return reverse(name, args=[ticket.number]) if name == "ticket" else reverse(name)


@pytest.mark.parametrize("page", PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(page, ticket):
    url = url_of(page, ticket)
    response = client_for(None).get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login")) and "next=" in response["Location"]


@pytest.mark.parametrize("persona", ["customer_user", "stranger"])
@pytest.mark.parametrize("page", PAGES)
def test_customers_and_strangers_get_the_403_page(page, persona, ticket, request):
    user = request.getfixturevalue(persona)
    response = client_for(user).get(url_of(page, ticket))
    assert response.status_code == 403
    assert "You are not allowed to see this page" in response.content.decode()


@pytest.mark.parametrize("persona", ["admin", "agent", "agent2", "light_agent"])
@pytest.mark.parametrize("page", PAGES)
def test_agents_open_every_page(page, persona, ticket, request):
    response = client_for(request.getfixturevalue(persona)).get(url_of(page, ticket))
    assert response.status_code == 200


def test_restricted_agent_gets_404_outside_their_groups(ticket, restricted_agent, second_level, agent):
    client = client_for(restricted_agent)
    response = client.get(reverse("ticket", args=[ticket.number]))
    assert response.status_code == 404
    assert "There is nothing here" in response.content.decode()
    update_ticket(ticket, agent, TicketChanges(group=second_level))
    assert client.get(reverse("ticket", args=[ticket.number])).status_code == 200


def test_restricted_agent_cannot_write_outside_their_groups(ticket, restricted_agent):
    client = client_for(restricted_agent)
    response = client.post(reverse("ticket-note", args=[ticket.number]), {"body": "sneaky"})
    assert response.status_code == 404
    assert not ticket.entries.filter(body_text="sneaky").exists()


def test_unknown_ticket_is_404(agent):
    assert client_for(agent).get(reverse("ticket", args=[999999])).status_code == 404


def test_agent_signs_in_through_the_form_and_lands_on_the_inbox(client, agent):
    page = client.get(reverse("login"))
    assert page.status_code == 200 and 'name="username"' in page.content.decode()
    response = client.post(reverse("login"), {"username": agent.username, "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("inbox")
    assert response.status_code == 200 and "My open tickets" in response.content.decode()


def test_wrong_password_is_refused_with_a_message(client, agent):
    response = client.post(reverse("login"), {"username": agent.username, "password": "nope"})
    assert response.status_code == 200
    assert "did not match" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_customer_who_signs_in_here_reaches_no_agent_page(client, customer_user):
    response = client.post(reverse("login"), {"username": customer_user.username, "password": PASSWORD}, follow=True)
    assert response.status_code == 403
    assert "not an agent account" in response.content.decode()


def test_sign_out_is_a_post_and_ends_the_session(agent):
    client = client_for(agent)
    response = client.post(reverse("logout"))
    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert client.get(reverse("inbox")).status_code == 302


def test_every_agent_page_has_the_search_box_and_static_files(agent, ticket):
    for name in PAGES:
        html = client_for(agent).get(url_of(name, ticket)).content.decode()
        assert 'role="search"' in html and f'action="{reverse("search")}"' in html
        assert "/static/vendor/htmx.min.js" in html and "/static/sportello/app.css" in html
        external = re.findall(r'(?:src|href)="(?:https?:)?//[^"]*"', html)
        assert external == [], f"{name} loads assets from another host: {external}"
