"""The thanks page opens only for whoever sent the form; the embeddable form can be framed."""

from __future__ import annotations

import time

import pytest
import time_machine
from django.core import signing
from django.test import Client

from sportello.tickets.models import Ticket
from sportello.webform.views import THANKS_SALT
from tests.webform.conftest import form_data

pytestmark = pytest.mark.django_db


def send(client: Client, path: str = "/support/new", **overrides: object) -> str:
    response = client.post(path, form_data(**overrides))
    assert response.status_code == 302, response.content.decode()[:500]
    return response["Location"]


def test_the_thanks_page_shows_the_number_and_subject_only(client):
    location = send(client, message="My secret account number is 12345.")
    ticket = Ticket.objects.get()
    html = Client().get(location).content.decode()  # another browser with the link sees the same
    assert f'<strong class="ticket-number">#{ticket.number}</strong>' in html
    assert ticket.subject in html
    assert "12345" not in html and "greta@example.org" not in html


@pytest.mark.parametrize(
    "make_token",
    [
        lambda pk: str(pk),  # the id itself
        lambda pk: signing.dumps({"t": pk + 1}, salt=THANKS_SALT)[:-2] + "xx",  # a forged signature
        lambda pk: signing.dumps({"t": pk + 1}, salt="another.salt"),  # signed, but for something else
        lambda pk: signing.dumps({"t": pk + 1}),  # with the default salt
        lambda pk: "eyJ0IjoyfQ:1xVI6x:p-Ese6MkXgwpiy9xBEl6VUdMsF_eNuRDE9haLbDpQpg",
    ],
)
def test_a_guessed_or_tampered_token_is_not_found(client, make_token):
    send(client)
    second = send(client, subject="Another one")
    assert client.get(second).status_code == 200
    ticket = Ticket.objects.order_by("pk").first()
    assert ticket is not None
    assert client.get(f"/support/thanks/{make_token(ticket.pk)}").status_code == 404


def test_changing_the_ticket_inside_a_real_token_breaks_it(client):
    location = send(client)
    send(client, subject="Someone else's")
    token = location.rsplit("/", 1)[1]
    payload, rest = token.split(":", 1)
    tampered = signing.b64_encode(b'{"t":2}').decode() + ":" + rest
    assert payload != tampered.split(":", 1)[0]
    assert client.get(f"/support/thanks/{tampered}").status_code == 404


def test_the_thanks_link_expires(client):
    location = send(client)
    with time_machine.travel(time.time() + 2 * 24 * 3600):
        assert client.get(location).status_code == 404


def test_a_deleted_ticket_is_not_found(client):
    location = send(client)
    Ticket.objects.all().delete()
    assert client.get(location).status_code == 404


def test_the_main_form_may_not_be_framed_but_the_embedded_one_may(client):
    assert client.get("/support/new")["X-Frame-Options"] == "DENY"
    response = client.get("/support/embed")
    assert response.status_code == 200
    assert "X-Frame-Options" not in response
    html = response.content.decode()
    assert 'id="id_message"' in html and 'action="/support/embed"' in html
    assert '<header class="site">' not in html  # the minimal layout


def test_the_embedded_form_posts_without_a_csrf_cookie_and_thanks_inside_the_frame():
    framed = Client(enforce_csrf_checks=True)  # a third-party iframe gets no cookie from us
    location = send(framed, "/support/embed")
    assert location.startswith("/support/embed/thanks/")
    thanks = framed.get(location)
    assert thanks.status_code == 200
    assert "X-Frame-Options" not in thanks
    assert f"#{Ticket.objects.get().number}" in thanks.content.decode()
    assert Ticket.objects.get().entries.get().metadata == {"form": "embed"}


def test_the_main_form_keeps_csrf_protection():
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/support/new", form_data()).status_code == 403
    assert not Ticket.objects.exists()


def test_the_embedded_form_keeps_its_layout_on_errors(client):
    response = client.post("/support/embed", form_data(email="nope"))
    assert response.status_code == 400
    assert "X-Frame-Options" not in response
    assert '<header class="site">' not in response.content.decode()
