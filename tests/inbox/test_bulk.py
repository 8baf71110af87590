"""Bulk changes: one transaction per ticket, refusals reported per ticket, the access rules kept."""

from __future__ import annotations

import pytest

from sportello.core.errors import Forbidden, InvalidInput
from sportello.inbox.services import BulkChanges, bulk_targets, bulk_update
from sportello.tickets import statuses
from sportello.tickets.models import Change, Priority, StatusCategory, Ticket
from sportello.tickets.queries import TicketFilter
from sportello.tickets.services import TicketChanges, update_ticket
from tests.web.conftest import new_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def three(db) -> list[Ticket]:
    return [new_ticket(f"Bulk {i}", email=f"bulk{i}@example.org") for i in range(3)]


def targets(tickets: list[Ticket], versions: bool = True) -> list[tuple[int, int | None]]:
    return [(t.number, t.version if versions else None) for t in tickets]


def test_fields_change_on_every_ticket_with_history(agent, agent2, second_level, three):
    solved = statuses.builtin(StatusCategory.SOLVED)
    changes = BulkChanges(status=solved, assignee=agent2, group=second_level, priority=Priority.HIGH)
    outcome = bulk_update(agent, targets(three), changes)
    assert sorted(outcome.updated) == sorted(t.number for t in three) and not outcome.refused
    for ticket in Ticket.objects.filter(pk__in=[t.pk for t in three]):
        assert (ticket.status, ticket.assignee, ticket.group, ticket.priority) == (
            solved,
            agent2,
            second_level,
            Priority.HIGH,
        )
        fields = set(Change.objects.filter(ticket=ticket, actor=agent).values_list("field", flat=True))
        assert {"status", "assignee", "group", "priority"} <= fields


def test_tags_are_added_and_removed_keeping_the_others(agent, three):
    update_ticket(three[0], agent, TicketChanges(tags=["keep", "drop"]))
    outcome = bulk_update(agent, targets(three, versions=False), BulkChanges(add_tags=["New"], remove_tags=["drop"]))
    assert len(outcome.updated) == 3
    assert sorted(Ticket.objects.get(pk=three[0].pk).tags.values_list("name", flat=True)) == ["keep", "new"]
    assert list(Ticket.objects.get(pk=three[1].pk).tags.values_list("name", flat=True)) == ["new"]


def test_a_ticket_changed_meanwhile_is_refused_with_who_changed_it(agent, agent2, three):
    seen = targets(three)
    update_ticket(three[1], agent2, TicketChanges(priority=Priority.URGENT))
    outcome = bulk_update(agent, seen, BulkChanges(assignee=agent))
    assert sorted(outcome.updated) == sorted([three[0].number, three[2].number])
    assert [r.number for r in outcome.refused] == [three[1].number]
    assert "Bob Agent" in outcome.refused[0].reason and f"#{three[1].number}" in outcome.refused[0].reason
    assert Ticket.objects.get(pk=three[1].pk).assignee_id is None  # left as it was


def test_tickets_out_of_sight_are_refused_as_not_found(restricted_agent, agent, second_level, three):
    update_ticket(three[0], agent, TicketChanges(group=second_level))
    outcome = bulk_update(restricted_agent, targets(three, versions=False), BulkChanges(priority=Priority.LOW))
    assert outcome.updated == [three[0].number]
    assert sorted(r.number for r in outcome.refused) == sorted([three[1].number, three[2].number])
    assert all("was not found" in r.reason for r in outcome.refused)
    assert Ticket.objects.get(pk=three[1].pk).priority == Priority.NORMAL


def test_unknown_numbers_are_refused_not_fatal(agent, three):
    outcome = bulk_update(agent, [(three[0].number, None), (999999, None)], BulkChanges(priority=Priority.LOW))
    assert outcome.updated == [three[0].number] and outcome.refused[0].number == 999999


def test_nothing_to_change_is_reported_as_unchanged(agent, three):
    outcome = bulk_update(agent, targets(three), BulkChanges(priority=Priority.NORMAL))
    assert outcome.updated == [] and len(outcome.unchanged) == 3


def test_merge_into_one_moves_the_others_threads(agent, three):
    outcome = bulk_update(agent, targets(three), BulkChanges(merge_into=three[0].number))
    assert sorted(outcome.updated) == sorted([three[1].number, three[2].number])
    assert Ticket.objects.filter(merged_into=three[0]).count() == 2
    assert Ticket.objects.get(pk=three[0].pk).entries.count() == 3


def test_delete_is_for_admins(agent, admin, three):
    with pytest.raises(Forbidden):
        bulk_update(agent, targets(three), BulkChanges(delete=True))
    assert Ticket.objects.count() == 3
    outcome = bulk_update(admin, targets(three[:2]), BulkChanges(delete=True))
    assert len(outcome.updated) == 2 and list(Ticket.objects.values_list("pk", flat=True)) == [three[2].pk]


def test_light_agents_and_customers_are_refused(light_agent, customer_user, three):
    for user in (light_agent, customer_user):
        with pytest.raises(Forbidden):
            bulk_update(user, targets(three), BulkChanges(priority=Priority.LOW))
    assert not Ticket.objects.filter(priority=Priority.LOW).exists()


def test_one_action_at_a_time(agent, three):
    with pytest.raises(InvalidInput):
        bulk_update(agent, targets(three), BulkChanges())
    with pytest.raises(InvalidInput):
        bulk_update(agent, targets(three), BulkChanges(priority=Priority.LOW, merge_into=three[0].number))
    with pytest.raises(InvalidInput):
        bulk_update(agent, [], BulkChanges(priority=Priority.LOW))


def test_every_ticket_a_filter_matches(agent, three):
    update_ticket(three[0], agent, TicketChanges(priority=Priority.URGENT))
    update_ticket(three[2], agent, TicketChanges(priority=Priority.URGENT))
    found = bulk_targets(agent, TicketFilter(priority=[Priority.URGENT]))
    assert sorted(number for number, _version in found) == sorted([three[0].number, three[2].number])
