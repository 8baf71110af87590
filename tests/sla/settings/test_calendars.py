"""The business-hours settings page: calendars with a time zone, several openings a day and
holidays; validation with clear messages; a calendar in use is not deleted."""

from __future__ import annotations

from datetime import date, time
from typing import Any

import pytest
from django.urls import reverse

from sportello.sla.models import Calendar, Policy, TicketSLA
from sportello.sla.services import TargetIn, save_policy
from sportello.tickets.models import Priority
from tests.conftest import client_for
from tests.sla.conftest import open_ticket, rome
from tests.web.conftest import page_text

pytestmark = pytest.mark.django_db


def form(**changes: Any) -> dict[str, Any]:
    """A calendar form as a browser posts it: Monday 9-13 and 14-18, nothing else, unless given."""
    data: dict[str, Any] = {
        "name": "Rome office",
        "time_zone": "Europe/Rome",
        "holiday_countries": "",
        "day_0_0_start": "09:00",
        "day_0_0_end": "13:00",
        "day_0_1_start": "14:00",
        "day_0_1_end": "18:00",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_an_admin_adds_a_calendar_with_two_openings_a_day_and_holidays(admin):
    client = client_for(admin)
    assert client.get(reverse("settings-calendars-add")).status_code == 200
    response = client.post(
        reverse("settings-calendars-add"),
        form(
            holiday_countries="it, de-by",
            day_4_0_start="09:00",
            day_4_0_end="00:00",  # Friday until midnight
            holiday_0_date="2026-12-24",
            holiday_0_name="Christmas Eve",
            holiday_0_yearly="on",
            holiday_1_date="2026-08-14",
            holiday_1_name="Office move",
        ),
    )
    assert response.status_code == 302, page_text(response)
    calendar = Calendar.objects.get(name="Rome office")
    assert (calendar.time_zone, calendar.holiday_countries) == ("Europe/Rome", "IT, DE-BY")
    hours = [(i.weekday, i.start, i.end) for i in calendar.intervals.all()]
    assert hours == [(0, time(9), time(13)), (0, time(14), time(18)), (4, time(9), time(0))]
    holidays = [(h.date, h.name, h.yearly) for h in calendar.holidays.all()]
    assert holidays == [(date(2026, 8, 14), "Office move", False), (date(2026, 12, 24), "Christmas Eve", True)]

    html = page_text(client.get(reverse("settings-calendars")))
    assert "Monday: 09:00-13:00, 14:00-18:00" in html and "Friday: 09:00-24:00" in html
    assert "2026-12-24 (every year) Christmas Eve" in html


def test_editing_shows_the_calendar_back_and_removes_a_holiday(admin, office):
    client = client_for(admin)
    html = page_text(client.get(reverse("settings-calendars-edit", args=[office.pk])))
    assert 'name="day_0_0_start" value="09:00"' in html and 'name="day_4_0_end" value="18:00"' in html
    assert 'name="holiday_0_date" value="2026-11-26"' in html
    data = form(name="Business hours", holiday_0_date="2026-11-26", holiday_0_name="Company day", holiday_0_remove="on")
    response = client.post(reverse("settings-calendars-edit", args=[office.pk]), data)
    assert response.status_code == 302
    office.refresh_from_db()
    assert not office.holidays.exists()
    assert [(i.weekday, i.start) for i in office.intervals.all()] == [(0, time(9)), (0, time(14))]


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"day_0_0_end": "08:00"}, "Monday: 09:00-08:00 must close after it opens"),
        ({"day_0_1_start": "12:00"}, "Monday: 09:00-13:00 overlaps 12:00-18:00."),
        ({"day_2_0_start": "10:00"}, "Wednesday: Opening 1 needs both the time it opens and the time it closes."),
        ({"day_1_0_start": "25:00", "day_1_0_end": "26:00"}, "Enter a valid time."),
        ({"time_zone": "Mars/Olympus"}, "“Mars/Olympus” is not a time zone: pick one from the list"),
        ({"holiday_countries": "IT, XX"}, "Unknown holiday country &#x27;XX&#x27;"),
        ({"holiday_0_name": "Forgot the date"}, "Give the date of “Forgot the date”."),
        (
            {"holiday_0_date": "2026-01-06", "holiday_1_date": "2026-01-06"},
            "2026-01-06 is listed twice.",
        ),
        ({"name": ""}, "This field is required."),
    ],
)
def test_mistakes_are_refused_with_a_clear_message(admin, changes, message):
    response = client_for(admin).post(reverse("settings-calendars-add"), form(**changes))
    assert response.status_code == 422
    html = page_text(response)
    assert message in html, html[html.find("<main") :]
    assert not Calendar.objects.exists()


def test_a_second_calendar_of_the_same_name_is_refused(admin, office):
    response = client_for(admin).post(reverse("settings-calendars-add"), form(name=office.name))
    assert response.status_code == 422
    assert "already exists" in page_text(response)


def test_a_calendar_in_use_is_not_deleted_and_the_policies_using_it_are_named(admin, office, policy):
    client = client_for(admin)
    response = client.post(reverse("settings-calendars-delete", args=[office.pk]))
    assert response.status_code == 409
    assert "the policies “Default” count their targets on it" in page_text(response)
    assert Calendar.objects.filter(pk=office.pk).exists()

    Policy.objects.filter(pk=policy.pk).update(calendar=None)
    response = client.post(reverse("settings-calendars-delete", args=[office.pk]))
    assert response.status_code == 302
    assert not Calendar.objects.exists()


def test_saving_a_calendar_resyncs_the_open_tickets_of_its_policies(
    admin, office, policy, monkeypatch, django_capture_on_commit_callbacks
):
    """The same path as the API and Django's admin: `save_calendar` schedules `resync_sla`."""
    from sportello.sla import services

    calls = []
    real = services.resync_open_tickets

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "resync_open_tickets", spy)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin).post(reverse("settings-calendars-edit", args=[office.pk]), form(name=office.name))
    assert response.status_code == 302
    assert [args for args, _ in calls] == [(None, office.pk)]


def test_changed_opening_hours_move_the_open_tickets_due_times(
    admin, office, clock, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        save_policy(
            Policy(),
            {"name": "Office", "calendar": office},
            targets=[TargetIn(Priority.NORMAL, first_response_minutes=120)],
        )
        ticket = open_ticket()  # Monday 10:00 in Rome: due at 12:00 with 9-18
    sla = TicketSLA.objects.get(ticket=ticket)
    assert sla.first_response_due == rome(2026, 11, 23, 12)
    # Monday now opens at 11:00: two business hours from 10:00 end at 13:00.
    data = form(name=office.name, day_0_0_start="11:00", day_0_0_end="18:00", day_0_1_start=None, day_0_1_end=None)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin).post(reverse("settings-calendars-edit", args=[office.pk]), data)
    assert response.status_code == 302
    sla.refresh_from_db()
    assert sla.first_response_due == rome(2026, 11, 23, 13)
