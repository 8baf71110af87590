"""Rows a writer holds answer `.all()` as prefetch_related would, and everything else as before."""

from __future__ import annotations

import pickle

import pytest
from django.db.models import prefetch_related_objects

from sportello.core import prefetch
from sportello.customers.models import Identity
from sportello.tickets.intake import Inbound, Sender, ingest
from sportello.tickets.models import Tag, Ticket

pytestmark = pytest.mark.django_db


def new_ticket(*tags: str) -> Ticket:
    sender = Sender(name="Dora Held", email="dora@example.com")
    inbound = Inbound(channel="web", sender=sender, subject="Held rows", body_text="Hello", tags=list(tags))
    return ingest(inbound).ticket


def test_a_new_tickets_tags_and_addresses_are_read_without_a_query(django_assert_num_queries):
    ticket = new_ticket("billing", "urgent")
    with django_assert_num_queries(0):
        assert sorted(tag.name for tag in ticket.tags.all()) == ["billing", "urgent"]
        assert [identity.value for identity in ticket.customer.identities.all()] == ["dora@example.com"]
        assert ticket.tags.count() == 2  # answered from the rows too
        assert sorted(tag.name for tag in prefetch.held(ticket, "tags")) == ["billing", "urgent"]


def test_a_narrower_question_on_held_rows_asks_the_database_for_this_ticket_only(django_assert_num_queries):
    ticket = new_ticket("billing")
    other = new_ticket("billing", "urgent")
    Tag.objects.create(name="unrelated")
    with django_assert_num_queries(1):
        assert [tag.name for tag in ticket.tags.filter(name__startswith="u")] == []
    assert [tag.name for tag in other.tags.filter(name__startswith="u")] == ["urgent"]
    assert ticket.customer.identities.filter(kind="email").get().value == "dora@example.com"


def test_held_rows_are_what_the_database_holds():
    ticket = new_ticket("billing", "urgent")
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert [tag.pk for tag in ticket.tags.all()] == [tag.pk for tag in fresh.tags.order_by("name")]
    assert [i.pk for i in ticket.customer.identities.all()] == list(
        Identity.objects.filter(customer=ticket.customer).values_list("pk", flat=True)
    )


def test_prefetching_again_does_not_read_what_is_held(django_assert_num_queries):
    ticket = new_ticket("billing")
    with django_assert_num_queries(0):
        prefetch_related_objects([ticket], "tags", "customer__identities")
    assert [tag.name for tag in ticket.tags.all()] == ["billing"]


def test_an_instance_with_held_rows_pickles_as_with_prefetched_ones(django_assert_num_queries):
    ticket = new_ticket("billing")
    copy = pickle.loads(pickle.dumps(ticket))
    assert type(copy._prefetched_objects_cache) is dict
    with django_assert_num_queries(0):
        assert [tag.name for tag in copy.tags.all()] == ["billing"]


def test_rows_held_again_replace_those_held_before(django_assert_num_queries):
    ticket = new_ticket("billing")
    urgent = Tag.objects.create(name="urgent")
    assert [tag.name for tag in ticket.tags.all()] == ["billing"]  # read through Django once
    prefetch.hold(ticket, "tags", [urgent])
    with django_assert_num_queries(0):
        assert [tag.name for tag in ticket.tags.all()] == ["urgent"]


def test_refreshing_an_instance_forgets_what_it_held(django_assert_num_queries):
    ticket = new_ticket("billing")
    ticket.tags.add(Tag.objects.create(name="added-behind"))  # Django's add forgets the held rows
    assert prefetch.held(ticket, "tags") is None
    assert sorted(tag.name for tag in ticket.tags.all()) == ["added-behind", "billing"]
    prefetch.hold(ticket, "tags", [])
    ticket.refresh_from_db()
    assert prefetch.held(ticket, "tags") is None
