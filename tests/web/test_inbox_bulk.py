"""The inbox's bulk bar and saved views over HTTP: choosing, applying, refusals, sharing, counts."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sportello.inbox.models import SavedView, Sharing
from sportello.inbox.services import save_view
from sportello.tickets.models import Priority, Ticket
from sportello.tickets.queries import TicketFilter
from sportello.tickets.services import TicketChanges, update_ticket
from tests.conftest import client_for
from tests.web.conftest import listed_numbers, new_ticket, page_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def four(db) -> list[Ticket]:
    return [new_ticket(f"Row {i}", email=f"row{i}@example.org") for i in range(4)]


def picks(tickets: list[Ticket]) -> str:
    return ",".join(f"{t.number}:{t.version}" for t in tickets)


def post_bulk(user, **data):  # type: ignore[no-untyped-def]
    return client_for(user).post(reverse("inbox_bulk"), data, HTTP_HX_REQUEST="true")


def test_rows_carry_a_checkbox_with_the_version_seen(agent, four):
    html = page_text(client_for(agent).get(reverse("inbox"), {"view": "all"}))
    for t in four:
        assert f'name="pick" value="{t.number}:{t.version}"' in html
    assert 'id="bulk-form"' in html and 'id="pick-page"' in html


def test_search_keeps_its_plain_table(agent, four):
    html = page_text(client_for(agent).get(reverse("search"), {"q": "Row"}))
    assert 'name="pick"' not in html and "Last update" in html


def test_bulk_assign_reports_how_many(agent, agent2, four):
    response = post_bulk(agent, action="update", tickets=picks(four), assignee=str(agent2.pk))
    assert response.status_code == 200
    assert "4 updated" in page_text(response)
    assert Ticket.objects.filter(assignee=agent2).count() == 4


def test_bulk_refusals_name_the_ticket_and_who_changed_it(agent, agent2, four):
    seen = picks(four)
    update_ticket(four[2], agent2, TicketChanges(priority=Priority.HIGH))
    text = page_text(post_bulk(agent, action="update", tickets=seen, priority=str(Priority.URGENT)))
    assert "3 updated, 1 refused" in text
    assert f"#{four[2].number} was changed by Bob Agent" in text


def test_unassign_and_clear_group(agent, first_level, four):
    for t in four[:2]:
        update_ticket(t, agent, TicketChanges(assignee=agent, group=first_level))
    fresh = list(Ticket.objects.filter(pk__in=[t.pk for t in four[:2]]))
    post_bulk(agent, action="update", tickets=picks(fresh), assignee="0", group="0")
    assert not Ticket.objects.filter(assignee__isnull=False).exists()
    assert not Ticket.objects.filter(group__isnull=False).exists()


def test_every_ticket_matching_the_filters_across_pages(agent, settings, four):
    settings.INBOX_PAGE_SIZE = 2
    html = page_text(client_for(agent).get(reverse("inbox"), {"view": "all"}))
    assert 'data-matching="4"' in html and 'data-more="yes"' in html
    response = post_bulk(agent, action="update", match="view=all", add_tags="batch")
    assert "4 updated" in page_text(response)
    assert Ticket.objects.filter(tags__name="batch").count() == 4


def test_merge_from_the_inbox(agent, four):
    text = page_text(post_bulk(agent, action="merge", tickets=picks(four[:3]), merge_into=str(four[0].number)))
    assert "2 updated" in text and Ticket.objects.filter(merged_into=four[0]).count() == 2


def test_delete_is_refused_to_agents_and_done_for_admins(agent, admin, four):
    assert post_bulk(agent, action="delete", tickets=picks(four)).status_code == 403
    assert Ticket.objects.count() == 4
    assert "Delete" not in re.sub(r"Delete (the|this)", "", page_text(client_for(agent).get(reverse("inbox"))))
    assert "2 updated" in page_text(post_bulk(admin, action="delete", tickets=picks(four[:2])))
    assert Ticket.objects.count() == 2


def test_strangers_cannot_bulk(light_agent, customer_user, four):
    assert client_for(None).post(reverse("inbox_bulk"), {"action": "update", "tickets": picks(four)}).status_code == 302
    assert post_bulk(customer_user, action="update", tickets=picks(four), priority="1").status_code == 403
    assert post_bulk(light_agent, action="update", tickets=picks(four), priority="1").status_code == 403
    assert not Ticket.objects.filter(priority=1).exists()


def test_malformed_bulk_input_is_a_clear_error(agent, four):
    response = post_bulk(agent, action="update", tickets="12;drop table", priority="1")
    assert response.status_code == 422 and "Not a list of ticket numbers" in page_text(response)
    assert post_bulk(agent, action="explode", tickets=picks(four)).status_code == 422
    assert client_for(agent).get(reverse("inbox_bulk")).status_code == 405


def test_save_a_view_and_open_it(agent, four):
    update_ticket(four[1], agent, TicketChanges(priority=Priority.URGENT))
    client = client_for(agent)
    response = client.post(
        reverse("inbox_save_view"), {"name": "Urgent ones", "sharing": "personal", "params": "view=all&priority=4"}
    )
    view = SavedView.objects.get()
    assert response.status_code == 302 and response["Location"].startswith(f"/?saved={view.pk}&")
    page = client.get(response["Location"])
    assert listed_numbers(page) == [four[1].number]
    html = page_text(page)
    link = html[html.index(f'data-saved="{view.pk}"') :]
    assert 'aria-current="page"' in link[: link.index(">")]
    assert "Urgent ones" in link and '<span class="count">1</span>' in link[: link.index("</a>")]


def test_a_shared_view_shows_for_the_group_with_its_count(agent, light_agent, agent2, first_level, four):
    update_ticket(four[0], agent, TicketChanges(priority=Priority.URGENT))
    client_for(agent).post(
        reverse("inbox_save_view"),
        {"name": "L1 urgent", "sharing": "group", "group": first_level.pk, "params": "view=all&priority=4"},
    )
    view = SavedView.objects.get(sharing=Sharing.GROUP)
    html = page_text(client_for(light_agent).get(reverse("inbox")))
    link = html[html.index(f'data-saved="{view.pk}"') :]
    assert "L1 urgent" in link and '<span class="count">1</span>' in link[: link.index("</a>")]
    assert f'data-saved="{view.pk}"' not in page_text(client_for(agent2).get(reverse("inbox")))


def test_saving_refusals(agent, agent2, second_level, customer_user):
    client = client_for(agent)
    data = {"name": "Theirs", "sharing": "group", "group": second_level.pk, "params": "priority=4"}
    assert client.post(reverse("inbox_save_view"), data).status_code == 403
    assert client.post(reverse("inbox_save_view"), {**data, "sharing": "everyone"}).status_code == 403
    assert client.post(reverse("inbox_save_view"), {"sharing": "personal", "params": "priority=4"}).status_code == 422
    assert (
        client_for(customer_user).post(reverse("inbox_save_view"), {**data, "sharing": "personal"}).status_code == 403
    )
    assert not SavedView.objects.exists()
    view = save_view(agent2, name="Bob's", flt=TicketFilter(priority=[4]))
    assert client.post(reverse("inbox_delete_view", args=[view.pk])).status_code == 404  # not visible to Alice
    assert client.post(reverse("inbox_delete_view", args=[999999])).status_code == 404
    assert SavedView.objects.filter(pk=view.pk).exists()


def test_sortable_headers_and_their_pages(agent, settings):
    settings.INBOX_PAGE_SIZE = 3
    made = [new_ticket(f"Sorted {i}", email=f"sorted{i}@example.org") for i in range(7)]
    for t in made[::2]:
        update_ticket(t, agent, TicketChanges(priority=Priority.HIGH))
    client = client_for(agent)
    for sort in ("number", "number_asc", "priority", "priority_asc", "newest", "oldest", "created", "created_asc"):
        seen: list[int] = []
        url = reverse("inbox") + f"?view=all&sort={sort}"
        for _ in range(5):
            html = page_text(response := client.get(url))
            seen += listed_numbers(response)
            if 'rel="next"' not in html:
                break
            url = reverse("inbox") + html.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
        assert sorted(seen) == sorted(t.number for t in made), sort
        if sort == "number_asc":
            assert seen == sorted(seen)
        if sort == "priority":
            assert set(seen[:4]) == {t.number for t in made[::2]}
    html = page_text(client.get(reverse("inbox"), {"view": "all", "sort": "number"}))
    assert 'data-col="number" aria-sort="descending"' in html and "sort=number_asc" in html


def _queries(user, **params) -> int:  # type: ignore[no-untyped-def]
    client = client_for(user)
    client.get(reverse("inbox"), params)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("inbox"), params).status_code == 200
    return len(queries)


def test_query_count_is_constant_in_page_size_and_number_of_views(agent, settings):
    for i in range(4):
        new_ticket(f"Q {i}", email=f"q{i}@example.org", name="")  # shown by address: one query for all
    settings.INBOX_PAGE_SIZE = 2
    small = _queries(agent, view="all")
    save_view(agent, name="One", flt=TicketFilter(priority=[4]))
    one_view = _queries(agent, view="all")
    for i in range(9):
        save_view(agent, name=f"View {i}", flt=TicketFilter(tag=[f"t{i}"], channel=["email"]))
    for i in range(30):
        new_ticket(f"More {i}", email=f"more{i}@example.org", name="")
    settings.INBOX_PAGE_SIZE = 30
    big = _queries(agent, view="all")
    assert small == one_view == big, (small, one_view, big)


def test_the_owner_updates_a_saved_view_with_the_current_filters(agent, agent2, four):
    update_ticket(four[0], agent, TicketChanges(priority=Priority.URGENT))
    update_ticket(four[1], agent, TicketChanges(priority=Priority.LOW))
    view = save_view(agent, name="Urgent", flt=TicketFilter(priority=[Priority.URGENT]), params="view=all&priority=4")
    client = client_for(agent)
    html = page_text(client.get(reverse("inbox"), {"saved": view.pk, "view": "all", "priority": 4}))
    assert reverse("inbox_edit_view", args=[view.pk]) in html and "Update “Urgent”" in html
    response = client.post(
        reverse("inbox_edit_view", args=[view.pk]),
        {"name": "Low ones", "sharing": "personal", "params": "view=all&priority=1"},
    )
    assert response.status_code == 302
    view.refresh_from_db()
    assert view.name == "Low ones" and view.filter == {"priority": [1]}
    assert listed_numbers(client.get(response["Location"])) == [four[1].number]
    # Someone else's personal view is not even there to update.
    theirs = client_for(agent2).post(
        reverse("inbox_edit_view", args=[view.pk]), {"name": "Mine now", "sharing": "personal", "params": "priority=4"}
    )
    assert theirs.status_code == 404 and SavedView.objects.get(pk=view.pk).name == "Low ones"


def test_the_bulk_bar_fields_are_named_for_screen_readers(agent, four):
    html = page_text(client_for(agent).get(reverse("inbox")))
    bar = html[html.index('id="bulk-form"') : html.index("</form>", html.index('id="bulk-form"'))]
    for name in ("status", "assignee", "group", "priority"):
        select = re.search(rf'<select[^>]*name="{name}"[^>]*>', bar)
        assert select is not None and "aria-label=" in select.group(0), name


def test_every_refresh_of_the_list_brings_the_views_and_their_counts(agent, four):
    response = client_for(agent).get(reverse("inbox"), {"view": "all"}, HTTP_HX_REQUEST="true")
    html = page_text(response)
    assert '<nav id="inbox-views" hx-swap-oob="true"' in html  # swapped out of band by htmx
    link = html[html.index('data-view="unassigned"') :]
    assert '<span class="count">4</span>' in link[: link.index("</a>")]
