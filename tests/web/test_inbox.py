"""The inbox: built-in views with counts, filters, sort orders, keyset pages, bounded queries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sportello.tickets import statuses
from sportello.tickets.models import Channel, Priority, StatusCategory
from sportello.tickets.services import TicketChanges, update_ticket
from tests.conftest import client_for
from tests.web.conftest import listed_numbers, new_ticket, page_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def spread(agent, agent2, second_level):
    """Tickets in every view: unassigned new, mine, Bob's, pending, on hold, solved."""
    t = {
        "unassigned": new_ticket("Unassigned and new", email="u@example.org"),
        "mine": new_ticket("Assigned to Alice", email="m@example.org"),
        "bobs": new_ticket("Assigned to Bob", email="b@example.org", channel=Channel.CHAT),
        "pending": new_ticket("Waiting for the customer", email="p@example.org"),
        "on_hold": new_ticket("Parts ordered", email="h@example.org"),
        "solved": new_ticket("All done", email="s@example.org"),
    }
    update_ticket(t["mine"], agent, TicketChanges(assignee=agent, priority=Priority.URGENT, tags=["vip"]))
    update_ticket(t["bobs"], agent, TicketChanges(assignee=agent2, group=second_level))
    for name, category in (("pending", "pending"), ("on_hold", "on_hold"), ("solved", "solved")):
        update_ticket(t[name], agent, TicketChanges(status=statuses.builtin(category)))
    return t


def numbers(*tickets) -> set[int]:  # type: ignore[no-untyped-def]
    return {t.number for t in tickets}


def inbox(user, **params):  # type: ignore[no-untyped-def]
    return client_for(user).get(reverse("inbox"), params)


def test_views_list_the_right_tickets(agent, spread):
    expected = {
        "mine": numbers(spread["mine"]),
        "unassigned": numbers(spread["unassigned"]),
        "open": numbers(spread["unassigned"], spread["mine"], spread["bobs"]),
        "pending": numbers(spread["pending"]),
        "on_hold": numbers(spread["on_hold"]),
        "solved": numbers(spread["solved"]),
    }
    for view, wanted in expected.items():
        assert set(listed_numbers(inbox(agent, view=view))) == wanted, view


def test_views_show_their_counts(agent, spread):
    html = page_text(inbox(agent))
    for view, count in (("mine", 1), ("unassigned", 1), ("open", 3), ("pending", 1), ("on_hold", 1), ("solved", 1)):
        assert f'data-view="{view}"' in html
        link = html[html.index(f'data-view="{view}"') :]
        assert f'<span class="count">{count}</span>' in link[: link.index("</a>")], view


def test_default_view_is_my_open_tickets(agent, spread):
    response = inbox(agent)
    assert listed_numbers(response) == [spread["mine"].number]
    link = page_text(response).split('data-view="mine"', 1)[1]
    assert 'aria-current="page"' in link[: link.index(">")]


def test_rows_show_what_an_agent_needs(agent, spread):
    html = page_text(inbox(agent, view="open"))
    row = html[html.index(f'data-ticket="{spread["bobs"].number}"') :]
    row = row[: row.index("</tr>")]
    for expected in (
        f"#{spread['bobs'].number}",
        "Assigned to Bob",
        "Dora Bianchi",
        "Chat",
        "New",
        "Normal",
        "Bob Agent",
    ):
        assert expected in row
    assert f'href="{reverse("ticket", args=[spread["bobs"].number])}"' in row


@pytest.mark.parametrize(
    ("params", "wanted"),
    [
        ({"priority": int(Priority.URGENT)}, ["mine"]),
        ({"channel": "chat"}, ["bobs"]),
        ({"tag": "VIP"}, ["mine"]),
        ({"assignee": "0"}, ["unassigned", "pending", "on_hold", "solved"]),
        ({"group": "second_level"}, ["bobs"]),
        ({"status": "on_hold"}, ["on_hold"]),
    ],
)
def test_filters(agent, agent2, spread, second_level, params, wanted):
    if params.get("group") == "second_level":
        params = {"group": second_level.pk}
    if params.get("status") == "on_hold":
        params = {"status": statuses.builtin(StatusCategory.ON_HOLD).pk}
    assert set(listed_numbers(inbox(agent, view="all", **params))) == numbers(*(spread[w] for w in wanted))


def test_filter_by_assignee_combines_with_a_view(agent, agent2, spread):
    assert listed_numbers(inbox(agent, view="open", assignee=agent2.pk)) == [spread["bobs"].number]


def test_unknown_filter_values_are_reported_not_fatal(agent, spread):
    response = inbox(agent, view="all", priority="99", channel="pigeon")
    assert response.status_code == 200
    assert "Some filters were not understood" in page_text(response)
    assert len(listed_numbers(response)) == 6


def test_sort_orders(agent, spread):
    newest = listed_numbers(inbox(agent, view="all", sort="newest"))
    oldest = listed_numbers(inbox(agent, view="all", sort="oldest"))
    assert oldest == newest[::-1] and len(newest) == 6
    assert listed_numbers(inbox(agent, view="all", sort="priority"))[0] == spread["mine"].number


def test_keyset_pages_cover_every_ticket_once(agent, settings):
    settings.INBOX_PAGE_SIZE = 4
    made = {new_ticket(f"Ticket {i}", email=f"p{i}@example.org").number for i in range(10)}
    client = client_for(agent)
    seen: list[int] = []
    url = reverse("inbox") + "?view=unassigned"
    for _ in range(5):
        response = client.get(url)
        seen += listed_numbers(response)
        html = page_text(response)
        if 'rel="next"' not in html:
            break
        assert "Next page" in html
        url = reverse("inbox") + html.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    assert len(seen) == 10 and set(seen) == made


def test_a_broken_cursor_gives_a_clear_error(agent):
    response = inbox(agent, cursor="not-a-cursor")
    assert response.status_code == 422 and "The page cursor is not valid" in page_text(response)


def test_restricted_agent_sees_only_their_groups_tickets(restricted_agent, spread):
    assert listed_numbers(inbox(restricted_agent, view="all")) == [spread["bobs"].number]


def test_htmx_filter_request_gets_the_page_with_the_results_block(agent, spread):
    response = client_for(agent).get(reverse("inbox"), {"view": "all", "channel": "chat"}, HTTP_HX_REQUEST="true")
    html = page_text(response)
    assert 'id="inbox-results"' in html and listed_numbers(response) == [spread["bobs"].number]
    assert 'hx-select="#inbox-results"' in html


def _count_queries(user) -> int:  # type: ignore[no-untyped-def]
    client = client_for(user)
    client.get(reverse("inbox"), {"view": "all"})  # warm caches (built-in status ids, session)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("inbox"), {"view": "all"}).status_code == 200
    return len(queries)


def test_inbox_query_count_is_small_and_does_not_grow_with_rows(agent, django_assert_max_num_queries):
    for i in range(3):
        new_ticket(f"Few {i}", email=f"few{i}@example.org", name="" if i == 0 else "Named")
    few = _count_queries(agent)
    for i in range(40):
        t = new_ticket(f"Many {i}", email=f"many{i}@example.org", name="")  # nameless: shown by address
        if i % 3 == 0:
            update_ticket(t, agent, TicketChanges(assignee=agent, tags=["a", "b"]))
    many = _count_queries(agent)
    assert many == few
    client = client_for(agent)
    # session, user, agents, counts' stamp, rows, identities, 2 choices, saved views
    with django_assert_max_num_queries(9):
        response = client.get(reverse("inbox"), {"view": "all"})
    assert len(listed_numbers(response)) == 43
    assert "many0@example.org" in page_text(response)


def test_counts_are_not_recounted_on_every_page_but_follow_changes(agent, spread):
    client = client_for(agent)
    client.get(reverse("inbox"))
    with CaptureQueriesContext(connection) as queries:
        html = page_text(client.get(reverse("inbox"), {"view": "open"}))
    assert not [q for q in queries if "COUNT(" in q["sql"].upper()]  # nothing changed: counted before
    assert '<span class="count">1</span>' in html[html.index('data-view="mine"') :]
    update_ticket(spread["unassigned"], agent, TicketChanges(assignee=agent))
    html = page_text(client.get(reverse("inbox"), {"view": "open"}))
    for view, count in (("mine", 2), ("unassigned", 0), ("open", 3)):
        link = html[html.index(f'data-view="{view}"') :]
        assert f'<span class="count">{count}</span>' in link[: link.index("</a>")], view


def test_a_renamed_status_shows_in_the_rows_at_once(agent, spread):
    """The rows' statuses come from the process's copy of the lookups: a rename is seen on the next page."""
    client = client_for(agent)
    client.get(reverse("inbox"), {"view": "open"})
    status = spread["bobs"].status
    status.name = "Freshly opened"
    status.save()
    html = page_text(client.get(reverse("inbox"), {"view": "open"}))
    row = html[html.index(f'data-ticket="{spread["bobs"].number}"') :]
    assert "Freshly opened" in row[: row.index("</tr>")]
