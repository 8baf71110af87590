"""The hybrid similar-tickets panel: found by meaning too, likely duplicates marked with a one-click
merge, and only tickets the agent may see."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from sportello.semantic import services
from sportello.tickets.models import Ticket
from sportello.tickets.services import TicketChanges, update_ticket
from tests.conftest import client_for
from tests.web.conftest import new_ticket

pytestmark = pytest.mark.django_db


def panel(user, ticket: Ticket) -> str:  # type: ignore[no-untyped-def]
    response = client_for(user).get(reverse("ticket-similar", args=[ticket.number]))
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def parcel(db) -> dict[str, Ticket]:
    """A ticket, its duplicate told in other words (and in Italian), and one of another subject."""
    texts = {
        "first": ("Package marked delivered but missing", "The courier says my order was handed over yesterday."),
        "again": ("Order 5521 never arrived", "Tracking says delivered on Monday but there is no parcel at my door."),
        "italian": (
            "Pacco mai arrivato",
            "Il corriere dice che l'ordine è stato consegnato ieri, non è arrivato niente.",
        ),
        "other": ("Dark mode in the app", "Can the Android app use a dark theme at night?"),
    }
    made = {name: new_ticket(subject, body, email=f"{name}@x.org") for name, (subject, body) in texts.items()}
    services.embed_tickets([t.pk for t in made.values()])
    return made


def test_a_duplicate_in_other_words_is_found_and_marked(agent, parcel):
    html = panel(agent, parcel["again"])
    assert f'data-similar="{parcel["first"].number}" data-duplicate' in html
    assert f'data-similar="{parcel["italian"].number}"' in html  # no word in common: found by meaning
    assert "Likely duplicate" in html and "Dark mode" not in html


def test_one_click_merges_the_newer_ticket_into_the_older(agent, parcel):
    html = panel(agent, parcel["first"])  # the duplicate is newer: it goes into this ticket
    form = re.search(r'<form method="post" action="([^"]+)" class="inline">(.*?)</form>', html, re.S)
    assert form and form.group(1) == reverse("ticket-merge", args=[parcel["again"].number])
    fields = dict(re.findall(r'name="(version|target)" value="([^"]*)"', form.group(2)))
    response = client_for(agent).post(form.group(1), fields)
    assert response.status_code == 302 and response["Location"] == reverse("ticket", args=[parcel["first"].number])
    parcel["again"].refresh_from_db()
    assert parcel["again"].merged_into_id == parcel["first"].pk
    assert f'data-similar="{parcel["again"].number}"' not in panel(agent, parcel["first"])  # merged: gone


def test_a_light_agent_sees_the_mark_without_the_merge(light_agent, parcel):
    html = panel(light_agent, parcel["again"])
    assert "data-duplicate" in html and "<form" not in html


def test_a_restricted_agent_sees_only_their_groups_tickets(agent, restricted_agent, second_level, parcel):
    for name in ("again", "italian"):
        update_ticket(parcel[name], agent, TicketChanges(group=second_level))
    html = panel(restricted_agent, parcel["again"])
    assert f'data-similar="{parcel["italian"].number}"' in html
    assert f'data-similar="{parcel["first"].number}"' not in html  # out of sight, however close
