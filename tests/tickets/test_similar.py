"""Similar tickets by text on the ticket page: the words chosen, the matches on both search backends
(run this file with DATABASE_URL set for PostgreSQL), and who may see what."""

from __future__ import annotations

import pytest
from django.urls import reverse

from sportello.inbox.services import BulkChanges, bulk_update
from sportello.tickets.models import Ticket
from sportello.tickets.services import TicketChanges, add_note, merge_tickets, update_ticket
from sportello.tickets.similar import significant_words, similar_tickets
from tests.conftest import client_for
from tests.web.conftest import new_ticket

pytestmark = pytest.mark.django_db

GRINDER = "The grinder makes a loud rattling noise and the burrs stopped turning after descaling."


@pytest.fixture
def grinder(db) -> Ticket:
    return new_ticket("Coffee grinder rattling", GRINDER, email="carla@example.com", name="Carla Rossi")


def numbers(tickets: list[Ticket]) -> list[int]:
    return [t.number for t in tickets]


def panel(user, ticket: Ticket):  # type: ignore[no-untyped-def]
    return client_for(user).get(reverse("ticket-similar", args=[ticket.number]))


def test_the_words_are_the_subjects_then_the_messages_without_common_words_and_the_customers_name(grinder):
    body = "Hello, please help. Regards, Carla Rossi carla@example.com\n" + GRINDER + " The burrs, the burrs!"
    words = significant_words(grinder, body)
    assert words[:3] == ["coffee", "grinder", "rattling"]
    assert "burrs" in words and len(words) <= 8
    assert not {"hello", "please", "regards", "carla", "rossi", "example", "help", "the"} & set(words)


def test_tickets_sharing_its_words_are_listed_best_first(agent, grinder):
    closest = new_ticket(
        "Grinder rattling again", "My coffee grinder is rattling, the burrs are stuck.", email="a@x.org"
    )
    close = new_ticket("Noisy grinder", "A loud noise from the grinder since yesterday.", email="b@x.org")
    one_word = new_ticket("Grinder manual", "Where is the manual?", email="c@x.org")  # a single word in common
    new_ticket("Invoice address wrong", "The invoice shows my old address.", email="d@x.org")
    found = numbers(similar_tickets(agent, grinder))
    assert found[0] == closest.number and close.number in found
    assert one_word.number not in found and grinder.number not in found and len(found) == 2

    html = panel(agent, grinder).content.decode()
    assert f"#{closest.number} Grinder rattling again" in html and "Invoice" not in html


def test_at_most_five_and_never_merged_spam_or_out_of_sight(agent, restricted_agent, second_level, grinder):
    others = [new_ticket(f"Grinder rattling {i}", GRINDER, email=f"g{i}@x.org") for i in range(8)]
    assert len(similar_tickets(agent, grinder)) == 5
    merge_tickets(others[0], others[1], agent)
    bulk_update(agent, [(others[2].number, None)], BulkChanges(spam=True))
    left = numbers(similar_tickets(agent, grinder, limit=10))
    assert sorted(left) == sorted(t.number for t in others[1:2] + others[3:])

    # An agent restricted to the second level sees only its tickets, the ticket included.
    for ticket in (grinder, others[3], others[4]):
        update_ticket(ticket, agent, TicketChanges(group=second_level))
    seen = numbers(similar_tickets(restricted_agent, Ticket.objects.get(pk=grinder.pk)))
    assert sorted(seen) == sorted([others[3].number, others[4].number])
    html = panel(restricted_agent, grinder).content.decode()
    assert f"#{others[5].number}" not in html and f"#{others[3].number}" in html


def test_internal_notes_do_not_choose_the_words(agent, grinder):
    add_note(grinder, agent, body_text="Escalated to the warranty team, see invoice")
    new_ticket("Warranty invoice", "Warranty invoice escalated team", email="w@x.org")
    assert similar_tickets(agent, grinder) == []


def test_nothing_similar_says_so(agent, grinder):
    response = panel(agent, grinder)
    assert response.status_code == 200 and "No similar tickets." in response.content.decode()


def test_the_ticket_page_loads_the_panel_after_itself(agent, grinder):
    html = client_for(agent).get(reverse("ticket", args=[grinder.number])).content.decode()
    assert f'hx-get="{reverse("ticket-similar", args=[grinder.number])}"' in html


@pytest.mark.parametrize("who", ["customer_user", "stranger"])
def test_customers_and_strangers_are_refused(request, who, grinder):
    new_ticket("Grinder rattling", GRINDER, email="z@x.org")
    response = panel(request.getfixturevalue(who), grinder)
    assert response.status_code == 403 and b"Grinder" not in response.content


def test_signed_out_goes_to_sign_in(grinder):
    response = client_for(None).get(reverse("ticket-similar", args=[grinder.number]))
    assert response.status_code == 302 and "/login" in response["Location"]


def test_a_ticket_out_of_sight_is_not_found(restricted_agent, grinder):
    assert panel(restricted_agent, grinder).status_code == 404


def test_the_panel_costs_the_same_statements_however_many_match(agent, grinder, django_assert_max_num_queries):
    for i in range(6):
        new_ticket(f"Grinder rattling {i}", GRINDER, email=f"q{i}@x.org")
    client = client_for(agent)
    client.get(reverse("ticket-similar", args=[grinder.number]))  # signed in, session saved
    # 8; on PostgreSQL a savepoint around SET LOCAL, and the index's query when the newest
    # documents hold too few; and one for the vectors changed since the last lookup (semantic).
    with django_assert_max_num_queries(12):
        response = client.get(reverse("ticket-similar", args=[grinder.number]))
    assert response.content.decode().count("data-similar=") == 5
