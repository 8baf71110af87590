"""Linked tickets: related, and parent/child with the children listed on the parent."""

from __future__ import annotations

import pytest
from django.urls import reverse

from sportello.core.errors import InvalidInput
from sportello.tickets.models import Change, TicketLink
from sportello.tickets.services import link_tickets
from tests.conftest import client_for
from tests.web.conftest import new_ticket, page_text

pytestmark = pytest.mark.django_db


def link(client, ticket, target, kind: str):  # type: ignore[no-untyped-def]
    return client.post(reverse("ticket-link", args=[ticket.number]), {"target": f"#{target.number}", "kind": kind})


def test_children_are_listed_on_the_parent_and_the_parent_on_each_child(ticket, agent):
    first = new_ticket("Outage: cannot log in", email="a@example.org")
    second = new_ticket("Login broken for me too", email="b@example.org")
    client = client_for(agent)
    assert link(client, ticket, first, "child").status_code == 302
    assert link(client, second, ticket, "parent").status_code == 302  # the other way round
    parent_page = page_text(client.get(reverse("ticket", args=[ticket.number])))
    card = parent_page[parent_page.index('id="linked-tickets"') :]
    assert "Children" in card and f'data-linked="{first.number}"' in card and f'data-linked="{second.number}"' in card
    child_page = page_text(client.get(reverse("ticket", args=[first.number])))
    card = child_page[child_page.index('id="linked-tickets"') :]
    assert "Parent" in card and f'data-linked="{ticket.number}"' in card
    assert Change.objects.filter(ticket=ticket, field="child", new_value=f"#{first.number}").exists()
    assert Change.objects.filter(ticket=first, field="parent", new_value=f"#{ticket.number}").exists()


def test_related_tickets_show_on_both(ticket, agent):
    other = new_ticket("Same printer, other floor", email="c@example.org")
    client = client_for(agent)
    link(client, ticket, other, "related")
    for one, two in ((ticket, other), (other, ticket)):
        html = page_text(client.get(reverse("ticket", args=[one.number])))
        assert f'data-linked="{two.number}"' in html[html.index('id="linked-tickets"') :]


def test_unlink_removes_it_from_both(ticket, agent):
    other = new_ticket("Same printer, other floor", email="c@example.org")
    made = link_tickets(ticket, other, agent, kind="related")
    client = client_for(agent)
    response = client.post(reverse("ticket-unlink", args=[other.number, made.pk]))
    assert response.status_code == 302 and not TicketLink.objects.exists()
    assert client.post(reverse("ticket-unlink", args=[other.number, made.pk])).status_code == 404


def test_refused_links_say_why_and_stay_on_the_ticket(ticket, agent):
    child = new_ticket("Child", email="d@example.org")
    grandchild = new_ticket("Grandchild", email="e@example.org")
    link_tickets(ticket, child, agent, kind="child")
    link_tickets(child, grandchild, agent, kind="child")
    with pytest.raises(InvalidInput, match="is above"):
        link_tickets(grandchild, ticket, agent, kind="child")  # a cycle
    with pytest.raises(InvalidInput, match="has a parent already"):
        link_tickets(grandchild, new_ticket("Another", email="h@example.org"), agent, kind="parent")
    with pytest.raises(InvalidInput, match="linked to itself"):
        link_tickets(ticket, ticket, agent, kind="related")
    client = client_for(agent)
    response = link(client, ticket, child, "related")
    assert response.status_code == 302 and response["Location"] == reverse("ticket", args=[ticket.number])
    assert "linked already" in page_text(client.get(response["Location"]))
    response = client.post(reverse("ticket-link", args=[ticket.number]), {"target": "999999", "kind": "related"})
    assert "No ticket #999999" in page_text(client.get(response["Location"]))


def test_a_restricted_agent_does_not_see_links_to_tickets_beyond_their_groups(ticket, agent, restricted_agent,
                                                                               second_level):  # fmt: skip
    from sportello.tickets.services import TicketChanges, update_ticket

    mine = new_ticket("Visible to Rita", email="f@example.org")
    update_ticket(mine, agent, TicketChanges(group=second_level))
    link_tickets(mine, ticket, agent, kind="related")
    html = page_text(client_for(restricted_agent).get(reverse("ticket", args=[mine.number])))
    assert f'data-linked="{ticket.number}"' not in html and "Printer on fire" not in html


@pytest.mark.parametrize("persona", [None, "customer_user", "light_agent"])
def test_strangers_cannot_link(request, ticket, persona):
    other = new_ticket("Other", email="g@example.org")
    user = request.getfixturevalue(persona) if persona else None
    response = link(client_for(user), ticket, other, "related")
    assert response.status_code in (302, 403) and not TicketLink.objects.exists()
    if user is None:
        assert response["Location"].startswith("/accounts/login/")
