"""A week of tickets whose every report figure was computed by hand (docs in each test).

Reader and business hours in Europe/Rome. The period is Fri 23 to Fri 30 October 2026, which holds
the end of summer time (Sun 25 Oct, 03:00 CEST -> 02:00 CET) and a company holiday (Wed 28 Oct).
Business hours: Monday to Friday 09:00-18:00. SLA targets (business minutes): normal priority
first response 240, resolution 1440; urgent 60 and 480.

Tickets (times in Rome):
  T0  Tue 20 Oct 10:00 carla, email, First level, alice, tag "login"; Wed 21 10:00 alice replies
      and solves (the previous period).
  T1  Fri 23 Oct 17:00 carla, email, First level, alice; Mon 26 10:00 reply, 11:00 note (15 min),
      12:00 solved. First response 66 h calendar (DST: 65 h on the wall clock), 2 h business.
  T6  Sun 25 Oct 00:30 frank@other.test, web, no group, nobody: never answered (Saturday 22:30 UTC).
  T3  Mon 26 Oct 14:00 dan, web, Second level, bob, tag "printer"; 15:00 bob replies. Stays open.
  T2  Tue 27 Oct 09:00 carla, email, First level, alice; Thu 29 09:30 reply (10 min), 10:00 solved,
      15:00 carla writes again (reopened), 15:30 reply, Fri 30 11:00 solved again.
  T4  Tue 27 Oct 10:00 dan, email, Second level; 11:00 bob merges it into T3 (counted nowhere).
  T5  Wed 28 Oct 10:00 erin@acme.test (organization Acme), web, URGENT, Second level, bob, tag
      "printer"; 10:30 bob replies, 11:00 solved (all on the holiday: 0 business seconds).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import time_machine

from sportello.accounts.models import User
from sportello.customers.models import Organization
from sportello.customers.services import Sender
from sportello.reports.frame import Filters, Granularity, ReportQuery
from sportello.reports.services import Period
from sportello.sla.models import Calendar, Policy
from sportello.sla.services import HolidayIn, IntervalIn, TargetIn, save_calendar, save_policy
from sportello.tickets import statuses
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import Priority, StatusCategory, Ticket
from sportello.tickets.services import TicketChanges, add_note, merge_tickets, reply_to_ticket, update_ticket

ROME = ZoneInfo("Europe/Rome")
PERIOD = Period(date(2026, 10, 23), date(2026, 10, 30))
NOW = datetime(2026, 10, 30, 12, 0, tzinfo=ROME)


def query(granularity: Granularity = Granularity.DAY, **filters: object) -> ReportQuery:
    return ReportQuery(PERIOD, Filters(**filters), granularity)  # type: ignore[arg-type]


@dataclass
class Week:
    tickets: dict[str, Ticket]
    alice: User
    bob: User
    policy: Policy


class Steps:
    def __init__(self, capture) -> None:  # type: ignore[no-untyped-def]
        self.capture = capture

    @contextmanager
    def at(self, month: int, day: int, hour: int, minute: int = 0) -> Iterator[None]:
        """Frozen at that time in Rome, with the events delivered (SLA clocks, facts) when it ends."""
        moment = datetime(2026, month, day, hour, minute, tzinfo=ROME)
        with time_machine.travel(moment, tick=False), self.capture(execute=True):
            yield


def open_ticket(email: str, name: str, channel: str, subject: str, **extra: object) -> Ticket:
    return ingest(
        Inbound(
            channel=channel,
            sender=Sender(name=name, email=email),
            subject=subject,
            body_text="Please help.",
            acknowledge=False,
            **extra,  # type: ignore[arg-type]
        )
    ).ticket


def fresh(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


def solve(ticket: Ticket, agent: User) -> None:
    update_ticket(fresh(ticket), agent, TicketChanges(status=statuses.builtin(StatusCategory.SOLVED)))


def build(capture, alice: User, bob: User, first_level, second_level) -> Week:  # type: ignore[no-untyped-def]
    office: Calendar = save_calendar(
        Calendar(),
        {"name": "Office", "time_zone": "Europe/Rome", "holiday_countries": ""},
        intervals=[IntervalIn(day, time(9), time(18)) for day in range(5)],
        holidays=[HolidayIn(date=date(2026, 10, 28), name="Company day")],
    )
    policy = save_policy(
        Policy(),
        {"name": "Default", "calendar": office, "warning_minutes": 60},
        targets=[
            TargetIn(Priority.NORMAL, first_response_minutes=240, resolution_minutes=1440),
            TargetIn(Priority.URGENT, first_response_minutes=60, resolution_minutes=480),
        ],
    )
    steps = Steps(capture)
    t: dict[str, Ticket] = {}
    with steps.at(10, 20, 10):
        t["T0"] = open_ticket("carla@example.com", "Carla", "email", "Cannot log in", group=first_level, tags=["login"])
        update_ticket(fresh(t["T0"]), alice, TicketChanges(assignee=alice))
    with steps.at(10, 21, 10):
        reply_to_ticket(fresh(t["T0"]), alice, body_text="Fixed", deliver=False,
                        status=statuses.builtin(StatusCategory.SOLVED))  # fmt: skip
    with steps.at(10, 23, 17):
        t["T1"] = open_ticket("carla@example.com", "Carla", "email", "Invoice", group=first_level)
        update_ticket(fresh(t["T1"]), alice, TicketChanges(assignee=alice))
    with steps.at(10, 25, 0, 30):
        t["T6"] = open_ticket("frank@other.test", "Frank", "web", "Hello?")
    with steps.at(10, 26, 10):
        reply_to_ticket(fresh(t["T1"]), alice, body_text="Here it is", deliver=False)
    with steps.at(10, 26, 11):
        add_note(fresh(t["T1"]), alice, body_text="Checked the ledger", time_spent=15)
    with steps.at(10, 26, 12):
        solve(t["T1"], alice)
    with steps.at(10, 26, 14):
        t["T3"] = open_ticket("dan@example.com", "Dan", "web", "Printer", group=second_level, tags=["printer"])
        update_ticket(fresh(t["T3"]), bob, TicketChanges(assignee=bob))
    with steps.at(10, 26, 15):
        reply_to_ticket(fresh(t["T3"]), bob, body_text="Looking", deliver=False)
    with steps.at(10, 27, 9):
        t["T2"] = open_ticket("carla@example.com", "Carla", "email", "Refund", group=first_level)
        update_ticket(fresh(t["T2"]), alice, TicketChanges(assignee=alice))
    with steps.at(10, 27, 10):
        t["T4"] = open_ticket("dan@example.com", "Dan", "email", "Printer again", group=second_level)
    with steps.at(10, 27, 11):
        merge_tickets(fresh(t["T4"]), fresh(t["T3"]), bob)
    with steps.at(10, 28, 10):
        t["T5"] = open_ticket("erin@acme.test", "Erin", "web", "Urgent printer", group=second_level,
                              tags=["printer"], priority=Priority.URGENT)  # fmt: skip
        customer = t["T5"].customer
        customer.organization = Organization.objects.create(name="Acme", domain="acme.test")
        customer.save()
        update_ticket(fresh(t["T5"]), bob, TicketChanges(assignee=bob))
    with steps.at(10, 28, 10, 30):
        reply_to_ticket(fresh(t["T5"]), bob, body_text="Fixed", deliver=False)
    with steps.at(10, 28, 11):
        solve(t["T5"], bob)
    with steps.at(10, 29, 9, 30):
        reply_to_ticket(fresh(t["T2"]), alice, body_text="Refunded", deliver=False, time_spent=10)
    with steps.at(10, 29, 10):
        solve(t["T2"], alice)
    with steps.at(10, 29, 15):
        ingest(Inbound(channel="email", sender=Sender(name="Carla", email="carla@example.com"),
                       body_text="Not received", ticket=fresh(t["T2"]), acknowledge=False))  # fmt: skip
    with steps.at(10, 29, 15, 30):
        reply_to_ticket(fresh(t["T2"]), alice, body_text="Sent again", deliver=False)
    with steps.at(10, 30, 11):
        solve(t["T2"], alice)
    return Week({name: fresh(ticket) for name, ticket in t.items()}, alice, bob, policy)
