"""Merging two customer files and undoing it (customers/merging.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from sportello.core.errors import Conflict, Forbidden, InvalidInput
from sportello.csat.models import Survey
from sportello.customers.merging import merge_customers, unmerge_customers
from sportello.customers.models import Customer, CustomerChange, CustomerMerge, CustomerNote, Identity, Organization
from sportello.customers.services import add_customer_note, update_customer
from sportello.search.backend import search_tickets
from sportello.tickets.models import Change, Ticket
from tests.customers.conftest import new_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(agent):  # type: ignore[no-untyped-def]
    """Two files of one person: Carla at work and at home."""
    work = new_ticket("Invoice missing", email="carla@acme.example", name="Carla Rossi")
    home = new_ticket("Password reset", email="carla.rossi@home.example", name="")
    new_ticket("Still no invoice", email="carla@acme.example")
    return work.customer, home.customer


def test_merge_moves_tickets_identities_notes_and_history(agent, pair):
    survivor, duplicate = pair
    acme = Organization.objects.create(name="Acme")
    update_customer(duplicate, actor=agent, organization=acme, notes="Calls after 5 pm")
    add_customer_note(duplicate, agent, "Asked about the discount")
    home_ticket = Ticket.objects.get(customer=duplicate)
    merge = merge_customers(survivor, duplicate, agent)

    assert set(Ticket.objects.filter(customer=survivor).values_list("subject", flat=True)) == {
        "Invoice missing", "Still no invoice", "Password reset",
    }  # fmt: skip
    assert set(survivor.identities.values_list("value", flat=True)) == {
        "carla@acme.example",
        "carla.rossi@home.example",
    }
    assert CustomerNote.objects.get().customer == survivor
    survivor.refresh_from_db()
    assert survivor.organization == acme  # it had none
    assert survivor.notes == "Calls after 5 pm"
    assert survivor.name == "Carla Rossi"  # its own name is kept
    duplicate.refresh_from_db()
    assert duplicate.merged_into == survivor and not duplicate.identities.exists()
    change = Change.objects.get(ticket=home_ticket, field="customer")
    assert change.actor == agent and change.new_value == f"Carla Rossi (#{survivor.pk})"
    assert Ticket.objects.get(pk=home_ticket.pk).version == home_ticket.version + 1
    assert CustomerChange.objects.filter(customer=survivor, field="merge").exists()
    assert merge.moved["tickets"] == [home_ticket.pk]
    # The moved ticket's search document now names the survivor.
    assert [t.pk for t in search_tickets("Rossi password", Ticket.objects.all())] == [home_ticket.pk]


def test_undo_moves_back_exactly_what_moved_and_keeps_what_arrived_since(agent, pair):
    survivor, duplicate = pair
    merge = merge_customers(survivor, duplicate, agent)
    # After the merge, mail from the duplicate's old address lands on the survivor.
    later = new_ticket("Another question", email="carla.rossi@home.example")
    assert later.customer == survivor
    unmerge_customers(merge, agent)

    duplicate.refresh_from_db()
    assert duplicate.merged_into is None
    assert list(Ticket.objects.filter(customer=duplicate).values_list("subject", flat=True)) == ["Password reset"]
    assert Ticket.objects.get(pk=later.pk).customer == survivor
    assert list(duplicate.identities.values_list("value", flat=True)) == ["carla.rossi@home.example"]
    assert list(survivor.identities.values_list("value", flat=True)) == ["carla@acme.example"]
    merge.refresh_from_db()
    assert merge.undone_by == agent and merge.undone_at is not None


def test_undo_gives_back_the_fields_the_survivor_took_unless_changed_since(agent):
    nameless = new_ticket("A", email="x@one.example").customer
    named = new_ticket("B", email="x@two.example", name="Xavier").customer
    Customer.objects.filter(pk=named.pk).update(notes="VIP")
    named.refresh_from_db()
    merge = merge_customers(nameless, named, agent)
    nameless.refresh_from_db()
    assert nameless.name == "Xavier" and nameless.notes == "VIP"
    unmerge_customers(merge, agent)
    nameless.refresh_from_db()
    assert nameless.name == "" and nameless.notes == ""


def test_the_portal_account_moves_when_the_survivor_has_none_and_comes_back(agent, customer, customer_user):
    other = new_ticket("Other", email="other@example.org", name="Other").customer
    merge = merge_customers(other, customer, agent)
    other.refresh_from_db()
    assert other.user == customer_user
    unmerge_customers(merge, agent)
    customer.refresh_from_db()
    other.refresh_from_db()
    assert customer.user == customer_user and other.user is None


def test_surveys_move_with_their_customer(agent, pair, admin):
    survivor, duplicate = pair
    ticket = Ticket.objects.get(customer=duplicate)
    Survey.objects.create(ticket=ticket, customer=duplicate)
    merge = merge_customers(survivor, duplicate, agent)
    assert Survey.objects.get().customer_id == survivor.pk
    unmerge_customers(merge, agent)
    assert Survey.objects.get().customer_id == duplicate.pk


def test_a_file_cannot_be_merged_into_itself_or_twice(agent, pair):
    survivor, duplicate = pair
    with pytest.raises(InvalidInput):
        merge_customers(survivor, survivor, agent)
    merge_customers(survivor, duplicate, agent)
    third = new_ticket("C", email="z@example.org").customer
    with pytest.raises(Conflict):
        merge_customers(third, duplicate, agent)


def test_undo_is_refused_twice_and_after_thirty_days(agent, pair):
    survivor, duplicate = pair
    merge = merge_customers(survivor, duplicate, agent)
    CustomerMerge.objects.filter(pk=merge.pk).update(merged_at=timezone.now() - timedelta(days=31))
    with pytest.raises(Conflict, match="30 days"):
        unmerge_customers(merge, agent)
    CustomerMerge.objects.filter(pk=merge.pk).update(merged_at=timezone.now())
    unmerge_customers(merge, agent)
    with pytest.raises(Conflict, match="already undone"):
        unmerge_customers(merge, agent)


def test_only_agents_who_see_every_ticket_of_both_may_merge(restricted_agent, light_agent, pair, second_level):
    survivor, duplicate = pair
    with pytest.raises(Forbidden):
        merge_customers(survivor, duplicate, light_agent)
    with pytest.raises(Forbidden):
        merge_customers(survivor, duplicate, restricted_agent)
    Ticket.objects.update(group=second_level)
    merge = merge_customers(survivor, duplicate, restricted_agent)
    assert Identity.objects.filter(customer=survivor).count() == 2
    unmerge_customers(merge, restricted_agent)


def test_each_moved_ticket_is_announced_as_updated(agent, pair):
    from sportello.core.events import EVENT
    from sportello.core.models import OutboxMessage

    survivor, duplicate = pair
    moved = Ticket.objects.get(customer=duplicate)
    before = set(OutboxMessage.objects.filter(kind=EVENT).values_list("pk", flat=True))
    merge_customers(survivor, duplicate, agent)
    published = [
        event
        for row in OutboxMessage.objects.filter(kind=EVENT).exclude(pk__in=before)
        for event in row.payload["events"]
    ]
    assert [(e["name"], e["ticket_id"], e["data"]) for e in published] == [
        ("ticket.updated", moved.pk, {"fields": ["customer"]})
    ]
