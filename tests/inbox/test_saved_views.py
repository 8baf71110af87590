"""Saved views: who sees them, who may share them, and their counts (one statement for all)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sportello.core.errors import Forbidden, InvalidInput
from sportello.customers.models import Organization
from sportello.inbox.models import Sharing
from sportello.inbox.services import delete_view, save_view, saved_filters, views_for
from sportello.tickets.models import Channel, Priority, Ticket
from sportello.tickets.queries import TicketFilter, filtered, view_counts
from sportello.tickets.services import TicketChanges, update_ticket
from tests.web.conftest import new_ticket

pytestmark = pytest.mark.django_db

URGENT = TicketFilter(priority=[Priority.URGENT])


def test_personal_views_are_their_owners_only(agent, agent2):
    mine = save_view(agent, name="Urgent", flt=URGENT)
    assert list(views_for(agent)) == [mine]
    assert list(views_for(agent2)) == []


def test_a_view_shared_with_a_group_reaches_its_members(agent, agent2, admin, first_level, light_agent):
    shared = save_view(agent, name="L1 urgent", flt=URGENT, sharing=Sharing.GROUP, group=first_level)
    assert shared in views_for(light_agent)  # a member of first level
    assert shared not in views_for(agent2) and shared not in views_for(admin)


def test_only_admins_share_with_everyone(agent, agent2, admin):
    with pytest.raises(Forbidden):
        save_view(agent, name="All urgent", flt=URGENT, sharing=Sharing.EVERYONE)
    view = save_view(admin, name="All urgent", flt=URGENT, sharing=Sharing.EVERYONE)
    assert view in views_for(agent) and view in views_for(agent2)


def test_agents_share_only_with_their_own_groups(agent, second_level):
    with pytest.raises(Forbidden):
        save_view(agent, name="Theirs", flt=URGENT, sharing=Sharing.GROUP, group=second_level)
    with pytest.raises(InvalidInput):
        save_view(agent, name="No group", flt=URGENT, sharing=Sharing.GROUP)


def test_customers_have_no_views(customer_user):
    assert list(views_for(customer_user)) == []
    with pytest.raises(Forbidden):
        save_view(customer_user, name="Mine", flt=URGENT)


def test_a_view_needs_a_name_and_a_filter(agent):
    with pytest.raises(InvalidInput):
        save_view(agent, name="  ", flt=URGENT)
    with pytest.raises(InvalidInput):
        save_view(agent, name="Everything", flt=TicketFilter())


def test_only_the_owner_or_an_admin_deletes(agent, agent2, admin, first_level):
    view = save_view(agent, name="L1", flt=URGENT, sharing=Sharing.GROUP, group=first_level)
    first_level.members.add(agent2)
    with pytest.raises(Forbidden):
        delete_view(agent2, view)
    delete_view(admin, view)
    assert list(views_for(agent)) == []


def test_filters_survive_their_json(agent):
    now = timezone.now()
    flt = TicketFilter(view="open", tag=["vip"], channel=["chat"], created_from=now, updated_until=now)
    assert TicketFilter.from_json(flt.to_json()) == flt
    assert TicketFilter.from_json({"tag": ["x"], "from_a_newer_version": 1}) == TicketFilter(tag=["x"])


def test_every_filter_of_a_view_applies(agent):
    org = Organization.objects.create(name="ACME")
    old = new_ticket("Old chat", email="old@example.org", channel=Channel.CHAT)
    Ticket.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))
    fresh = new_ticket("Fresh mail", email="fresh@example.org")
    fresh.customer.organization = org
    fresh.customer.save()
    update_ticket(fresh, agent, TicketChanges(tags=["vip"]))
    recent = timezone.now() - timedelta(days=1)
    cases = [
        (TicketFilter(channel=["chat"]), {old}),
        (TicketFilter(organization=org.pk), {fresh}),
        (TicketFilter(customer=old.customer_id), {old}),
        (TicketFilter(tag=["vip"]), {fresh}),
        (TicketFilter(created_from=recent), {fresh}),
        (TicketFilter(created_until=recent), {old}),
        (TicketFilter(updated_from=recent), {old, fresh}),
    ]
    for flt, wanted in cases:
        assert set(filtered(agent, flt)) == wanted, flt


def test_counts_of_saved_views_cost_one_statement_however_many(agent, admin):
    for i in range(3):
        t = new_ticket(f"Count {i}", email=f"count{i}@example.org")
        if i:
            update_ticket(t, agent, TicketChanges(priority=Priority.URGENT))
    few = [save_view(agent, name="Urgent", flt=URGENT)]
    many = few + [
        save_view(agent, name=f"View {i}", flt=TicketFilter(channel=["email"], tag=[f"t{i}"])) for i in range(8)
    ]
    sizes = []
    for views in (few, many):
        with CaptureQueriesContext(connection) as queries:
            counts = view_counts(agent, saved_filters(views))
        sizes.append(len(queries))
        assert counts[few[0].count_key] == 2 and counts["open"] == 3
    assert sizes[0] == sizes[1] == 2  # the stamp of the latest change, then one statement


def test_counts_follow_saved_views_and_ticket_changes(agent):
    ticket = new_ticket("Counted", email="counted@example.org")
    view = save_view(agent, name="Urgent", flt=URGENT)
    assert view_counts(agent, saved_filters([view]))[view.count_key] == 0
    update_ticket(ticket, agent, TicketChanges(priority=Priority.URGENT))
    assert view_counts(agent, saved_filters([view]))[view.count_key] == 1
    save_view(agent, name="Urgent chats", flt=TicketFilter(priority=[Priority.URGENT], channel=["chat"]), view=view)
    view.refresh_from_db()
    assert view_counts(agent, saved_filters([view]))[view.count_key] == 0


def test_counts_respect_what_an_agent_may_see(restricted_agent, agent, admin, second_level):
    for i in range(2):
        t = new_ticket(f"Seen {i}", email=f"seen{i}@example.org")
        update_ticket(t, agent, TicketChanges(priority=Priority.URGENT, group=second_level if i else None))
    view = save_view(admin, name="Urgent", flt=URGENT, sharing=Sharing.EVERYONE)
    assert view_counts(admin, saved_filters([view]))[view.count_key] == 2
    assert view_counts(restricted_agent, saved_filters([view]))[view.count_key] == 1
