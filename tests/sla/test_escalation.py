"""Support tiers: escalate and de-escalate through the service, the ticket page and the API."""

from __future__ import annotations

import pytest
from django.urls import reverse

from sportello.accounts.models import Group
from sportello.core.errors import Conflict, Forbidden, InvalidInput
from sportello.tickets.escalation import deescalate_ticket, escalate_ticket
from sportello.tickets.models import Change, Entry
from sportello.tickets.services import TicketChanges, update_ticket
from tests.api.conftest import api_as
from tests.conftest import client_for
from tests.web.conftest import page_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def third_level(db) -> Group:
    return Group.objects.create(name="Third level", tier=3)


def test_escalate_moves_up_one_tier_with_a_note_and_history(ticket, agent, agent2, first_level, second_level):
    update_ticket(ticket, agent, TicketChanges(group=first_level, assignee=agent))
    ticket = escalate_ticket(ticket, agent, note="Needs a printer specialist")
    assert ticket.group == second_level
    assert ticket.assignee is None
    note = Entry.objects.filter(ticket=ticket, internal=True).last()
    assert note is not None and "Needs a printer specialist" in note.body_text
    rows = {c.field: c for c in Change.objects.filter(ticket=ticket, ticket_version=ticket.version)}
    assert (rows["tier"].old_value, rows["tier"].new_value) == ("1", "2")
    assert rows["group"].new_value == "Second level"
    assert "Needs a printer specialist" in rows["tier"].note


def test_escalate_from_no_group_goes_to_tier_one(ticket, agent, first_level, second_level):
    assert escalate_ticket(ticket, agent, note="Triage").group == first_level


def test_deescalate_moves_down(ticket, agent, first_level, second_level, third_level):
    update_ticket(ticket, agent, TicketChanges(group=third_level))
    assert deescalate_ticket(ticket, agent, note="Back to you").group == second_level


def test_refusals(ticket, agent, light_agent, first_level, second_level):
    with pytest.raises(InvalidInput, match="hand-off note"):
        escalate_ticket(ticket, agent, note="  ")
    with pytest.raises(Forbidden):
        escalate_ticket(ticket, light_agent, note="Please")
    update_ticket(ticket, agent, TicketChanges(group=second_level))
    with pytest.raises(InvalidInput, match="no group of a higher tier"):
        escalate_ticket(ticket, agent, note="Up")
    with pytest.raises(InvalidInput, match="not of a lower tier"):
        deescalate_ticket(ticket, agent, note="Down", group=second_level)
    with pytest.raises(Conflict):
        deescalate_ticket(ticket, agent, note="Down", expected_version=1)


def test_escalate_button_on_the_ticket_page(ticket, agent, first_level, second_level):
    client = client_for(agent)
    page = page_text(client.get(reverse("ticket", args=[ticket.number])))
    assert 'id="escalate-form"' in page and 'id="sla-panel"' in page
    response = client.post(
        reverse("ticket-escalate", args=[ticket.number]),
        {"note": "Over to you", "direction": "up", "version": ticket.version},
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.group == first_level
    missing_note = client.post(
        reverse("ticket-escalate", args=[ticket.number]), {"note": "", "direction": "up", "version": ticket.version}
    )
    assert missing_note.status_code == 422


@pytest.mark.parametrize("who", ["customer_user", "stranger", "light_agent"])
def test_escalate_page_refuses_others(request, ticket, first_level, who):
    user = request.getfixturevalue(who)
    response = client_for(user).post(
        reverse("ticket-escalate", args=[ticket.number]), {"note": "x", "direction": "up", "version": ticket.version}
    )
    assert response.status_code in (403, 404)
    ticket.refresh_from_db()
    assert ticket.group is None


def test_escalate_api(ticket, agent, first_level, second_level):
    api = api_as(agent)
    response = api.post(f"/tickets/{ticket.number}/escalate", {"note": "Over to you"})
    assert response.status_code == 200, response.content
    assert response.json()["group"]["id"] == first_level.pk
    response = api.post(f"/tickets/{ticket.number}/escalate", {"note": "Further", "group": second_level.pk})
    assert response.json()["group"]["id"] == second_level.pk
    response = api.post(f"/tickets/{ticket.number}/deescalate", {"note": "Back"})
    assert response.json()["group"]["id"] == first_level.pk
    assert api.post(f"/tickets/{ticket.number}/escalate", {}).status_code == 422
    assert api.post(f"/tickets/{ticket.number}/deescalate", {"note": "No tier 0 group"}).status_code == 422


@pytest.mark.parametrize("who", ["customer_user", "stranger", "light_agent"])
def test_escalate_api_refuses_others(request, ticket, first_level, who):
    api = api_as(request.getfixturevalue(who))
    assert api.post(f"/tickets/{ticket.number}/escalate", {"note": "x"}).status_code == 403
