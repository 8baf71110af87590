"""The groups and tiers settings page: add, rename, members and tier; deleting is refused while
rules name the group, and its tickets can be moved to another group first."""

from __future__ import annotations

import pytest
from django.urls import reverse

from sportello.accounts.models import Group, Role
from sportello.audit.models import Action, AuditEvent
from sportello.automation.models import Trigger
from sportello.sla.models import Policy
from sportello.tickets.models import Ticket
from tests.conftest import client_for, make_user
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


# --- How the group hands out its tickets ----------------------------------------------------------------


def _group_form(group: Group, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": group.name,
        "tier": str(group.tier),
        "members": [m.pk for m in group.members.all()],
        "assignment_method": "none",
        "default_capacity": "",
    }
    data.update(changes)
    return data


def test_an_admin_sets_the_assignment_method_and_capacity_and_tickets_follow_it(
    admin, agent, first_level, django_capture_on_commit_callbacks
):
    from sportello.automation.models import GroupAssignment
    from sportello.customers.services import Sender
    from sportello.tickets.intake import Inbound, ingest

    ben = make_user("ben_agent", Role.AGENT)
    first_level.members.add(ben)
    client = client_for(admin)
    url = reverse("settings-group", args=[first_level.pk])
    html = page_text(client.get(url))
    assert "Assignment of new tickets" in html and "Default capacity (open tickets per agent)" in html
    assert '<option value="none" selected>Manual: agents take tickets or assign them</option>' in html

    response = client.post(url, _group_form(first_level, assignment_method="round_robin", default_capacity="1"))
    assert response.status_code == 302
    saved = GroupAssignment.objects.get(group=first_level)
    assert (saved.method, saved.default_capacity) == ("round_robin", 1)
    html = page_text(client.get(GROUPS))
    assert "Round-robin, at most 1 open ticket each" in html
    html = page_text(client.get(url))
    assert '<option value="round_robin" selected>' in html and 'name="default_capacity" value="1"' in html
    event = AuditEvent.objects.filter(action=Action.SETTINGS_CHANGED, target_type="automation.groupassignment").last()
    assert event is not None and event.after["method"] == "round_robin" and event.after["default_capacity"] == 1

    # Three tickets come in: one each for the two online agents, the third waits (capacity 1).
    tickets = []
    for n in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            tickets.append(
                ingest(
                    Inbound(
                        channel="web", sender=Sender(name="Carla", email=f"carla{n}@example.com"),
                        subject=f"Help {n}", body_text="Broken.", group=first_level, acknowledge=False,
                    )
                ).ticket
            )  # fmt: skip
    assignees = sorted(str(Ticket.objects.get(pk=t.pk).assignee_id) for t in tickets)
    assert assignees == sorted([str(agent.pk), str(ben.pk), "None"])
    # The group page shows each agent's load against the capacity.
    html = page_text(client.get(url))
    assert "Agents and their load" in html and "1 ticket of this group waits for an agent." in html
    assert html.count("<strong>full</strong>") == 2


def test_an_agents_own_capacity_shows_over_the_groups_default(admin, agent, first_level):
    from sportello.automation.assignment import configure_group_assignment, set_agent_profile

    configure_group_assignment(first_level, method="least_load", default_capacity=5)
    set_agent_profile(agent, max_open_tickets=2)
    bob = make_user("bob_builder", Role.AGENT)
    first_level.members.add(bob)
    html = page_text(client_for(admin).get(reverse("settings-group", args=[first_level.pk])))
    row = html[html.index(f'data-agent="{agent.pk}"') :]
    assert "<td>2</td>" in row[: row.index("</tr>")]
    row = html[html.index(f'data-agent="{bob.pk}"') :]
    assert "<td>5</td>" in row[: row.index("</tr>")]


def test_saving_a_group_left_on_manual_assignment_adds_no_settings(admin, first_level):
    from sportello.automation.models import GroupAssignment

    client = client_for(admin)
    assert client.post(reverse("settings-group", args=[first_level.pk]), _group_form(first_level)).status_code == 302
    assert client.post(GROUPS, {"name": "Billing", "tier": "1", "assignment_method": "none"}).status_code == 302
    assert not GroupAssignment.objects.exists()
    assert "Manual" in page_text(client.get(GROUPS))


def test_a_new_group_can_start_with_automatic_assignment(admin):
    from sportello.automation.models import GroupAssignment

    data = {"name": "Billing", "tier": "1", "assignment_method": "least_load", "default_capacity": ""}
    assert client_for(admin).post(GROUPS, data).status_code == 302
    saved = GroupAssignment.objects.get(group__name="Billing")
    assert (saved.method, saved.default_capacity) == ("least_load", None)


def test_bad_assignment_settings_are_refused_with_422(admin, first_level):
    from sportello.automation.assignment import configure_group_assignment
    from sportello.automation.models import GroupAssignment

    configure_group_assignment(first_level, method="round_robin", default_capacity=3)
    client = client_for(admin)
    url = reverse("settings-group", args=[first_level.pk])
    for changes, message in [
        ({"assignment_method": "fastest"}, "Select a valid choice. fastest is not one of the available choices."),
        ({"default_capacity": "-1"}, "Ensure this value is greater than or equal to 0."),
        ({"default_capacity": "many"}, "Enter a whole number."),
        ({"default_capacity": "100001"}, "Ensure this value is less than or equal to 100000."),
    ]:
        response = client.post(url, _group_form(first_level, **{"assignment_method": "least_load", **changes}))
        assert response.status_code == 422, changes
        assert message in page_text(response), changes
    saved = GroupAssignment.objects.get(group=first_level)
    assert (saved.method, saved.default_capacity) == ("round_robin", 3)
