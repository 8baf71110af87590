"""Custom fields on the ticket page: shown with the properties, saved as they change, each checked
against what changed meanwhile on its own."""

from __future__ import annotations

import pytest
from django.urls import reverse

from sportello.fields.services import form_value
from sportello.tickets.models import Change, Priority, Ticket
from sportello.tickets.services import TicketChanges, field_value, update_ticket
from tests.conftest import client_for
from tests.web.conftest import page_text

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
PROPERTIES = ("status", "priority", "group", "assignee", "category", "tags")


def panel(ticket: Ticket, **changes: object) -> dict[str, object]:
    """What the panel posts: every property and custom field, with the value the agent saw of each."""
    ticket.refresh_from_db()
    seen = {name: field_value(ticket, name) for name in PROPERTIES}
    for key in ("order_number", "quantity", "delivered_on", "product", "gift"):
        seen[f"cf_{key}"] = form_value(ticket.custom_fields.get(key))
    data: dict[str, object] = {"version": ticket.version, **seen}
    data.update({f"seen_{name}": value for name, value in seen.items()})
    data["cf_colours"] = ["", *ticket.custom_fields.get("colours", [])]
    data["seen_cf_colours"] = form_value(ticket.custom_fields.get("colours"))
    data.update(changes)
    return data


def test_the_panel_shows_each_field_with_its_value(ticket, agent, ticket_fields):
    update_ticket(ticket, agent, TicketChanges(custom_fields={"product": "Gadget", "colours": ["Red"], "gift": True}))
    html = page_text(client_for(agent).get(reverse("ticket", args=[ticket.number])))
    form = html[html.index('id="update-form"') : html.index("</form>", html.index('id="update-form"'))]
    assert '<label for="ticket_cf_order_number">Order number</label>' in form
    assert '<option value="Gadget" selected>Gadget</option>' in form
    assert '<option value="Red" selected>Red</option>' in form and '<option value="Blue">' in form
    assert 'type="checkbox" name="cf_gift" id="ticket_cf_gift" value="true" checked' in form
    assert 'type="date" name="cf_delivered_on"' in form and 'type="number" step="any" name="cf_quantity"' in form
    assert 'name="seen_cf_product" value="Gadget"' in form


def test_changing_a_field_saves_it_with_history(ticket, agent, ticket_fields):
    response = client_for(agent).post(
        reverse("ticket-update", args=[ticket.number]), panel(ticket, cf_product="Gizmo"), **HTMX
    )
    html = page_text(response)
    assert response.status_code == 200 and "Saved: Product." in html
    ticket.refresh_from_db()
    assert ticket.custom_fields == {"product": "Gizmo"}  # the unticked box, never set, is no change
    assert 'name="seen_cf_product" value="Gizmo"' in html
    rows = list(Change.objects.filter(ticket=ticket).values_list("field", "old_value", "new_value"))
    assert ("Product", "", "Gizmo") in rows


def test_multiple_choice_and_checkbox_round_trip(ticket, agent, ticket_fields):
    client = client_for(agent)
    url = reverse("ticket-update", args=[ticket.number])
    client.post(url, panel(ticket, cf_colours=["", "Blue", "Red"], cf_gift=["false", "true"]), **HTMX)
    ticket.refresh_from_db()
    assert ticket.custom_fields["colours"] == ["Red", "Blue"] and ticket.custom_fields["gift"] is True
    client.post(url, panel(ticket, cf_colours=[""], cf_gift="false"), **HTMX)  # all unselected, unticked
    ticket.refresh_from_db()
    assert "colours" not in ticket.custom_fields and ticket.custom_fields["gift"] is False


def test_a_bad_value_is_refused_with_the_field_named(ticket, agent, ticket_fields):
    response = client_for(agent).post(
        reverse("ticket-update", args=[ticket.number]), panel(ticket, cf_quantity="lots"), **HTMX
    )
    assert response.status_code == 422
    assert "Quantity: must be a number" in page_text(response)
    ticket.refresh_from_db()
    assert "quantity" not in ticket.custom_fields


def test_two_agents_changing_different_fields_both_win(ticket, agent, agent2, ticket_fields):
    url = reverse("ticket-update", args=[ticket.number])
    alice_saw, bob_saw = panel(ticket), panel(ticket)
    alice_saw["cf_product"] = "Widget"
    bob_saw["cf_order_number"] = "ORD-7"
    bob_saw["priority"] = Priority.HIGH
    assert client_for(agent).post(url, alice_saw, **HTMX).status_code == 200
    assert client_for(agent2).post(url, bob_saw, **HTMX).status_code == 200
    ticket.refresh_from_db()
    assert ticket.custom_fields["product"] == "Widget" and ticket.custom_fields["order_number"] == "ORD-7"
    assert ticket.priority == Priority.HIGH


def test_the_same_field_changed_meanwhile_is_a_conflict_naming_it(ticket, agent, agent2, ticket_fields):
    url = reverse("ticket-update", args=[ticket.number])
    alice_saw, bob_saw = panel(ticket), panel(ticket)
    alice_saw["cf_product"] = "Widget"
    bob_saw["cf_product"] = "Gizmo"
    assert client_for(agent).post(url, alice_saw, **HTMX).status_code == 200
    response = client_for(agent2).post(url, bob_saw, **HTMX)
    assert response.status_code == 409
    html = page_text(response)
    assert "changed Product to “Widget” meanwhile; your change to “Gizmo” was not saved." in html
    ticket.refresh_from_db()
    assert ticket.custom_fields["product"] == "Widget"


def test_the_page_reads_the_definitions_once_whatever_their_number(
    ticket, agent, ticket_fields, django_assert_max_num_queries
):
    from tests.fields.conftest import make_field

    client = client_for(agent)
    url = reverse("ticket", args=[ticket.number])
    client.get(url)  # definitions read and kept
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as six:
        client.get(url)
    for n in range(10):
        make_field(f"extra_{n}", "text")
    client.get(url)
    with CaptureQueriesContext(connection) as sixteen:
        client.get(url)
    assert len(sixteen) == len(six)
