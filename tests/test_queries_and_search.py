"""Inbox views, filters, keyset pagination and full-text search (FTS5 or PostgreSQL, per leg)."""

from __future__ import annotations

import pytest

from sportello.core.errors import InvalidInput
from sportello.customers.services import Sender
from sportello.search.backend import search_tickets
from sportello.tickets import statuses
from sportello.tickets.access import tickets_visible_to
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import Priority, StatusCategory
from sportello.tickets.queries import TicketFilter, list_tickets, view_counts
from sportello.tickets.services import TicketChanges, update_ticket

pytestmark = pytest.mark.django_db


def make(n: int, **kw):
    return [
        ingest(
            Inbound(
                channel=kw.get("channel", "web"),
                sender=Sender(name=f"Person {i}", email=f"p{i}@example.com"),
                subject=f"Question {i}",
                body_text=f"Body {i}",
                acknowledge=False,
                priority=kw.get("priority", Priority.NORMAL),
            )
        ).ticket
        for i in range(n)
    ]


def test_views_and_counts_follow_status_and_assignee(agent, agent2):
    tickets = make(4)
    update_ticket(tickets[0], agent, TicketChanges(assignee=agent))
    update_ticket(tickets[1], agent, TicketChanges(status=statuses.builtin(StatusCategory.PENDING), assignee=agent))
    update_ticket(tickets[2], agent, TicketChanges(status=statuses.builtin(StatusCategory.SOLVED)))
    counts = view_counts(agent)
    assert counts == {"mine": 2, "unassigned": 1, "open": 2, "pending": 1, "on_hold": 0, "solved": 1}
    assert view_counts(agent2)["mine"] == 0


def test_filters_combine(agent):
    email = make(2, channel="email")
    make(2, channel="chat", priority=Priority.URGENT)
    update_ticket(email[0], agent, TicketChanges(tags=["billing"]))
    page = list_tickets(agent, TicketFilter(channel=["email"]))
    assert {t.pk for t in page.tickets} == {t.pk for t in email}
    assert len(list_tickets(agent, TicketFilter(priority=[Priority.URGENT])).tickets) == 2
    assert [t.pk for t in list_tickets(agent, TicketFilter(tag=["Billing"])).tickets] == [email[0].pk]
    assert len(list_tickets(agent, TicketFilter(assignee=[0])).tickets) == 4


@pytest.mark.parametrize("sort", ["newest", "oldest", "priority", "created"])
def test_keyset_pages_cover_every_ticket_once(agent, sort):
    tickets = make(7)
    for t in tickets[::2]:
        update_ticket(t, agent, TicketChanges(priority=Priority.HIGH))
    seen, cursor, pages = [], None, 0
    while True:
        page = list_tickets(agent, TicketFilter(), sort=sort, cursor=cursor, size=3)
        seen += [t.pk for t in page.tickets]
        pages += 1
        cursor = page.next_cursor
        if not cursor:
            break
    assert sorted(seen) == sorted(t.pk for t in tickets) and len(seen) == len(set(seen))
    assert pages == 3


def test_page_query_count_does_not_grow_with_page_size(agent, django_assert_max_num_queries):
    make(30)
    with django_assert_max_num_queries(3):
        list_tickets(agent, TicketFilter(view="open"), size=5)
    with django_assert_max_num_queries(3):
        list_tickets(agent, TicketFilter(view="open"), size=30)


def test_bad_filter_values_are_clear_errors(agent):
    for flt in (TicketFilter(view="nope"), TicketFilter(state=["x"]), TicketFilter(channel=["fax"])):
        with pytest.raises(InvalidInput):
            list_tickets(agent, flt)
    with pytest.raises(InvalidInput, match="cursor"):
        list_tickets(agent, TicketFilter(), cursor="garbage!")
    with pytest.raises(InvalidInput, match="sort"):
        list_tickets(agent, TicketFilter(), sort="random")


def test_restricted_agent_sees_only_their_groups(agent, restricted_agent, second_level):
    _a, b = make(2)
    update_ticket(b, agent, TicketChanges(group=second_level))
    assert list(tickets_visible_to(restricted_agent)) == [b]
    assert tickets_visible_to(agent).count() == 2


def test_customers_see_no_tickets_through_agent_gates(ticket, customer_user):
    assert tickets_visible_to(customer_user).count() == 0


def test_search_finds_subject_body_customer_name_and_address(agent, ticket):
    ingest(
        Inbound(
            channel="email",
            sender=Sender(name="Dragomir Petrov", email="dragomir@firma.bg"),
            subject="Фактура липсва",
            body_text="The quarterly invoice never arrived; please resend.",
            acknowledge=False,
        )
    )
    visible = tickets_visible_to(agent)
    by = {
        q: [t.subject for t in search_tickets(q, visible)]
        for q in [
            "printer",
            "room 4",
            "quarterly invoice",
            "Dragomir",
            "dragomir@firma.bg",
            "firma.bg",
            "фактура",
            "invoic",
        ]
    }
    assert by["printer"] == ["Printer on fire"] and by["room 4"] == ["Printer on fire"]
    for q in ["quarterly invoice", "Dragomir", "dragomir@firma.bg", "firma.bg", "фактура", "invoic"]:
        assert by[q] == ["Фактура липсва"], q
    assert search_tickets("nothing-like-this", visible) == []
    assert search_tickets(f"#{ticket.number}", visible)[0] == ticket


def test_search_respects_the_access_gate(ticket, restricted_agent):
    assert search_tickets("printer", tickets_visible_to(restricted_agent)) == []


def test_search_survives_query_syntax(agent, ticket):
    visible = tickets_visible_to(agent)
    for hostile in ['"', "printer AND", "NEAR(", "*", "a:b", "') OR 1=1 --", "\\", "&|!", "   "]:
        search_tickets(hostile, visible)  # never an error, whatever the engine's syntax
    assert search_tickets('"printer"', visible) == [ticket]


def test_search_follows_thread_changes(agent, ticket):
    from sportello.tickets.services import add_note

    add_note(ticket, agent, body_text="Replaced the toner cartridge")
    assert search_tickets("cartridge", tickets_visible_to(agent)) == [ticket]


def test_search_for_a_digit_like_symbol_is_not_a_reference_number(agent, ticket):
    # "²".isdigit() is true but int("²") fails: such a query is text, not a ticket number.
    assert search_tickets("²", tickets_visible_to(agent)) == []


def test_view_counts_stop_at_the_cap(agent, monkeypatch):
    from sportello.tickets import queries

    monkeypatch.setattr(queries, "VIEW_COUNT_CAP", 3)
    make(5)
    counts = view_counts(agent)
    assert counts["open"].capped and str(counts["open"]) == "3+"
    assert not counts["solved"].capped and str(counts["solved"]) == "0"


def test_search_finds_old_tickets_past_the_recent_window(agent, monkeypatch):
    """A word found only in old tickets (or in too few recent ones) is taken from the index whole:
    the newest matches still come back, best first, old and recent alike."""
    monkeypatch.setattr("sportello.search.backend.RECENT_IDS", 3)
    old = make(2)
    for ticket in old:
        update_ticket(ticket, agent, TicketChanges(subject=f"Vintage {ticket.subject}"))
    recent = make(6)
    update_ticket(recent[-1], agent, TicketChanges(subject="Vintage again"))
    found = search_tickets("vintage", tickets_visible_to(agent))
    assert sorted(t.pk for t in found) == sorted([old[0].pk, old[1].pk, recent[-1].pk])
    assert search_tickets("question", tickets_visible_to(agent), limit=2)[0].pk in {t.pk for t in recent}
