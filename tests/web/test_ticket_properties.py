"""The ticket page's properties panel: each change saved as it is made, checked field by field."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections
from django.urls import reverse

from sportello.accounts.models import User
from sportello.core.errors import Conflict
from sportello.tickets import statuses
from sportello.tickets.models import Change, Priority, StatusCategory, Tag, Ticket
from sportello.tickets.services import TicketChanges, field_value, update_ticket
from tests.conftest import client_for
from tests.web.conftest import page_text

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def panel(ticket: Ticket, **changes: object) -> dict[str, object]:
    """What the panel posts: every field, and the value the agent saw of each (`seen_…`)."""
    seen = {name: field_value(ticket, name) for name in ("status", "priority", "group", "assignee", "category", "tags")}
    data: dict[str, object] = {"version": ticket.version, **seen}
    data.update({f"seen_{name}": value for name, value in seen.items()})
    data.update(changes)
    return data


def fresh(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


def test_the_panel_is_at_the_top_of_the_page_and_saves_on_change(ticket, agent):
    html = page_text(client_for(agent).get(reverse("ticket", args=[ticket.number])))
    form = html[html.index('id="update-form"') - 300 :]
    assert 'hx-trigger="change, submit"' in form[:800]
    assert html.index('id="update-form"') < html.index('class="thread"')  # above the conversation
    assert 'name="seen_priority" value="2"' in html and 'list="tag-options"' in html


def test_changing_one_property_saves_it_and_answers_with_the_panel(ticket, agent):
    response = client_for(agent).post(
        reverse("ticket-update", args=[ticket.number]), panel(ticket, priority=Priority.HIGH), **HTMX
    )
    html = page_text(response)
    assert response.status_code == 200 and "<html" not in html and 'id="update-form"' in html
    assert "Saved: priority." in html
    assert fresh(ticket).priority == Priority.HIGH
    assert 'name="seen_priority" value="3"' in html  # the panel now carries what it shows
    assert list(Change.objects.filter(ticket=ticket).values_list("field", flat=True)) == ["priority"]


def test_two_agents_changing_different_fields_both_win(ticket, agent, agent2):
    alice, bob = client_for(agent), client_for(agent2)
    alice_saw, bob_saw = panel(ticket), panel(ticket)  # both opened the ticket
    alice_saw["priority"] = Priority.URGENT
    bob_saw["assignee"] = agent2.pk
    assert alice.post(reverse("ticket-update", args=[ticket.number]), alice_saw, **HTMX).status_code == 200
    response = bob.post(reverse("ticket-update", args=[ticket.number]), bob_saw, **HTMX)
    assert response.status_code == 200 and "Saved: assignee." in page_text(response)
    ticket = fresh(ticket)
    assert (ticket.priority, ticket.assignee) == (Priority.URGENT, agent2)  # Bob's stale priority left alone


def test_the_same_field_changed_meanwhile_is_refused_naming_it_and_the_other_value(ticket, agent, agent2):
    alice, bob = client_for(agent), client_for(agent2)
    bob_saw = panel(ticket, priority=Priority.LOW)
    alice.post(reverse("ticket-update", args=[ticket.number]), panel(ticket, priority=Priority.URGENT), **HTMX)
    response = bob.post(reverse("ticket-update", args=[ticket.number]), bob_saw, **HTMX)
    html = page_text(response)
    assert response.status_code == 409
    assert "Alice Agent changed priority to “Urgent” meanwhile; your change to “Low” was not saved." in html
    assert "Nothing was saved" not in html
    assert fresh(ticket).priority == Priority.URGENT
    assert 'name="seen_priority" value="4"' in html  # trying again is a deliberate choice


def test_the_same_value_set_meanwhile_is_no_conflict(ticket, agent, agent2):
    pending = statuses.builtin(StatusCategory.PENDING)
    bob_saw = panel(ticket, status=pending.pk)
    client_for(agent).post(reverse("ticket-update", args=[ticket.number]), panel(ticket, status=pending.pk), **HTMX)
    response = client_for(agent2).post(reverse("ticket-update", args=[ticket.number]), bob_saw, **HTMX)
    assert response.status_code == 200 and fresh(ticket).status == pending


def test_tags_added_by_two_agents_are_both_kept(ticket, agent, agent2):
    alice_saw, bob_saw = panel(ticket, tags="printer"), panel(ticket, tags="fire")
    client_for(agent).post(reverse("ticket-update", args=[ticket.number]), alice_saw, **HTMX)
    client_for(agent2).post(reverse("ticket-update", args=[ticket.number]), bob_saw, **HTMX)
    assert sorted(fresh(ticket).tags.values_list("name", flat=True)) == ["fire", "printer"]
    removed = panel(fresh(ticket), tags="fire")
    client_for(agent).post(reverse("ticket-update", args=[ticket.number]), removed, **HTMX)
    assert list(fresh(ticket).tags.values_list("name", flat=True)) == ["fire"]


def test_a_refused_value_is_shown_in_the_panel(ticket, agent):
    response = client_for(agent).post(
        reverse("ticket-update", args=[ticket.number]), panel(ticket, priority="9"), **HTMX
    )
    assert response.status_code == 422 and 'id="update-form"' in page_text(response)
    assert fresh(ticket).priority == Priority.NORMAL


def test_the_service_checks_each_field_against_what_the_agent_saw(ticket, agent, agent2):
    update_ticket(ticket, agent2, TicketChanges(priority=Priority.HIGH))
    # a stale priority, a fresh assignee: the assignee is saved
    update_ticket(fresh(ticket), agent, TicketChanges(assignee=agent), seen={"assignee": ""})
    with pytest.raises(Conflict) as refused:
        update_ticket(fresh(ticket), agent, TicketChanges(priority=Priority.LOW), seen={"priority": "2"})
    [row] = refused.value.details["fields"]
    assert row == {"field": "priority", "value": "High", "yours": "Low", "by": "Bob Agent"}
    assert fresh(ticket).priority == Priority.HIGH and fresh(ticket).assignee == agent


def test_events_name_the_fields_an_agent_changed_not_the_columns(ticket, agent, monkeypatch):
    from sportello.core import events

    published: list[events.Event] = []
    monkeypatch.setattr(events, "publish", lambda *batch: published.extend(batch))
    update_ticket(ticket, agent, TicketChanges(status=statuses.builtin(StatusCategory.SOLVED), priority=Priority.HIGH))
    assert published[-1].data["fields"] == ["status", "priority"]  # not state, solved_at


def test_tag_suggestions_complete_the_last_tag(ticket, agent):
    Tag.objects.create(name="hardware")
    Tag.objects.create(name="hard-drive")
    html = page_text(client_for(agent).get(reverse("tag-suggestions"), {"tags": "billing, har"}))
    assert '<option value="billing, hard-drive">' in html and '<option value="billing, hardware">' in html


@pytest.mark.parametrize("persona", [None, "customer_user", "light_agent"])
def test_strangers_cannot_change_properties_or_list_tags(request, ticket, persona):
    user = request.getfixturevalue(persona) if persona else None
    client = client_for(user)
    response = client.post(reverse("ticket-update", args=[ticket.number]), panel(ticket, priority=4), **HTMX)
    assert response.status_code in (302, 403)
    assert fresh(ticket).priority == Priority.NORMAL
    suggestions = client.get(reverse("tag-suggestions"), {"tags": "a"})
    assert suggestions.status_code == (302 if user is None else 403) or persona == "light_agent"


def test_an_agent_without_access_gets_not_found(ticket, restricted_agent):
    response = client_for(restricted_agent).post(
        reverse("ticket-update", args=[ticket.number]), panel(ticket, priority=4), **HTMX
    )
    assert response.status_code == 404 and fresh(ticket).priority == Priority.NORMAL


@pytest.mark.django_db(transaction=True)
def test_concurrent_saves_of_different_fields_both_land(ticket, agent, agent2):
    """Two agents' saves at the same moment, each in its own connection: the row lock orders them
    and the per-field check lets both through."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serializes writers for the whole database; the row lock is PostgreSQL's")
    seen = {name: field_value(ticket, name) for name in ("priority", "assignee")}
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def save(user: User, changes: TicketChanges) -> None:
        try:
            start.wait()
            update_ticket(Ticket.objects.get(pk=ticket.pk), user, changes, seen=seen)
        except BaseException as err:
            errors.append(err)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=save, args=(agent, TicketChanges(priority=Priority.URGENT))),
        threading.Thread(target=save, args=(agent2, TicketChanges(assignee=agent2))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    ticket = fresh(ticket)
    assert (ticket.priority, ticket.assignee_id, ticket.version) == (Priority.URGENT, agent2.pk, 3)


@pytest.mark.django_db(transaction=True)
def test_concurrent_saves_of_the_same_field_one_wins_one_is_told(ticket, agent, agent2):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serializes writers for the whole database; the row lock is PostgreSQL's")
    seen = {"priority": field_value(ticket, "priority")}
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def save(user: User, priority: int) -> None:
        try:
            start.wait()
            update_ticket(Ticket.objects.get(pk=ticket.pk), user, TicketChanges(priority=priority), seen=seen)
            outcomes.append("saved")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=save, args=(agent, Priority.URGENT)),
               threading.Thread(target=save, args=(agent2, Priority.LOW))]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "saved"]


def test_status_values_show_in_the_agents_language(ticket, agent):
    client = client_for(agent)
    pending = statuses.builtin(StatusCategory.PENDING)
    update_ticket(ticket, agent, TicketChanges(status=pending))
    html = page_text(client.get(reverse("ticket", args=[ticket.number]), HTTP_ACCEPT_LANGUAGE="it"))
    assert '<span class="badge state-pending" data-field="status">In sospeso</span>' in html
    assert f'<option value="{pending.pk}" selected>In sospeso</option>' in html
    assert "“In sospeso”" in html[html.index('id="history"') :]  # stored in English, shown in Italian
    assert Change.objects.get(ticket=ticket, field="status").new_value == "Pending"


def test_without_a_script_the_panel_is_checked_field_by_field_too(ticket, agent, agent2):
    bob_saw = panel(ticket, priority=Priority.LOW)
    client_for(agent).post(reverse("ticket-update", args=[ticket.number]), panel(ticket, priority=Priority.URGENT))
    response = client_for(agent2).post(reverse("ticket-update", args=[ticket.number]), bob_saw)
    html = page_text(response)
    assert response.status_code == 409 and 'id="action-error"' in html
    assert "Alice Agent changed priority to “Urgent” meanwhile" in html and "<html" in html
    other = panel(ticket, assignee=agent2.pk)  # stale priority, fresh assignee: saved
    assert client_for(agent2).post(reverse("ticket-update", args=[ticket.number]), other).status_code == 302
    assert (fresh(ticket).priority, fresh(ticket).assignee) == (Priority.URGENT, agent2)
