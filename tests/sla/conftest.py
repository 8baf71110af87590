"""SLA fixtures: the Rome office calendar, a default policy, frozen time, and an event recorder."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
import time_machine

from sportello.core import events
from sportello.customers.services import Sender
from sportello.sla.models import Calendar, Policy
from sportello.sla.services import HolidayIn, IntervalIn, TargetIn, save_calendar, save_policy
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import Priority, Ticket

ROME = ZoneInfo("Europe/Rome")


def rome(*args: int) -> datetime:
    return datetime(*args, tzinfo=ROME)  # type: ignore[misc]


@pytest.fixture
def office(db) -> Calendar:
    return save_calendar(
        Calendar(),
        {"name": "Business hours", "time_zone": "Europe/Rome", "holiday_countries": "IT"},
        intervals=[IntervalIn(day, time(9), time(18)) for day in range(5)],
        holidays=[HolidayIn(date=datetime(2026, 11, 26).date(), name="Company day")],
    )


@pytest.fixture
def policy(office) -> Policy:
    return save_policy(
        Policy(),
        {"name": "Default", "calendar": office, "warning_minutes": 60},
        targets=[
            TargetIn(Priority.NORMAL, first_response_minutes=360, next_response_minutes=120, resolution_minutes=2400),
            TargetIn(Priority.URGENT, first_response_minutes=60, next_response_minutes=30, resolution_minutes=480),
        ],
    )


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    """Monday 23 November 2026, 10:00 in Rome; move with `clock.move_to(...)`."""
    with time_machine.travel(rome(2026, 11, 23, 10), tick=False) as traveller:
        yield traveller


@pytest.fixture
def recorded() -> Iterator[list[events.Event]]:
    """SLA warnings and breaches published while the test runs."""
    found: list[events.Event] = []

    def record(event: events.Event) -> None:
        found.append(event)

    for name in (events.SLA_WARNING, events.SLA_BREACHED):
        events.subscribe(name, record)
    yield found
    for name in (events.SLA_WARNING, events.SLA_BREACHED):
        events._listeners[name].remove(record)


def open_ticket(subject: str = "Printer on fire", email: str = "carla@example.com", **extra: object) -> Ticket:
    return ingest(
        Inbound(
            channel=str(extra.pop("channel", "email")),
            sender=Sender(name="Carla Rossi", email=email),
            subject=subject,
            body_text="Please help.",
            acknowledge=False,
            **extra,  # type: ignore[arg-type]
        )
    ).ticket


def customer_writes(ticket: Ticket, text: str = "Any news?") -> None:
    ingest(
        Inbound(
            channel="email",
            sender=Sender(name="Carla Rossi", email="carla@example.com"),
            body_text=text,
            ticket=ticket,
            acknowledge=False,
        )
    )
