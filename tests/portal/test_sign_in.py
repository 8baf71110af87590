"""Portal sign-in: magic links (single use, 15 minutes, stored hashed) and passwords."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlparse

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from sportello.accounts.models import Role
from sportello.customers.models import Customer
from sportello.portal.models import MagicLink
from tests.conftest import PASSWORD, client_for
from tests.portal.conftest import link_from_outbox


def ask_link(client: Client, email: str, capture) -> None:  # type: ignore[no-untyped-def]
    with capture(execute=True):
        response = client.post("/portal/sign-in", {"method": "link", "email": email})
    assert response.status_code == 200 and "a sign-in link is on its way" in response.content.decode()


def test_link_signs_in_once(client, customer, django_capture_on_commit_callbacks):
    ask_link(client, "Carla@Example.com", django_capture_on_commit_callbacks)
    assert mail.outbox[-1].to == ["Carla Rossi <carla@example.com>"]
    path = urlparse(link_from_outbox()).path
    key = path.rsplit("/", 1)[1]
    assert not MagicLink.objects.filter(key_hash=key).exists()  # only the hash is stored
    assert client.get(path).status_code == 200  # a confirmation page: scanners do not spend the link
    response = client.post(path)
    assert response.status_code == 302 and response["Location"] == "/portal/"
    assert client.get("/portal/").status_code == 200
    # Used once: refused again, in another browser too.
    response = Client().post(path)
    assert response.status_code == 410 and "expired or was already used" in response.content.decode()


def test_expired_link_is_refused(client, customer, django_capture_on_commit_callbacks):
    ask_link(client, "carla@example.com", django_capture_on_commit_callbacks)
    MagicLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.post(urlparse(link_from_outbox()).path).status_code == 410
    assert client.get("/portal/").status_code == 302  # still signed out


def test_link_expires_after_fifteen_minutes(client, customer, django_capture_on_commit_callbacks):
    ask_link(client, "carla@example.com", django_capture_on_commit_callbacks)
    link = MagicLink.objects.get()
    assert link.expires_at - link.created_at == timedelta(minutes=15)


def test_forged_link_is_refused(client, customer):
    assert client.post("/portal/sign-in/not-a-real-key").status_code == 410


def test_unknown_address_gets_the_same_answer_and_no_mail(client, db, django_capture_on_commit_callbacks):
    ask_link(client, "nobody@example.org", django_capture_on_commit_callbacks)
    assert mail.outbox == [] and MagicLink.objects.count() == 0


def test_first_link_makes_a_portal_account(client, other_ticket, django_capture_on_commit_callbacks):
    ask_link(client, "otto@example.net", django_capture_on_commit_callbacks)
    customer = Customer.objects.get(pk=other_ticket.customer_id)
    assert customer.user is not None and customer.user.role == Role.CUSTOMER
    assert not customer.user.has_usable_password()
    client.post(urlparse(link_from_outbox()).path)
    assert "Someone else" in client.get("/portal/").content.decode()


def test_agents_address_gets_no_customer_link(client, agent, django_capture_on_commit_callbacks):
    from sportello.customers.services import Sender, find_or_create_customer

    found = find_or_create_customer(Sender(name="Alice", email="alice@corp.example"))
    found.user = agent
    found.save()
    ask_link(client, "alice@corp.example", django_capture_on_commit_callbacks)
    assert mail.outbox == []


def test_password_sign_in(client, customer):
    response = client.post(
        "/portal/sign-in", {"method": "password", "email": "carla@example.com", "password": PASSWORD}
    )
    assert response.status_code == 302 and response["Location"] == "/portal/"
    bad = Client().post("/portal/sign-in", {"method": "password", "email": "carla@example.com", "password": "wrong"})
    assert bad.status_code == 401


def test_set_password_then_sign_in_with_it(customer):
    client = client_for(customer.user)
    new = "a much longer passphrase 42"
    response = client.post("/portal/password", {"new_password1": new, "new_password2": new})
    assert response.status_code == 200
    response = Client().post("/portal/sign-in", {"method": "password", "email": "carla@example.com", "password": new})
    assert response.status_code == 302


@pytest.mark.parametrize("path", ["/portal/", "/portal/new", "/portal/password"])
def test_portal_pages_send_anonymous_visitors_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302 and response["Location"].startswith("/portal/sign-in?next=")


# --- Rate limit ------------------------------------------------------------------------------------------


def test_links_are_limited_per_address(client, customer, settings, django_capture_on_commit_callbacks):
    settings.PORTAL_LINK_RATE_LIMIT = 3
    for n in range(3):
        ask_link(Client(REMOTE_ADDR=f"10.0.0.{n}"), "carla@example.com", django_capture_on_commit_callbacks)
    response = Client(REMOTE_ADDR="10.0.0.9").post("/portal/sign-in", {"method": "link", "email": "Carla@example.com"})
    assert response.status_code == 429 and "Too many sign-in links" in response.content.decode()
    assert int(response["Retry-After"]) == settings.PORTAL_LINK_RATE_WINDOW
    assert len(mail.outbox) == 3 and MagicLink.objects.count() == 3


def test_links_are_limited_per_ip_for_unknown_addresses_too(client, customer, settings):
    settings.PORTAL_LINK_RATE_LIMIT = 2
    for n in range(2):
        response = client.post("/portal/sign-in", {"method": "link", "email": f"nobody{n}@example.org"})
        assert response.status_code == 200
    # The same answer for a customer's address: the limit tells nobody who is a customer.
    response = client.post("/portal/sign-in", {"method": "link", "email": "carla@example.com"})
    assert response.status_code == 429 and MagicLink.objects.count() == 0
    # Another IP, another address: not limited.
    assert (
        Client(REMOTE_ADDR="10.1.1.1")
        .post("/portal/sign-in", {"method": "link", "email": "someone@example.org"})
        .status_code
        == 200
    )


def test_the_limit_window_ends(client, customer, settings):
    from django.core.cache import cache

    settings.PORTAL_LINK_RATE_LIMIT = 1
    client.post("/portal/sign-in", {"method": "link", "email": "carla@example.com"})
    assert client.post("/portal/sign-in", {"method": "link", "email": "carla@example.com"}).status_code == 429
    cache.clear()  # the window's keys expire with it
    assert client.post("/portal/sign-in", {"method": "link", "email": "carla@example.com"}).status_code == 200


def test_password_sign_in_is_not_counted(client, customer, settings):
    settings.PORTAL_LINK_RATE_LIMIT = 1
    for _ in range(3):
        client.post("/portal/sign-in", {"method": "password", "email": "carla@example.com", "password": "wrong"})
    assert client.post("/portal/sign-in", {"method": "link", "email": "carla@example.com"}).status_code == 200
