"""Forum fixtures: categories in two languages, a second portal customer, a topic with a reply."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from sportello.accounts.models import Role, User
from sportello.customers.models import Customer
from sportello.customers.services import Sender
from sportello.forum import services
from sportello.forum.models import ForumCategory, Member, Topic
from sportello.tickets.intake import Inbound, ingest
from tests.conftest import make_user


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    """The post rate limit counts in the cache, which outlives each test's rollback."""
    cache.clear()


@pytest.fixture
def printers(db) -> ForumCategory:
    return services.create_category(language="en", name="Printers", description="Paper, toner and jams")


@pytest.fixture
def stampanti(db) -> ForumCategory:
    return services.create_category(language="it", name="Stampanti")


def portal_customer(username: str, name: str, email: str) -> User:
    """A customer account with a customer file, as the portal's first sign-in makes it."""
    user = make_user(username, Role.CUSTOMER)
    user.first_name, user.last_name = name.split(" ", 1)
    user.save()
    customer = ingest(
        Inbound(channel="web", sender=Sender(name=name, email=email), body_text="hello", acknowledge=False)
    ).ticket.customer
    Customer.objects.filter(pk=customer.pk).update(user=user)
    return user


@pytest.fixture
def carla(customer, customer_user) -> User:
    """The shared persona's customer (carla@example.com), signed in to the portal."""
    customer_user.first_name, customer_user.last_name = "Carla", "Rossi"
    customer_user.save()
    return customer_user


@pytest.fixture
def dora(db) -> User:
    return portal_customer("dora_customer", "Dora Bianchi", "dora@example.com")


def trust(*users: User) -> None:
    for user in users:
        Member.objects.update_or_create(user=user, defaults={"trusted": True})


@pytest.fixture
def question(carla, printers) -> Topic:
    """Carla's published question (she is a trusted member)."""
    trust(carla)
    return services.start_topic(
        carla, printers, services.TopicText("question", "Printer shows error 42", "It blinks **red**.")
    )


@pytest.fixture
def held(dora, printers) -> Topic:
    """Dora's first topic: held for approval (she is a new member)."""
    return services.start_topic(
        dora, printers, services.TopicText("idea", "Dark mode", "<b>please</b><script>x</script>")
    )
