"""The bell's pages: what an agent sees and clicks, what a stranger is refused, and their cost."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sportello.notifications.models import DEFAULTS, Kind, Notification, Preference
from tests.conftest import client_for
from tests.notifications.conftest import phoned_in

pytestmark = pytest.mark.django_db


def notify(recipient, ticket, *, actor=None, n: int = 0, kind: str = Kind.MENTIONED) -> Notification:
    return Notification.objects.create(
        recipient=recipient, kind=kind, ticket=ticket, actor=actor, text=f"note {n}", key=f"test:{recipient.pk}:{n}"
    )


def test_the_header_has_the_bell_and_the_page_pays_no_query_for_it(agent):
    page = client_for(agent).get("/notifications/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="bell"' in html and 'data-socket="/ws/agent/notifications/"' in html
    assert "notifications/bell.js" in html and "notifications/mentions.js" in html


def test_the_menu_lists_mine_newest_first_with_what_happened(agent, agent2):
    ticket = phoned_in()
    notify(agent2, ticket, actor=agent, n=1)
    notify(agent2, ticket, actor=agent, n=2)
    notify(agent, ticket, actor=agent2, n=3)  # someone else's
    html = client_for(agent2).get("/notifications/menu").content.decode()
    assert html.index("note 2") < html.index("note 1")
    assert f"Alice Agent mentioned you on #{ticket.number}" in html
    assert "note 3" not in html
    assert "Mark all read" in html and "/notifications/preferences/" in html


def test_the_menu_costs_the_same_queries_for_1_or_8_notifications(agent, agent2):
    ticket = phoned_in()
    client = client_for(agent2)
    notify(agent2, ticket, actor=agent, n=0)
    with CaptureQueriesContext(connection) as one:
        assert client.get("/notifications/menu").status_code == 200
    for n in range(1, 8):
        notify(agent2, phoned_in(email=f"c{n}@example.com"), actor=agent, n=n)
    with CaptureQueriesContext(connection) as eight:
        assert client.get("/notifications/menu").content.decode().count("data-notification=") == 8
    assert len(eight.captured_queries) == len(one.captured_queries) <= 3  # session, user, notifications


def test_opening_a_notification_marks_it_read_and_goes_to_its_ticket(agent, agent2):
    ticket = phoned_in()
    notification = notify(agent2, ticket, actor=agent)
    answer = client_for(agent2).post(f"/notifications/{notification.pk}/open")
    assert answer.status_code == 302 and answer["Location"] == f"/tickets/{ticket.number}/"
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_mark_read_and_mark_all_read(agent, agent2):
    ticket = phoned_in()
    first, second, third = (notify(agent2, ticket, n=n) for n in range(3))
    client = client_for(agent2)
    answer = client.post(f"/notifications/{first.pk}/read", {"next": "/notifications/"}, HTTP_HX_REQUEST="true")
    assert answer.status_code == 204
    assert list(Notification.objects.filter(read_at__isnull=True).order_by("pk")) == [second, third]
    answer = client.post("/notifications/read-all", {"next": "https://evil.example/"})
    assert answer.status_code == 302 and answer["Location"] == "/notifications/"  # not off-site
    assert not Notification.objects.filter(read_at__isnull=True).exists()


def test_nobody_reads_or_opens_another_agents_notification(agent, agent2):
    notification = notify(agent2, phoned_in())
    client = client_for(agent)
    assert client.post(f"/notifications/{notification.pk}/open").status_code == 404
    assert client.post(f"/notifications/{notification.pk}/read").status_code == 404
    assert client.post("/notifications/999999/read").status_code == 404
    client.post("/notifications/read-all")
    notification.refresh_from_db()
    assert notification.read_at is None


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/notifications/"),
        ("get", "/notifications/menu"),
        ("get", "/notifications/preferences/"),
        ("post", "/notifications/preferences/"),
        ("post", "/notifications/read-all"),
        ("post", "/notifications/1/read"),
        ("post", "/notifications/1/open"),
    ],
)
def test_strangers_are_refused(customer_user, method, path):
    anonymous = getattr(client_for(None), method)(path)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert getattr(client_for(customer_user), method)(path).status_code == 403


def test_the_list_page_pages_back_and_filters_unread(agent, agent2):
    ticket = phoned_in()
    made = [notify(agent2, ticket, n=n) for n in range(52)]
    made[0].read_at = made[0].created_at
    made[0].save()
    client = client_for(agent2)
    first = client.get("/notifications/").content.decode()
    assert first.count('data-notification="') == 50 and "note 51" in first and "note 1<" not in first
    older = client.get(f"/notifications/?before={made[2].pk}").content.decode()
    assert "note 1<" in older and "note 0<" in older
    unread = client.get("/notifications/?unread=on&before=abc").content.decode()  # a bad cursor: the first page
    assert unread.count('data-notification="') == 50


def test_preferences_show_the_defaults_and_save_the_choices(agent):
    client = client_for(agent)
    page = client.get("/notifications/preferences/").content.decode()
    for kind, (in_app, by_mail) in DEFAULTS.items():
        assert (f'id="{kind}-mail" checked' in page) == by_mail
        assert (f'id="{kind}-app" checked' in page) == in_app
    answer = client.post("/notifications/preferences/", {"mentioned-app": "on", "customer_replied-mail": "on"})
    assert answer.status_code == 302
    chosen = {p.kind: (p.in_app, p.by_mail) for p in Preference.objects.filter(user=agent)}
    assert chosen[Kind.MENTIONED] == (True, False)
    assert chosen[Kind.CUSTOMER_REPLIED] == (False, True)
    assert chosen[Kind.ASSIGNED] == (False, False)


def test_an_admin_sees_notifications_in_the_admin(admin, agent2):
    notify(agent2, phoned_in())
    client = client_for(admin)
    assert client.get("/admin/notifications/notification/").status_code == 200
    assert client.get("/admin/notifications/preference/").status_code == 200
    assert client.get("/admin/notifications/notification/add/").status_code == 403
