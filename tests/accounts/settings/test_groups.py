"""The groups and tiers settings page: add, rename, members and tier; deleting is refused while
rules name the group, and its tickets can be moved to another group first."""

from __future__ import annotations

import pytest
from django.urls import reverse

from sportello.accounts.models import Group
from sportello.audit.models import Action, AuditEvent
from sportello.automation.models import Trigger
from sportello.sla.models import Policy
from sportello.tickets.models import Ticket
from tests.conftest import client_for
from tests.web.conftest import page_text

pytestmark = pytest.mark.django_db

GROUPS = "/settings/groups/"


def test_an_admin_adds_a_group_with_a_tier_and_members(admin, agent, agent2):
    client = client_for(admin)
    data = {"name": " Billing ", "description": "Invoices", "tier": "2", "members": [agent.pk, agent2.pk]}
    response = client.post(GROUPS, data)
    assert response.status_code == 302
    group = Group.objects.get(name="Billing")
    assert (group.tier, group.description) == (2, "Invoices")
    assert sorted(m.username for m in group.members.all()) == ["alice_agent", "bob_agent"]
    html = page_text(client.get(GROUPS))
    assert 'data-group="Billing"' in html and "Group “Billing” added." in html
    event = AuditEvent.objects.filter(action=Action.SETTINGS_CHANGED, target_label="Billing").first()
    assert event is not None and event.after["tier"] == 2 and event.actor_label == "ada_admin"


def test_an_admin_renames_a_group_and_changes_members_and_tier(admin, agent, agent2, first_level):
    agent.is_active = False  # deactivated members stay in their groups, for when they come back
    agent.save()
    client = client_for(admin)
    url = reverse("settings-group", args=[first_level.pk])
    html = page_text(client.get(url))
    assert "Deactivated members stay" in html and "Alice Agent" in html
    response = client.post(url, {"name": "Front desk", "tier": "1", "members": [agent2.pk]})
    assert response.status_code == 302
    first_level.refresh_from_db()
    assert first_level.name == "Front desk"
    assert sorted(m.username for m in first_level.members.all()) == ["alice_agent", "bob_agent"]
    event = AuditEvent.objects.filter(action=Action.SETTINGS_CHANGED, target_id=str(first_level.pk)).last()
    assert event is not None and (event.before, event.after) == ({"name": "First level"}, {"name": "Front desk"})


def test_group_forms_say_what_is_wrong_with_422(admin, first_level, second_level, customer_user):
    client = client_for(admin)
    for data, message in [
        ({"name": "Second level", "tier": "1"}, "A group named &#x27;Second level&#x27; already exists"),
        ({"name": "", "tier": "1"}, "This field is required."),
        ({"name": "Tier zero", "tier": "0"}, "greater than or equal to 1"),
        ({"name": "Letters", "tier": "two"}, "Enter a whole number."),
        ({"name": "Customers", "tier": "1", "members": [customer_user.pk]}, "Select a valid choice."),
    ]:
        response = client.post(reverse("settings-group", args=[first_level.pk]), data)
        assert response.status_code == 422, data
        assert message in page_text(response), data
        assert client.post(GROUPS, data).status_code == 422, data
    first_level.refresh_from_db()
    assert first_level.name == "First level"


def test_an_unused_group_is_deleted(admin, second_level):
    client = client_for(admin)
    url = reverse("settings-group-delete", args=[second_level.pk])
    assert "No ticket and no rule uses this group." in page_text(client.get(url))
    assert client.post(url).status_code == 302
    assert not Group.objects.filter(pk=second_level.pk).exists()


def test_a_group_that_rules_name_is_kept_with_the_reason(admin, second_level):
    Trigger.objects.create(
        name="Escalate VIPs", event="ticket_created", actions=[{"type": "set_group", "group": second_level.pk}]
    )
    Policy.objects.create(name="Tier 2 hours").groups.add(second_level)
    client = client_for(admin)
    url = reverse("settings-group-delete", args=[second_level.pk])
    html = page_text(client.get(url))
    assert "cannot be deleted while these use it" in html
    assert "Trigger “Escalate VIPs”" in html and "SLA policy “Tier 2 hours”" in html
    response = client.post(url)
    assert response.status_code == 422 and "Change these first." in page_text(response)
    assert Group.objects.filter(pk=second_level.pk).exists()


def test_a_group_with_tickets_is_deleted_once_they_are_moved(admin, ticket, first_level, second_level):
    Ticket.objects.filter(pk=ticket.pk).update(group=second_level)
    client = client_for(admin)
    url = reverse("settings-group-delete", args=[second_level.pk])
    assert "1 ticket is in this group." in page_text(client.get(url))
    refused = client.post(url, {"move_to": ""})
    assert refused.status_code == 422 and "still has 1 tickets" in page_text(refused)
    assert client.post(url, {"move_to": str(first_level.pk)}).status_code == 302
    assert not Group.objects.filter(pk=second_level.pk).exists()
    ticket.refresh_from_db()
    assert ticket.group_id == first_level.pk
    history = ticket.changes.filter(field="group").get()  # the ticket history says who moved it
    assert history.actor_id == admin.pk
