"""Automatic assignment: round-robin, fewest open tickets and skills; only online members, never
above capacity (also with parallel intake on PostgreSQL); the retry sweep; the admin's load page."""

from __future__ import annotations

import logging
import threading
from collections import Counter

import pytest
from django.db import connection, connections
from django.test import Client

from sportello.accounts.models import Availability, Group, Role, User
from sportello.automation import assignment
from sportello.automation.actions import system_user
from sportello.automation.assignment import (
    Candidate,
    Needs,
    assign_waiting_tickets,
    auto_assign_ticket,
    choose_agent,
    configure_group_assignment,
    load_report,
    save_skill,
    set_agent_profile,
)
from sportello.automation.models import AssignmentMethod, GroupAssignment, Skill
from sportello.core import scheduler
from sportello.customers.services import Sender
from sportello.tickets import statuses
from sportello.tickets.escalation import escalate_ticket
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import Category, StatusCategory, Ticket
from sportello.tickets.services import TicketChanges, update_ticket
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(first_level) -> list[User]:
    """Three online agents of the first level."""
    members = [make_user(name, Role.AGENT) for name in ("ann", "ben", "cid")]
    first_level.members.add(*members)
    return members


@pytest.fixture
def open_ticket(db, django_capture_on_commit_callbacks):
    """A customer writes in; the ticket starts in `group`, with the after-commit work run."""

    def write(group: Group | None, *, language: str = "en", tags: list[str] | None = None, n: int = 0) -> Ticket:
        with django_capture_on_commit_callbacks(execute=True):
            ticket = ingest(
                Inbound(
                    channel="web",
                    sender=Sender(name="Carla Rossi", email=f"carla{n}@example.com"),
                    subject=f"Help {n}",
                    body_text="Something is broken.",
                    group=group,
                    language=language,
                    tags=tags or [],
                    acknowledge=False,
                )
            ).ticket
        return Ticket.objects.select_related("assignee").get(pk=ticket.pk)

    return write


def assignees(tickets: list[Ticket]) -> list[str | None]:
    """Who each ticket went to, in order, as it is in the database now."""
    names = dict(Ticket.objects.filter(pk__in=[t.pk for t in tickets]).values_list("pk", "assignee__username"))
    return [names[t.pk] for t in tickets]


def fresh(ticket: Ticket) -> Ticket:
    return Ticket.objects.select_related("assignee", "group").get(pk=ticket.pk)


# --- Round-robin --------------------------------------------------------------------------------------


def test_round_robin_goes_around_the_online_members_in_turn(first_level, team, open_ticket):
    configure_group_assignment(first_level, method=AssignmentMethod.ROUND_ROBIN)
    tickets = [open_ticket(first_level, n=n) for n in range(7)]
    assert assignees(tickets) == ["ann", "ben", "cid", "ann", "ben", "cid", "ann"]


def test_round_robin_is_fair_within_one_over_many_tickets(first_level, team, open_ticket):
    configure_group_assignment(first_level, method=AssignmentMethod.ROUND_ROBIN)
    late = make_user("dan", Role.AGENT)
    tickets = [open_ticket(first_level, n=n) for n in range(20)]
    first_level.members.add(late)  # joins halfway: from now on, in the rotation too
    tickets += [open_ticket(first_level, n=n) for n in range(20, 61)]
    counts = Counter(assignees(tickets[20:]))
    assert set(counts) == {"ann", "ben", "cid", "dan"}
    assert max(counts.values()) - min(counts.values()) <= 1


def test_the_history_says_automation_assigned_it(first_level, team, open_ticket):
    configure_group_assignment(first_level, method=AssignmentMethod.ROUND_ROBIN)
    ticket = open_ticket(first_level)
    change = ticket.changes.get(field="assignee")
    assert change.actor.first_name == "Automation" and change.new_value == "Ann"
    assert ticket.version == 2


def test_only_online_active_agents_of_the_group_are_chosen(first_level, second_level, team, open_ticket):
    ann, ben, _cid = team
    User.objects.filter(pk=ann.pk).update(availability=Availability.AWAY)
    User.objects.filter(pk=ben.pk).update(availability=Availability.OFFLINE)
    outsider = make_user("olga", Role.AGENT)  # online, but in another group
    second_level.members.add(outsider)
    light = make_user("lia", Role.LIGHT_AGENT)
    gone = make_user("gus", Role.AGENT, is_active=False)
    first_level.members.add(light, gone)
    configure_group_assignment(first_level, method=AssignmentMethod.ROUND_ROBIN)
    assert assignees([open_ticket(first_level, n=n) for n in range(3)]) == ["cid"] * 3


def test_method_none_and_tickets_without_a_group_are_left_alone(first_level, team, open_ticket):
    assert open_ticket(first_level).assignee is None  # no settings at all
    configure_group_assignment(first_level, method=AssignmentMethod.NONE)
    assert open_ticket(first_level).assignee is None
    configure_group_assignment(first_level, method=AssignmentMethod.LEAST_LOAD)
    assert open_ticket(None).assignee is None


def test_a_ticket_that_already_has_an_assignee_keeps_it(first_level, team, open_ticket, admin):
    configure_group_assignment(first_level, method=AssignmentMethod.ROUND_ROBIN)
    ticket = open_ticket(None)
    update_ticket(ticket, admin, TicketChanges(assignee=team[2]))
    update_ticket(ticket, admin, TicketChanges(group=first_level))
    assert auto_assign_ticket(ticket.pk) is None
    assert fresh(ticket).assignee == team[2]


# --- Entering a group ---------------------------------------------------------------------------------


def test_moving_a_ticket_into_a_group_assigns_it(
    first_level, second_level, team, open_ticket, admin, django_capture_on_commit_callbacks
):
    bob = make_user("bob", Role.AGENT)
    second_level.members.add(bob)
    configure_group_assignment(second_level, method=AssignmentMethod.LEAST_LOAD)
    ticket = open_ticket(None)
    with django_capture_on_commit_callbacks(execute=True):
        update_ticket(ticket, admin, TicketChanges(group=second_level))
    assert fresh(ticket).assignee == bob


def test_escalation_hands_the_ticket_to_the_next_tiers_agent(
    first_level, second_level, team, open_ticket, admin, django_capture_on_commit_callbacks
):
    bob = make_user("bob", Role.AGENT)
    second_level.members.add(bob)
    configure_group_assignment(first_level, method=AssignmentMethod.ROUND_ROBIN)
    configure_group_assignment(second_level, method=AssignmentMethod.ROUND_ROBIN)
    ticket = open_ticket(first_level)
    assert ticket.assignee is not None and ticket.assignee.username == "ann"
    with django_capture_on_commit_callbacks(execute=True):
        escalate_ticket(ticket, admin, note="Needs the database people")
    assert fresh(ticket).assignee == bob


# --- Least load and capacity ---------------------------------------------------------------------------


def test_least_load_picks_the_agent_with_fewest_open_tickets(first_level, team, open_ticket, admin):
    ann, ben, cid = team
    for owner, count in ((ann, 3), (ben, 1), (cid, 2)):
        for n in range(count):
            update_ticket(open_ticket(None, n=n), admin, TicketChanges(assignee=owner))
    configure_group_assignment(first_level, method=AssignmentMethod.LEAST_LOAD)
    assert assignees([open_ticket(first_level, n=10 + n) for n in range(4)]) == [
        "ben",
        "cid",
        "ben",
        "cid",
    ]  # ties: the next in turn


def test_pending_and_solved_tickets_do_not_count_as_load(first_level, team, open_ticket, admin):
    ann, ben, cid = team
    first_level.members.remove(cid)
    for n in range(2):
        ticket = open_ticket(None, n=n)
        update_ticket(ticket, admin, TicketChanges(assignee=ann, status=statuses.builtin(StatusCategory.PENDING)))
    solved = open_ticket(None, n=5)
    update_ticket(solved, admin, TicketChanges(assignee=ann, status=statuses.builtin(StatusCategory.SOLVED)))
    update_ticket(open_ticket(None, n=6), admin, TicketChanges(assignee=ben))
    configure_group_assignment(first_level, method=AssignmentMethod.LEAST_LOAD)
    assert open_ticket(first_level, n=7).assignee == ann


def test_nobody_is_given_more_than_capacity_and_the_rest_wait(first_level, team, open_ticket):
    configure_group_assignment(first_level, method=AssignmentMethod.ROUND_ROBIN, default_capacity=2)
    set_agent_profile(team[0], max_open_tickets=1)  # Ann's own capacity is lower
    tickets = [open_ticket(first_level, n=n) for n in range(7)]
    counts = Counter(assignees(tickets))
    assert counts == {"ann": 1, "ben": 2, "cid": 2, None: 2}


def test_capacity_zero_means_no_new_tickets(first_level, team, open_ticket):
    configure_group_assignment(first_level, method=AssignmentMethod.LEAST_LOAD)
    for member in team[:2]:
        set_agent_profile(member, max_open_tickets=0)
    assert assignees([open_ticket(first_level, n=n) for n in range(3)]) == ["cid"] * 3


def test_capacity_counts_open_tickets_of_every_group(first_level, second_level, team, open_ticket, admin):
    ann, ben, cid = team
    second_level.members.add(ann)
    first_level.members.remove(ben, cid)
    configure_group_assignment(first_level, method=AssignmentMethod.LEAST_LOAD, default_capacity=2)
    ticket = open_ticket(second_level)
    update_ticket(ticket, admin, TicketChanges(assignee=ann))
    assert assignees([open_ticket(first_level, n=n) for n in range(1, 3)]) == ["ann", None]


def test_the_sweep_assigns_waiting_tickets_once_someone_is_available(first_level, team, open_ticket):
    User.objects.filter(pk__in=[a.pk for a in team]).update(availability=Availability.OFFLINE)
    configure_group_assignment(first_level, method=AssignmentMethod.LEAST_LOAD, default_capacity=2)
    tickets = [open_ticket(first_level, n=n) for n in range(3)]
    assert assignees(tickets) == [None, None, None]
    assert assign_waiting_tickets() == 0
    User.objects.filter(pk=team[1].pk).update(availability=Availability.ONLINE)
    assert assign_waiting_tickets() == 2  # oldest first, up to Ben's capacity
    assert assignees(tickets) == ["ben", "ben", None]


def test_the_sweep_is_a_scheduler_job_every_minute():
    job = next(j for j in scheduler.jobs() if j.name == "automation.assignment")
    assert job.seconds == 60 and job.function is assignment.assign_waiting_tickets


def test_the_sweep_skips_closed_tickets(first_level, team, open_ticket, admin):
    configure_group_assignment(first_level, method=AssignmentMethod.NONE)
    closed = open_ticket(first_level)
    update_ticket(closed, admin, TicketChanges(status=statuses.builtin(StatusCategory.CLOSED)))
    configure_group_assignment(first_level, method=AssignmentMethod.LEAST_LOAD)
    assert assign_waiting_tickets() == 0
    assert fresh(closed).assignee is None


# --- Skills ---------------------------------------------------------------------------------------------


def test_skills_pick_the_agent_matching_category_tags_and_language(first_level, team, open_ticket, admin):
    ann, ben, cid = team
    billing = save_skill(Skill(), name="Billing", categories=[Category.objects.create(name="Invoices").pk])
    sap = save_skill(Skill(), name="SAP", tags=["sap"])
    set_agent_profile(ann, languages=["it"], skills=[(billing, 2)])
    set_agent_profile(ben, languages=["de", "en"], skills=[(billing, 5)])
    set_agent_profile(cid, languages=["de"], skills=[(billing, 1), (sap, None)])
    configure_group_assignment(first_level, method=AssignmentMethod.SKILLS)

    # Billing in Italian: Ann is the only one who reads it.
    invoice = open_ticket(None, language="it-IT", n=1)
    update_ticket(invoice, admin, TicketChanges(category=Category.objects.get(name="Invoices"), group=first_level))
    assert auto_assign_ticket(invoice.pk) == ann
    # Billing in German: Ben and Cid both read it; Ben's level is higher.
    german = open_ticket(None, language="de", n=2)
    update_ticket(german, admin, TicketChanges(category=Category.objects.get(name="Invoices"), group=first_level))
    assert auto_assign_ticket(german.pk) == ben
    # Billing about SAP in German: Cid has both skills.
    sap_ticket = open_ticket(None, language="de", tags=["SAP"], n=4)
    update_ticket(sap_ticket, admin, TicketChanges(category=Category.objects.get(name="Invoices"), group=first_level))
    assert auto_assign_ticket(sap_ticket.pk) == cid


def test_skills_fall_back_to_least_load_among_equal_matches(first_level, team, open_ticket, admin):
    ann, ben, cid = team
    for member in team:
        set_agent_profile(member, languages=["en"])
    update_ticket(open_ticket(None, n=1), admin, TicketChanges(assignee=ann))
    update_ticket(open_ticket(None, n=2), admin, TicketChanges(assignee=cid))
    configure_group_assignment(first_level, method=AssignmentMethod.SKILLS)
    assert open_ticket(first_level, n=3).assignee == ben


def test_without_a_matching_agent_the_best_of_the_rest_is_chosen(first_level, team, open_ticket):
    set_agent_profile(team[1], languages=["fr"])
    configure_group_assignment(first_level, method=AssignmentMethod.SKILLS, default_capacity=1)
    set_agent_profile(team[2], max_open_tickets=0)
    assert assignees([open_ticket(first_level, language="bg", n=n) for n in range(3)]) == ["ann", "ben", None]


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        (AssignmentMethod.ROUND_ROBIN, 3),  # the one after the last (2), skipping the full one (none here)
        (AssignmentMethod.LEAST_LOAD, 1),
        (AssignmentMethod.SKILLS, 2),
        (AssignmentMethod.NONE, None),
    ],
)
def test_choose_agent(method, expected):
    candidates = [
        Candidate(1, load=0, capacity=5, languages=frozenset({"en"})),
        Candidate(2, load=3, capacity=5, skills={7: 2}, languages=frozenset({"it"})),
        Candidate(3, load=1, capacity=None, skills={7: 1}, languages=frozenset({"it"})),
        Candidate(4, load=5, capacity=5, skills={7: 5}, languages=frozenset({"it"})),  # full
    ]
    assert choose_agent(method, candidates, Needs(frozenset({7}), "it"), last_agent_id=2) == expected


def test_choose_agent_round_robin_wraps_and_skips_the_full():
    candidates = [Candidate(1, 0, None), Candidate(2, 5, 5), Candidate(3, 0, None)]
    assert choose_agent(AssignmentMethod.ROUND_ROBIN, candidates, Needs(), last_agent_id=3) == 1
    assert choose_agent(AssignmentMethod.ROUND_ROBIN, candidates, Needs(), last_agent_id=1) == 3
    assert choose_agent(AssignmentMethod.ROUND_ROBIN, [Candidate(2, 5, 5)], Needs(), None) is None


# --- Load -------------------------------------------------------------------------------------------------


def test_the_load_report_shows_open_tickets_capacity_and_availability(
    first_level, second_level, team, open_ticket, django_assert_max_num_queries
):
    configure_group_assignment(first_level, method=AssignmentMethod.LEAST_LOAD, default_capacity=10)
    set_agent_profile(team[2], max_open_tickets=4)
    User.objects.filter(pk=team[1].pk).update(availability=Availability.AWAY)
    for n in range(3):
        open_ticket(first_level, n=n)
    with django_assert_max_num_queries(6):
        report = load_report()
    first = next(g for g in report if g.name == "First level")
    rows = {(a.name, a.availability, a.open_tickets, a.open_in_group, a.capacity) for a in first.agents}
    assert rows == {("Ann", "online", 2, 2, 10), ("Ben", "away", 0, 0, 10), ("Cid", "online", 1, 1, 4)}
    assert first.method == "least_load" and first.waiting == 0
    second = next(g for g in report if g.name == "Second level")
    assert second.method == "none" and second.agents == []


def test_admins_see_the_load_in_the_django_admin(admin, first_level, team, open_ticket):
    configure_group_assignment(first_level, method=AssignmentMethod.ROUND_ROBIN, default_capacity=3)
    open_ticket(first_level)
    client = Client()
    client.force_login(admin)
    response = client.get("/admin/automation/groupassignment/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Load by group" in page and "Ann" in page and "round_robin" in page


def test_the_admin_saves_settings_through_the_service(admin, first_level):
    client = Client()
    client.force_login(admin)
    response = client.post(
        "/admin/automation/groupassignment/add/",
        {"group": first_level.pk, "method": "least_load", "default_capacity": "10"},
    )
    assert response.status_code == 302
    settings = GroupAssignment.objects.get(group=first_level)
    assert (settings.method, settings.default_capacity) == ("least_load", 10)


# --- Concurrency (PostgreSQL) --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's row locks and parallel writers")
@pytest.mark.parametrize("method", [AssignmentMethod.LEAST_LOAD, AssignmentMethod.ROUND_ROBIN])
def test_parallel_intake_never_puts_an_agent_above_capacity(method, caplog):
    """Twelve threads, each with its own connection, open tickets at the same time in a group of
    three agents with room for two each: exactly six get an agent, nobody more than two."""
    group = Group.objects.create(name="Parallel", tier=1)
    other = Group.objects.create(name="Other", tier=1)
    members = [make_user(f"par{n}", Role.AGENT) for n in range(3)]
    group.members.add(*members)
    other.members.add(members[0])  # one agent works in two groups that assign at the same time
    configure_group_assignment(group, method=method, default_capacity=2)
    configure_group_assignment(other, method=method, default_capacity=2)
    system_user()  # created once, before the threads race to create it
    barrier = threading.Barrier(12)
    failures: list[BaseException] = []

    def write(n: int) -> None:
        try:
            barrier.wait(timeout=30)
            ingest(
                Inbound(
                    channel="web",
                    sender=Sender(name=f"Customer {n}", email=f"parallel{n}@example.com"),
                    subject=f"Parallel {n}",
                    body_text="At the same time as everyone else.",
                    group=other if n % 4 == 0 else group,
                    acknowledge=False,
                )
            )
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    # No listener failed (a deadlock or a serialization error would be logged here).
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert Ticket.objects.count() == 12
    load = Counter(Ticket.objects.exclude(assignee=None).values_list("assignee__username", flat=True))
    assert load == {"par0": 2, "par1": 2, "par2": 2}
    assert Ticket.objects.filter(assignee=None).count() == 6


# --- Demo ----------------------------------------------------------------------------------------------


def test_the_demo_assigns_the_first_level_by_least_load(db):
    from io import StringIO

    from django.core.management import call_command

    call_command("demo", stdout=StringIO())
    settings = GroupAssignment.objects.get(group__name="First level")
    assert (settings.method, settings.default_capacity) == ("least_load", 10)
    anna = User.objects.get(username="anna")
    assert anna.assignment_profile.languages == ["it", "en"]
    assert list(anna.agent_skills.values_list("skill__name", "level")) == [("Billing", 4)]
    assert Skill.objects.get(name="Billing").categories.get().name == "Billing"
    assert not GroupAssignment.objects.filter(group__name="Second level").exists()


def test_a_trigger_that_routes_a_new_ticket_to_a_group_gets_it_assigned(make_trigger, write_in, second_level):
    bob = make_user("bob", Role.AGENT)
    second_level.members.add(bob)
    configure_group_assignment(second_level, method=AssignmentMethod.ROUND_ROBIN)
    make_trigger(
        "ticket_created",
        conditions=[{"field": "text", "op": "contains", "value": "refund"}],
        actions=[{"type": "set_group", "group": second_level.pk}],
    )
    routed = fresh(write_in("Money back", "I want a refund"))
    assert (routed.group, routed.assignee) == (second_level, bob)
    assert [c.field for c in routed.changes.order_by("id")] == ["group", "assignee"]
