"""Business-time arithmetic: table-driven cases (DST in Europe/Rome, holidays, split days, 24/7)
and hypothesis properties."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sportello.sla.business_time import (
    ALWAYS,
    CalendarSpec,
    Timeline,
    add_business_minutes,
    add_business_time,
    business_minutes_between,
    business_time_between,
    is_business_time,
)

ROME = ZoneInfo("Europe/Rome")
H = 60


def week(*days: tuple[tuple[int, int], ...], weekend: tuple[tuple[int, int], ...] = ()) -> tuple:
    """Monday to Friday from `days` (one value repeated if only one), Saturday and Sunday `weekend`."""
    workdays = days * 5 if len(days) == 1 else days
    return (*workdays, weekend, weekend)


OFFICE = CalendarSpec(time_zone="Europe/Rome", week=week(((9 * H, 18 * H),)), countries=(("IT", ""),))
SPLIT = CalendarSpec(time_zone="Europe/Rome", week=week(((9 * H, 13 * H), (14 * H, 18 * H))))
ROME_ALWAYS = CalendarSpec(time_zone="Europe/Rome", week=(((0, 24 * H),),) * 7)
NIGHTS = CalendarSpec(time_zone="Europe/Rome", week=(((0, 2 * H), (22 * H, 24 * H)),) * 7)
EARLY = CalendarSpec(time_zone="Europe/Rome", week=(((1 * H, 4 * H),),) * 7)
GAP_START = CalendarSpec(time_zone="Europe/Rome", week=(((2 * H + 30, 5 * H),),) * 7)
EMPTY = CalendarSpec(time_zone="Europe/Rome")


def rome(*args: int) -> datetime:
    return datetime(*args, tzinfo=ROME)  # type: ignore[misc]


# 2026: Monday 23 November; DST starts Sunday 29 March, ends Sunday 25 October.
# Italian holidays: Fri 25 Dec, Sat 26 Dec, Fri 1 Jan 2027, Wed 6 Jan 2027.
ADD_CASES = [
    ("inside hours", OFFICE, rome(2026, 11, 23, 10), 60, rome(2026, 11, 23, 11)),
    ("before opening", OFFICE, rome(2026, 11, 23, 7), 60, rome(2026, 11, 23, 10)),
    ("ends exactly at closing", OFFICE, rome(2026, 11, 23, 17), 60, rome(2026, 11, 23, 18)),
    ("overnight", OFFICE, rome(2026, 11, 23, 17), 120, rome(2026, 11, 24, 10)),
    ("six business hours", OFFICE, rome(2026, 11, 23, 15), 6 * H, rome(2026, 11, 24, 12)),
    ("over the weekend", OFFICE, rome(2026, 11, 27, 17), 120, rome(2026, 11, 30, 10)),
    ("from a Saturday", OFFICE, rome(2026, 11, 28, 12), 30, rome(2026, 11, 30, 9, 30)),
    ("over Christmas", OFFICE, rome(2026, 12, 24, 17), 120, rome(2026, 12, 28, 10)),
    ("over new year and Epiphany", OFFICE, rome(2026, 12, 31, 17), 3 * 9 * H, rome(2027, 1, 7, 17)),
    ("split day over lunch", SPLIT, rome(2026, 11, 23, 12), 4 * H, rome(2026, 11, 23, 17)),
    ("split day from lunch", SPLIT, rome(2026, 11, 23, 13, 30), 30, rome(2026, 11, 23, 14, 30)),
    ("office across spring DST", OFFICE, rome(2026, 3, 27, 17), 120, rome(2026, 3, 30, 10)),
    ("24/7 across spring DST", ROME_ALWAYS, rome(2026, 3, 29, 1), 120, rome(2026, 3, 29, 4)),
    ("24/7 across autumn DST", ROME_ALWAYS, rome(2026, 10, 25, 1), 120, datetime(2026, 10, 25, 1, tzinfo=UTC)),
    ("across midnight", NIGHTS, rome(2026, 11, 23, 23), 120, rome(2026, 11, 24, 1)),
    ("night hours resume next evening", NIGHTS, rome(2026, 11, 24, 1), 120, rome(2026, 11, 24, 23)),
    ("zero minutes stay put", OFFICE, rome(2026, 11, 28, 12), 0, rome(2026, 11, 28, 12)),
    ("24/7 UTC", ALWAYS, datetime(2026, 11, 23, 10, tzinfo=UTC), 90, datetime(2026, 11, 23, 11, 30, tzinfo=UTC)),
]


@pytest.mark.parametrize(("name", "spec", "start", "minutes", "due"), ADD_CASES, ids=[c[0] for c in ADD_CASES])
def test_add_business_minutes(name: str, spec: CalendarSpec, start: datetime, minutes: int, due: datetime) -> None:
    assert add_business_minutes(start, minutes, spec) == due
    assert business_minutes_between(start, due, spec) == minutes


BETWEEN_CASES = [
    ("a 24/7 spring-forward day has 23 hours", ROME_ALWAYS, rome(2026, 3, 29), rome(2026, 3, 30), 23 * H),
    ("a 24/7 fall-back day has 25 hours", ROME_ALWAYS, rome(2026, 10, 25), rome(2026, 10, 26), 25 * H),
    ("01-04 on the spring day is two real hours", EARLY, rome(2026, 3, 29), rome(2026, 3, 30), 2 * H),
    ("01-04 on the autumn day is four real hours", EARLY, rome(2026, 10, 25), rome(2026, 10, 26), 4 * H),
    (
        "an interval opening in the skipped hour opens at the jump",
        GAP_START,
        rome(2026, 3, 29),
        rome(2026, 3, 30),
        2 * H,
    ),
    ("an office week", OFFICE, rome(2026, 11, 23), rome(2026, 11, 30), 5 * 9 * H),
    ("Christmas week", OFFICE, rome(2026, 12, 21), rome(2026, 12, 28), 4 * 9 * H),
    ("backwards is negative", OFFICE, rome(2026, 11, 23, 12), rome(2026, 11, 23, 10), -2 * H),
    ("an empty calendar has no business time", EMPTY, rome(2026, 1, 1), rome(2027, 1, 1), 0),
]


@pytest.mark.parametrize(("name", "spec", "a", "b", "minutes"), BETWEEN_CASES, ids=[c[0] for c in BETWEEN_CASES])
def test_business_minutes_between(name: str, spec: CalendarSpec, a: datetime, b: datetime, minutes: int) -> None:
    assert business_minutes_between(a, b, spec) == minutes


@pytest.mark.parametrize(
    ("country", "holiday"),
    [("IT", date(2026, 6, 2)), ("DE", date(2026, 10, 3)), ("BG", date(2026, 3, 3))],
)
def test_public_holidays_by_country(country: str, holiday: date) -> None:
    spec = CalendarSpec(time_zone="Europe/Rome", week=(((9 * H, 18 * H),),) * 7, countries=((country, ""),))
    assert spec.is_holiday(holiday)
    assert not spec.is_holiday(holiday + timedelta(days=1)) or holiday.day == 31
    assert business_minutes_between(rome(holiday.year, holiday.month, holiday.day), rome(*_next(holiday)), spec) == 0


def _next(day: date) -> tuple[int, int, int]:
    following = day + timedelta(days=1)
    return following.year, following.month, following.day


def test_fixed_and_yearly_closing_days() -> None:
    spec = CalendarSpec(
        time_zone="Europe/Rome",
        week=week(((9 * H, 18 * H),)),
        holidays=frozenset({date(2026, 11, 24)}),
        yearly=frozenset({(11, 25)}),
    )
    assert add_business_minutes(rome(2026, 11, 23, 17), 120, spec) == rome(2026, 11, 26, 10)
    assert spec.is_holiday(date(2030, 11, 25))
    assert not spec.is_holiday(date(2030, 11, 24))


def test_is_business_time() -> None:
    assert is_business_time(rome(2026, 11, 23, 9), OFFICE)
    assert not is_business_time(rome(2026, 11, 23, 18), OFFICE)
    assert not is_business_time(rome(2026, 12, 25, 12), OFFICE)


def test_refusals() -> None:
    with pytest.raises(ValueError, match="no business hours"):
        add_business_minutes(rome(2026, 1, 1), 1, EMPTY)
    with pytest.raises(ValueError, match="aware"):
        add_business_minutes(datetime(2026, 1, 1), 1, OFFICE)
    with pytest.raises(ValueError, match="negative"):
        add_business_minutes(rome(2026, 1, 1), -1, OFFICE)
    with pytest.raises(ValueError, match="bad interval"):
        CalendarSpec(week=(((600, 500),),) * 7)
    with pytest.raises(ValueError):
        CalendarSpec(time_zone="Mars/Olympus")


# --- Properties -------------------------------------------------------------------------------------

SPECS = st.sampled_from([OFFICE, SPLIT, ROME_ALWAYS, NIGHTS, EARLY, GAP_START, ALWAYS])
INSTANTS = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC))
MINUTES = st.integers(min_value=0, max_value=30 * 24 * 60)


@settings(max_examples=150, deadline=None)
@given(spec=SPECS, start=INSTANTS, minutes=MINUTES)
def test_between_undoes_add(spec: CalendarSpec, start: datetime, minutes: int) -> None:
    due = add_business_minutes(start, minutes, spec)
    assert due >= start
    assert business_time_between(start, due, spec) == timedelta(minutes=minutes)
    assert business_minutes_between(start, due, spec) == minutes


@settings(max_examples=150, deadline=None)
@given(spec=SPECS, start=INSTANTS, a=MINUTES, b=MINUTES)
def test_add_is_additive_and_monotonic(spec: CalendarSpec, start: datetime, a: int, b: int) -> None:
    assert add_business_minutes(start, a + b, spec) == add_business_minutes(
        add_business_minutes(start, a, spec), b, spec
    )
    if a < b:
        assert add_business_minutes(start, a, spec) < add_business_minutes(start, b, spec)


@settings(max_examples=100, deadline=None)
@given(spec=SPECS, instants=st.lists(INSTANTS, min_size=3, max_size=3))
def test_between_adds_up(spec: CalendarSpec, instants: list[datetime]) -> None:
    a, b, c = sorted(instants)
    whole = business_time_between(a, c, spec)
    assert whole == business_time_between(a, b, spec) + business_time_between(b, c, spec)
    assert timedelta(0) <= whole <= c - a
    amount = timedelta(minutes=1)
    assert add_business_time(a, amount, spec) > a


# --- Timeline: the same answers by binary search ------------------------------------------------------

SECONDS = st.integers(min_value=0, max_value=30 * 24 * 3600)


@settings(max_examples=100, deadline=None)
@given(spec=SPECS, calls=st.lists(st.tuples(INSTANTS, SECONDS, INSTANTS), min_size=1, max_size=12))
def test_timeline_answers_like_the_day_by_day_functions(
    spec: CalendarSpec, calls: list[tuple[datetime, int, datetime]]
) -> None:
    # One timeline for every call: later calls hit the span earlier ones made it build.
    timeline = Timeline(spec)
    for start, seconds, other in calls:
        amount = timedelta(seconds=seconds, microseconds=start.microsecond)
        assert timeline.add(start, amount) == add_business_time(start, amount, spec)
        assert timeline.between(start, other) == business_time_between(start, other, spec)
        assert timeline.between(other, start) == business_time_between(other, start, spec)


@pytest.mark.parametrize(("name", "spec", "start", "minutes", "due"), ADD_CASES, ids=[c[0] for c in ADD_CASES])
def test_timeline_cases(name: str, spec: CalendarSpec, start: datetime, minutes: int, due: datetime) -> None:
    timeline = Timeline(spec)
    timeline.add(start - timedelta(days=3), timedelta(minutes=1))  # the span now covers the case
    assert timeline.add(start, timedelta(minutes=minutes)) == due
    assert timeline.between(start, due) == timedelta(minutes=minutes)


def test_a_timeline_fed_ever_earlier_instants_keeps_answering() -> None:
    # A facts rebuild reads tickets in id order, not in date order: every earlier ticket widened
    # the span on both sides by half, and after ~25 of them the span's end passed the year 9999
    # (OverflowError at 275,000 tickets of the 1M bench).
    timeline = Timeline(OFFICE)
    for i in range(300):
        start = rome(2026, 6, 1) - timedelta(days=10 * i)
        assert timeline.between(start, start + timedelta(hours=30)) == business_time_between(
            start, start + timedelta(hours=30), OFFICE
        )
        assert timeline.add(start, timedelta(hours=3)) == add_business_time(start, timedelta(hours=3), OFFICE)


def test_timeline_refuses_like_the_functions() -> None:
    with pytest.raises(ValueError, match="no business hours"):
        Timeline(EMPTY).add(rome(2026, 1, 1), timedelta(minutes=1))
    assert Timeline(EMPTY).between(rome(2026, 1, 1), rome(2027, 1, 1)) == timedelta(0)
    with pytest.raises(ValueError, match="negative"):
        Timeline(OFFICE).add(rome(2026, 1, 1), timedelta(minutes=-1))
