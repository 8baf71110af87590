"""Password guessing is stopped (issue #10, item 13): agents' sign-in and the portal's password
sign-in lock an account after 10 failures, and a client address after 30, for 15 minutes; while
locked the right password is refused too, and the page says when to try again."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from tests.conftest import PASSWORD

AGENT_LOGIN = "/accounts/login/"
PORTAL = "/portal/sign-in"


@pytest.fixture(autouse=True)
def fresh_counters():  # type: ignore[no-untyped-def]
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def clock():  # type: ignore[no-untyped-def]
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


def from_address(ip: str) -> Client:
    return Client(REMOTE_ADDR=ip)


def agent_sign_in(client: Client, username: str, password: str):  # type: ignore[no-untyped-def]
    return client.post(AGENT_LOGIN, {"username": username, "password": password})


def portal_sign_in(client: Client, email: str, password: str):  # type: ignore[no-untyped-def]
    return client.post(PORTAL, {"method": "password", "email": email, "password": password})


def test_agent_ten_wrong_passwords_lock_the_account_even_for_the_right_one(agent, agent2, clock):
    guesser = from_address("203.0.113.7")
    for _ in range(9):
        assert agent_sign_in(guesser, agent.username, "wrong").status_code == 200
    tenth = agent_sign_in(guesser, agent.username, "wrong")
    assert tenth.status_code == 429 and tenth["Retry-After"] == "900"
    response = agent_sign_in(guesser, agent.username, PASSWORD)
    assert response.status_code == 429 and "_auth_user_id" not in guesser.session
    assert "Too many failed sign-ins. Try again in 15 minutes." in response.content.decode()
    assert int(response["Retry-After"]) == 900
    # The owner, from her own address, is locked too: the lock is on the account.
    assert agent_sign_in(from_address("198.51.100.1"), agent.username, PASSWORD).status_code == 429
    # Another account from another address is not affected.
    assert agent_sign_in(from_address("198.51.100.2"), agent2.username, PASSWORD).status_code == 302

    clock.shift(timedelta(minutes=5))
    response = agent_sign_in(from_address("198.51.100.1"), agent.username, PASSWORD)
    assert "Try again in 10 minutes." in response.content.decode() and response["Retry-After"] == "600"
    clock.shift(timedelta(minutes=10, seconds=1))
    assert agent_sign_in(from_address("198.51.100.1"), agent.username, PASSWORD).status_code == 302


def test_one_address_guessing_many_accounts_is_locked(agent2, clock):
    guesser = from_address("203.0.113.9")
    for attempt in range(30):
        agent_sign_in(guesser, f"guess{attempt}", "wrong")
    assert agent_sign_in(guesser, agent2.username, PASSWORD).status_code == 429
    # The same account from elsewhere is fine: only the address is locked.
    assert agent_sign_in(from_address("198.51.100.3"), agent2.username, PASSWORD).status_code == 302


def test_a_successful_sign_in_clears_the_accounts_count(agent, clock):
    owner = from_address("198.51.100.4")
    for _ in range(9):
        agent_sign_in(owner, agent.username, "typo")
    assert agent_sign_in(owner, agent.username, PASSWORD).status_code == 302
    other = from_address("198.51.100.5")
    for _ in range(9):
        assert agent_sign_in(other, agent.username, "typo").status_code == 200
    assert agent_sign_in(other, agent.username, PASSWORD).status_code == 302


def test_portal_password_is_locked_the_same_way(customer, clock):
    guesser = from_address("203.0.113.7")
    for _ in range(9):
        assert portal_sign_in(guesser, "carla@example.com", "wrong").status_code == 401
    assert portal_sign_in(guesser, "carla@example.com", "wrong").status_code == 429
    response = portal_sign_in(guesser, "Carla@Example.com", PASSWORD)
    assert response.status_code == 429 and response["Retry-After"] == "900"
    assert "Try again in 15 minutes." in response.content.decode()
    assert guesser.get("/portal/").status_code == 302  # not signed in
    # An unknown address is counted the same way: the lock tells nobody who has an account.
    for _ in range(10):
        portal_sign_in(guesser, "nobody@example.org", "wrong")
    assert portal_sign_in(from_address("198.51.100.6"), "nobody@example.org", "x").status_code == 429

    clock.shift(timedelta(minutes=15, seconds=1))
    owner = from_address("198.51.100.7")
    assert portal_sign_in(owner, "carla@example.com", PASSWORD).status_code == 302
    assert owner.get("/portal/").status_code == 200


def test_the_portal_says_when_to_retry_in_the_customers_language(customer, clock):
    guesser = Client(REMOTE_ADDR="203.0.113.8", HTTP_ACCEPT_LANGUAGE="de")
    for _ in range(10):
        portal_sign_in(guesser, "carla@example.com", "falsch")
    response = portal_sign_in(guesser, "carla@example.com", PASSWORD)
    assert response.status_code == 429
    assert "Versuchen Sie es in 15 Minuten erneut." in response.content.decode()


def test_the_admin_sites_sign_in_is_locked_too(admin, clock):
    guesser = from_address("203.0.113.10")
    for _ in range(10):
        guesser.post("/admin/login/?next=/admin/", {"username": admin.username, "password": "wrong"})
    response = guesser.post("/admin/login/?next=/admin/", {"username": admin.username, "password": PASSWORD})
    assert response.status_code == 429 and "Try again in 15 minutes." in response.content.decode()
    assert agent_sign_in(from_address("198.51.100.8"), admin.username, PASSWORD).status_code == 429
    clock.shift(timedelta(minutes=15, seconds=1))
    owner = from_address("198.51.100.8")
    response = owner.post("/admin/login/?next=/admin/", {"username": admin.username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert owner.get("/admin/").status_code == 200


def test_guessing_at_the_admin_while_signed_in_as_someone_else_is_counted(agent, admin, clock):
    guesser = from_address("203.0.113.11")
    guesser.force_login(agent)
    for _ in range(10):
        guesser.post("/admin/login/", {"username": admin.username, "password": "wrong"})
    assert agent_sign_in(from_address("198.51.100.9"), admin.username, PASSWORD).status_code == 429
