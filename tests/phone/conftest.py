"""Phone fixtures: a generic CTI account and a Twilio one, the agents Zammad's examples name, and
helpers that post recorded events as a PBX does (form-encoded)."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from sportello.accounts.models import Role, User
from sportello.phone import services
from sportello.phone.models import FLAGS_CACHE_KEY, CtiAccount, CtiKind
from sportello.phone.parse import twilio_signature
from tests.conftest import make_user

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "phone"
TWILIO_TOKEN = "12345"  # the auth token of Twilio's signing example


def recorded(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def events_of(name: str) -> list[list[tuple[str, str]]]:
    return [[(k, v) for k, v in event] for event in recorded(name)["events"]]


@pytest.fixture(autouse=True)
def _fresh_phone_flags():
    """The pop-up's cached flags outlive a test's rolled-back accounts: each test starts afresh."""
    cache.delete(FLAGS_CACHE_KEY)
    yield
    cache.delete(FLAGS_CACHE_KEY)


@pytest.fixture
def emma(first_level) -> User:
    """The agent who answers in Zammad's examples (answeringNumber emma@chrispresso.com)."""
    user = make_user("emma", Role.AGENT, last_name="Taylor")
    user.first_name, user.email = "Emma", "emma@chrispresso.com"
    user.save()
    first_level.members.add(user)
    return user


@pytest.fixture
def christopher(first_level) -> User:
    user = make_user("christopher", Role.AGENT, last_name="Miller")
    user.first_name = "Christopher"
    user.save()
    first_level.members.add(user)
    return user


@pytest.fixture
def cti(db) -> tuple[CtiAccount, str]:
    account = CtiAccount.objects.create(name="sipgate", kind=CtiKind.GENERIC, region="DE")
    return account, services.rotate_token(account)


@pytest.fixture
def twilio(db) -> CtiAccount:
    account = CtiAccount.objects.create(name="Twilio", kind=CtiKind.TWILIO, region="US")
    services.set_secret(account, TWILIO_TOKEN)
    return account


def post_generic(token: str, event: list[tuple[str, str]], client: Client | None = None) -> Any:
    return (client or Client()).post(
        f"/phone/cti/{token}", urllib.parse.urlencode(event), content_type="application/x-www-form-urlencoded"
    )


def post_twilio(account: CtiAccount, event: list[tuple[str, str]], *, token: str = TWILIO_TOKEN) -> Any:
    path = f"/phone/twilio/{account.pk}"
    params: dict[str, list[str]] = {}
    for name, value in event:
        params.setdefault(name, []).append(value)
    signature = twilio_signature(f"http://testserver{path}", params, token)
    return Client().post(
        path,
        urllib.parse.urlencode(event),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )
