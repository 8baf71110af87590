"""The live dashboard: its figures against a hand-built set of tickets, what a restricted agent
sees, who is refused, and a constant number of queries (page, fragment and API give the same)."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sportello.accounts.models import Availability, Role, User
from sportello.chat.models import ChatChannel, Conversation, ConversationState
from sportello.customers.services import Sender
from sportello.reports import dashboard as dashboard_module
from sportello.reports import facts, rollup
from sportello.reports.dashboard import dashboard
from sportello.reports.models import TicketCount
from sportello.sla.models import TicketSLA
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import Ticket
from tests.conftest import api_client, client_for, make_user

pytestmark = pytest.mark.django_db

# 10:30 UTC = 11:30 in Rome (winter): "today" there began at 23:00 UTC the day before.
NOW = datetime(2026, 1, 14, 10, 30, tzinfo=UTC)


def make(subject: str, *, state: str = "new", group=None, assignee=None, created: datetime | None = None,
         solved: datetime | None = None, due: datetime | None = None, merged_into=None) -> Ticket:  # fmt: skip
    ticket = ingest(
        Inbound(
            channel="web",
            sender=Sender(name="Carla", email="carla@example.com"),
            subject=subject,
            body_text="Help",
            acknowledge=False,
        )
    ).ticket
    Ticket.objects.filter(pk=ticket.pk).update(
        state=state,
        group=group,
        assignee=assignee,
        created_at=created or NOW - timedelta(days=3),
        solved_at=solved,
        merged_into=merged_into,
    )
    TicketSLA.objects.update_or_create(ticket=ticket, defaults={"next_due": due})
    ticket.refresh_from_db()
    return ticket


@pytest.fixture
def desk(agent, agent2, first_level, second_level, light_agent):
    """Tickets in both groups and in none, with a hand-counted answer for each figure.

    First level: open unassigned (breaching in 30 min, created today in Rome, 23:30 UTC
    yesterday), new assigned to alice (breached), pending assigned to alice, solved today (10:00
    UTC) by alice, solved yesterday (Rome).
    Second level: open assigned to bob (due in 2 h: not breaching), new unassigned created today.
    No group: new unassigned, breaching in 10 min; one merged into it (counted nowhere but created).
    """
    bob_offline = agent2
    User.objects.filter(pk=light_agent.pk).update(availability=Availability.OFFLINE)
    today_rome = datetime(2026, 1, 13, 23, 30, tzinfo=UTC)
    t = [
        make("1", state="open", group=first_level, created=today_rome, due=NOW + timedelta(minutes=30)),
        make("2", state="new", group=first_level, assignee=agent, due=NOW - timedelta(minutes=5)),
        make("3", state="pending", group=first_level, assignee=agent),
        make("4", state="solved", group=first_level, assignee=agent, solved=NOW - timedelta(minutes=30)),
        make("5", state="closed", group=first_level, assignee=agent, solved=datetime(2026, 1, 13, 22, 0, tzinfo=UTC)),
        make("6", state="open", group=second_level, assignee=bob_offline, due=NOW + timedelta(hours=2)),
        make("7", state="new", group=second_level, created=NOW - timedelta(hours=1)),
        make("8", state="new", due=NOW + timedelta(minutes=10)),
    ]
    make("9", state="new", group=first_level, created=NOW - timedelta(hours=2), merged_into=t[7])
    facts.refresh(Ticket.objects.values_list("pk", flat=True))
    channel = ChatChannel.objects.create(name="Site", key="site")
    for ticket, state in ((t[0], ConversationState.WAITING), (t[6], ConversationState.WAITING),
                          (t[7], ConversationState.ACTIVE)):  # fmt: skip
        Conversation.objects.create(channel=channel, ticket=ticket, customer=ticket.customer, state=state)
    return t


def zoned(user: User, zone: str = "Europe/Rome") -> User:
    user.time_zone = zone
    user.save(update_fields=["time_zone"])
    return user


def test_the_figures_of_a_hand_built_desk(desk, agent, agent2, admin):
    figures = dashboard(zoned(admin), now=NOW)
    # Open (new or open, not merged): 1, 2, 6, 7, 8. Unassigned: 1, 7, 8.
    assert (figures.open, figures.unassigned) == (5, 3)
    # Due within the hour: 1 (30 min), 8 (10 min); past due: 2. Ticket 6 is due in 2 h.
    assert (figures.breaching, figures.breached) == (2, 1)
    assert figures.waiting_chats == 2
    # Since 23:00 UTC (midnight in Rome): 1, 7 and the merged 9. Solved: 4 (5 was solved yesterday there).
    assert (figures.created_today, figures.solved_today) == (3, 1)
    # Online: ada, alice, bob (lucy is offline); alice holds 2 (new, open; pending left out), bob 1.
    assert [(a.name, a.load) for a in figures.agents] == [("Alice Agent", 1), ("Bob Agent", 1), ("Ada Admin", 0)]
    assert not figures.restricted


def test_today_is_the_readers_day(desk, admin):
    # In UTC today began at 00:00: ticket 1 (23:30 the day before) was yesterday, ticket 5 too.
    figures = dashboard(zoned(admin, "UTC"), now=NOW)
    assert (figures.created_today, figures.solved_today) == (2, 1)
    # In Los Angeles it is 02:30 on the 14th: the day began at 08:00 UTC.
    figures = dashboard(zoned(admin, "America/Los_Angeles"), now=NOW)
    assert (figures.created_today, figures.solved_today) == (2, 1)
    assert figures.time_zone == "America/Los_Angeles"


def test_a_restricted_agent_sees_their_groups_figures(desk, restricted_agent, agent2):
    figures = dashboard(zoned(restricted_agent), now=NOW)
    # Second level only: 6 (bob's, due in 2 h), 7 (unassigned, created today, waiting chat).
    assert figures.restricted
    assert (figures.open, figures.unassigned, figures.breaching, figures.breached) == (2, 1, 0, 0)
    assert (figures.waiting_chats, figures.created_today, figures.solved_today) == (1, 1, 0)
    # The online members of their groups, with the load they carry in those groups.
    assert [(a.name, a.load) for a in figures.agents] == [("Bob Agent", 1), ("Rita Restricted", 0)]


def test_the_page_fragment_and_api_agree(desk, admin, restricted_agent):
    for user, figure in ((admin, "5"), (restricted_agent, "2")):
        page = client_for(user).get(reverse("reports:dashboard"))
        assert page.status_code == 200
        html = page.content.decode()
        assert 'data-figure="open"' in html and f'<p class="figure">{figure}</p>' in html
        part = client_for(user).get(reverse("reports:dashboard"), {"part": "figures"})
        assert part.status_code == 200 and "<html" not in part.content.decode()
        data = api_client(user).get("/api/v1/reports/dashboard").json()
        assert data["open"] == int(figure)
        assert set(data) >= {"unassigned", "breaching", "breached", "waiting_chats", "agents_online", "agents",
                             "created_today", "solved_today", "restricted", "time_zone"}  # fmt: skip


def test_the_reports_index_links_to_the_dashboard(agent):
    html = client_for(agent).get(reverse("reports:index")).content.decode()
    assert f'href="{reverse("reports:dashboard")}"' in html


@pytest.mark.parametrize("persona", ["customer_user", "stranger"])
def test_customers_and_strangers_are_refused(request, persona):
    user = request.getfixturevalue(persona)
    assert client_for(user).get(reverse("reports:dashboard")).status_code == 403
    response = api_client(user).get("/api/v1/reports/dashboard")
    assert response.status_code == 403 and response.json() == {"detail": "Agents only"}
    assert client_for(None).get(reverse("reports:dashboard")).status_code == 302  # to sign in
    assert client_for(None).get("/api/v1/reports/dashboard").status_code == 401


def test_a_constant_number_of_queries(desk, admin, first_level):
    def count(user: User) -> int:
        with CaptureQueriesContext(connection) as queries:
            dashboard(user, now=NOW)
        return len(queries)

    # The agents online, then every count in one statement.
    assert count(admin) == 2
    for i in range(5):  # more agents online, more tickets: the same queries
        helper = make_user(f"helper_{i}", Role.AGENT)
        first_level.members.add(helper)
        make(f"more {i}", state="open", group=first_level, assignee=helper, due=NOW + timedelta(minutes=i))
    assert count(admin) == 2
    assert dashboard(admin, now=NOW).agents_online == 8


def test_a_restricted_agent_takes_one_query_more(desk, restricted_agent):
    with CaptureQueriesContext(connection) as queries:
        dashboard(restricted_agent, now=NOW)
    assert len(queries) == 3  # their groups first


def test_figures_past_the_cap_say_so(desk, admin, agent, monkeypatch):
    monkeypatch.setattr(dashboard_module, "CAP", 2)
    figures = dashboard(zoned(admin), now=NOW)
    # Created today (3) is past a cap of 2; breaching (2) is not. Open (5), unassigned (3) and the
    # agents' loads are exact sums of the kept counts: never capped.
    assert (str(figures.created_today), str(figures.breaching)) == ("2+", "2")
    assert (str(figures.open), str(figures.unassigned)) == ("5", "3")
    assert figures.capped == ["created_today"]
    assert [str(a.load) for a in figures.agents] == ["1", "1", "0"]
    html = client_for(admin).get(reverse("reports:dashboard"), {"part": "figures"}).content.decode()
    assert '<p class="figure">5</p>' in html  # open, at a real "now" (nothing created today)
    data = api_client(admin).get("/api/v1/reports/dashboard").json()
    assert data["open"] == 5 and "open" not in data["capped"]


def test_the_open_counts_follow_the_facts(desk, admin, agent):
    """Kept as the facts are written: a ticket solved, one assigned, one deleted, and a recount
    from the facts gives the same rows."""
    t1, t7, t8 = desk[0], desk[6], desk[7]
    Ticket.objects.filter(pk=t1.pk).update(state="solved", solved_at=NOW)
    Ticket.objects.filter(pk=t7.pk).update(assignee=agent)
    facts.refresh([t1.pk, t7.pk])
    figures = dashboard(zoned(admin), now=NOW)
    assert (figures.open, figures.unassigned) == (4, 1)  # 2, 6, 7, 8; only 8 unassigned
    assert dict((a.name, a.load) for a in figures.agents)["Alice Agent"] == 2  # 2 and 7
    Ticket.objects.filter(merged_into=t8).update(merged_into=None)
    Ticket.objects.filter(pk=t8.pk).delete()
    assert (dashboard(admin, now=NOW).open, dashboard(admin, now=NOW).unassigned) == (3, 0)
    kept = sorted(TicketCount.objects.values_list(*rollup.COUNT_KEY, "tickets"))
    with transaction.atomic():
        rollup.recount()
    assert sorted(TicketCount.objects.values_list(*rollup.COUNT_KEY, "tickets")) == kept
    # Reports 0012 recounted them with their channel and priority: the same rows.
    migration = importlib.import_module("sportello.reports.migrations.0012_ticket_counts_by_channel_and_priority")
    with connection.cursor() as cursor:
        for statement in migration.RECOUNT:
            cursor.execute(statement)
    assert sorted(TicketCount.objects.values_list(*rollup.COUNT_KEY, "tickets")) == kept
