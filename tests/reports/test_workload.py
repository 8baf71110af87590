"""The agents report's fair-workload columns: each agent's capacity (as automatic assignment weighs
it) and their open tickets in percent of it."""

from __future__ import annotations

import pytest
from django.utils import timezone

from sportello.automation.assignment import configure_group_assignment
from sportello.automation.models import AgentProfile
from sportello.reports.frame import REPORTS
from tests.reports.scenario import ROME, build, query

pytestmark = pytest.mark.django_db


@pytest.fixture
def week(django_capture_on_commit_callbacks, agent, agent2, first_level, second_level):  # type: ignore[no-untyped-def]
    return build(django_capture_on_commit_callbacks, agent, agent2, first_level, second_level)


def test_capacity_and_load_per_agent(week, admin, first_level):
    configure_group_assignment(first_level, default_capacity=5)
    AgentProfile.objects.create(agent=week.bob, max_open_tickets=4)  # bob's own limit wins over any group's
    with timezone.override(ROME):
        result = REPORTS["agents"][1](query(), admin)
    rows = {row["name"]: row for row in result.table.rows}
    alice, bob = rows[week.alice.display_name], rows[week.bob.display_name]
    assert (alice["open_now"], alice["capacity"], alice["load_percent"]) == (0, 5, 0.0)
    assert (bob["open_now"], bob["capacity"], bob["load_percent"]) == (1, 4, 25.0)  # T3


def test_no_capacity_means_no_load_figure(week, admin):
    with timezone.override(ROME):
        result = REPORTS["agents"][1](query(), admin)
    bob = next(row for row in result.table.rows if row["name"] == week.bob.display_name)
    assert (bob["capacity"], bob["load_percent"]) == (None, None)


def test_online_time_comes_from_the_recorded_availability_changes(week, admin):
    """Bob goes online at 09:00 on the 26th, away at 11:30, online 14:00-15:00, offline; Alice stays
    online. The sampler records a change only when it sees one."""
    from datetime import datetime

    import time_machine

    from sportello.accounts.models import User
    from sportello.reports.availability import record_availability
    from sportello.reports.models import AgentAvailability

    def at(hour: int, minute: int, state: str | None) -> None:
        with time_machine.travel(datetime(2026, 10, 26, hour, minute, tzinfo=ROME), tick=False):
            if state:
                User.objects.filter(pk=week.bob.pk).update(availability=state)
            record_availability()

    User.objects.filter(pk=week.alice.pk).update(availability="online")
    at(8, 0, "offline")  # first sighting: everybody's current state
    at(9, 0, "online")
    at(9, 1, None)  # nothing changed: nothing written
    at(11, 30, "away")
    at(14, 0, "online")
    at(15, 0, "offline")
    assert AgentAvailability.objects.filter(agent=week.bob).count() == 5
    with timezone.override(ROME):
        result = REPORTS["agents"][1](query(), admin)
    rows = {row["name"]: row for row in result.table.rows}
    assert rows[week.bob.display_name]["online_seconds"] == (150 + 60) * 60
    # Alice was online when first seen (Monday 08:00) and still is: to the period's end, Friday 24:00.
    assert rows[week.alice.display_name]["online_seconds"] == (4 * 24 + 16) * 3600


def test_the_sampler_is_scheduled():
    from sportello.core import scheduler

    job = next(job for job in scheduler.jobs() if job.name == "reports.availability")
    assert job.seconds == 60
