"""Shared personas and helpers for every test.

Personas: `admin`, `agent` (first level), `agent2` (second level), `light_agent`, `restricted_agent`
(sees only the second-level group's tickets), `customer` (a portal user with a customer file) and
`stranger` (signed in, but neither agent nor this customer). `ticket` is a fresh web-form ticket
from `customer`.
"""

from __future__ import annotations

import os
import socket

import pytest
from django.test import Client

from sportello.accounts.models import ApiToken, Availability, Group, Role, User
from sportello.customers.models import Customer
from sportello.customers.services import Sender
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import Ticket

PASSWORD = "correct horse battery staple"

# aiosmtpd's controllers (the listener, SMTP sinks) give their server thread 1 s to start, which a
# busy machine misses; the bound only guards against hanging, the wait ends as soon as it is up.
os.environ.setdefault("AIOSMTPD_CONTROLLER_TIMEOUT", "120")


_getaddrinfo = socket.getaddrinfo
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def _loopback_getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):  # type: ignore[no-untyped-def]
    """socket.getaddrinfo for address literals (also 0x7f000001, 2130706433) and loopback names only:
    any other name would send a query out to the resolver."""
    try:
        return _getaddrinfo(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
    except socket.gaierror:
        name = (host.decode() if isinstance(host, bytes) else host or "localhost").lower().rstrip(".")
        if name in LOOPBACK_NAMES:  # from /etc/hosts
            return _getaddrinfo(host, port, family, type, proto, flags)
        raise socket.gaierror(
            socket.EAI_NONAME, f"{name}: tests resolve loopback names only (tests/conftest.py)"
        ) from None


@pytest.fixture(autouse=True)
def _no_name_lookups_beyond_loopback(monkeypatch):  # type: ignore[no-untyped-def]
    """pytest-socket (pyproject addopts) refuses connections beyond loopback but lets any name be
    looked up, which asks the network's resolver: a test resolves as on a machine offline."""
    monkeypatch.setattr(socket, "getaddrinfo", _loopback_getaddrinfo)


@pytest.fixture(autouse=True)
def _no_senders_remembered() -> None:
    """Intake remembers whether its last senders were new (tickets/intake.py `_senders`), which
    picks the way a create takes on PostgreSQL: each test starts as a fresh process does."""
    from sportello.tickets import intake

    intake._senders.clear()


def make_user(username: str, role: str, **extra: object) -> User:
    user = User.objects.create_user(
        username=username,
        email=f"{username}@sportello.test",
        password=PASSWORD,
        role=role,
        first_name=username.replace("_", " ").title(),
        availability=Availability.ONLINE,
        **extra,
    )
    return user


@pytest.fixture
def first_level(db) -> Group:
    return Group.objects.create(name="First level", tier=1)


@pytest.fixture
def second_level(db) -> Group:
    return Group.objects.create(name="Second level", tier=2)


@pytest.fixture
def admin(db) -> User:
    return make_user("ada_admin", Role.ADMIN, is_staff=True, is_superuser=True)


@pytest.fixture
def agent(first_level) -> User:
    user = make_user("alice_agent", Role.AGENT)
    first_level.members.add(user)
    return user


@pytest.fixture
def agent2(second_level) -> User:
    user = make_user("bob_agent", Role.AGENT)
    second_level.members.add(user)
    return user


@pytest.fixture
def light_agent(first_level) -> User:
    user = make_user("lucy_light", Role.LIGHT_AGENT)
    first_level.members.add(user)
    return user


@pytest.fixture
def restricted_agent(second_level) -> User:
    user = make_user("rita_restricted", Role.AGENT, restricted_to_groups=True)
    second_level.members.add(user)
    return user


@pytest.fixture
def customer_user(db) -> User:
    return make_user("carla_customer", Role.CUSTOMER)


@pytest.fixture
def customer(customer_user) -> Customer:
    result = ingest(
        Inbound(
            channel="web",
            sender=Sender(name="Carla Rossi", email="carla@example.com"),
            subject="Hello",
            body_text="First contact",
            acknowledge=False,
        )
    )
    found = result.ticket.customer
    found.user = customer_user
    found.save()
    return found


@pytest.fixture
def stranger(db) -> User:
    return make_user("sam_stranger", Role.CUSTOMER)


@pytest.fixture
def ticket(customer) -> Ticket:
    return ingest(
        Inbound(
            channel="web",
            sender=Sender(name="Carla Rossi", email="carla@example.com"),
            subject="Printer on fire",
            body_text="The printer in room 4 is on fire.",
            acknowledge=False,
        )
    ).ticket


def client_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def token_for(user: User) -> str:
    return ApiToken.issue(user, "test")[1]


def api_client(user: User) -> Client:
    """A client whose requests carry `user`'s API token."""
    return Client(headers={"Authorization": f"Bearer {token_for(user)}"})


def service_or_skip(name: str, reachable: bool) -> None:
    """Skip a test whose real service is missing — or fail, when SPORTELLO_REQUIRE_SERVICES=1."""
    import os

    if reachable:
        return
    if os.environ.get("SPORTELLO_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{name} is not reachable and SPORTELLO_REQUIRE_SERVICES=1")
    pytest.skip(f"{name} is not reachable")


def tcp_open(host: str, port: int) -> bool:
    try:
        # Loopback answers at once; the bound only matters on a machine too busy to accept in time.
        with socket.create_connection((host, port), timeout=30):
            return True
    except OSError:
        return False


from tests.processes import migrated_sqlite  # noqa: E402, F401 — a migrated SQLite file to copy
from tests.servers import dovecot, smtp_sink  # noqa: E402, F401 — fixtures for real mail servers

# The fixtures through which a test reaches the database (pytest-django refuses it otherwise).
DATABASE_FIXTURES = frozenset({"db", "transactional_db", "live_server", "django_db_reset_sequences"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The PostgreSQL leg skips what cannot behave differently there, the SQLite leg having run it:
    tests that run Sportello on a SQLite file of their own, and tests that never reach a database
    (parsers, the business-time arithmetic, the catalogues, the models' training: ~900 tests)."""
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        return
    own_file = pytest.mark.skip(reason="runs on its own SQLite file: the SQLite leg runs it")
    no_database = pytest.mark.skip(reason="touches no database: the SQLite leg runs it")
    for item in items:
        if item.get_closest_marker("own_sqlite"):
            item.add_marker(own_file)
        elif not item.get_closest_marker("django_db") and not DATABASE_FIXTURES & set(item.fixturenames):  # type: ignore[attr-defined]
            item.add_marker(no_database)
