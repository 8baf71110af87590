"""Business-time arithmetic: "start + N business minutes" and "business time between two instants".

Pure functions over a `CalendarSpec` (a plain value built from the `Calendar` model), so they are
tested without a database. A calendar's weekly hours are local wall-clock intervals of its time zone;
each local day's intervals are turned into UTC instants, so a day with a DST change simply has an
hour more or less of business time, and business time is always real elapsed time.

Local times that do not exist (the hour skipped when clocks go forward) stand for the instant the
clock jumps; repeated local times (the hour lived twice when clocks go back) stand for their first
occurrence. In both cases this is "the first instant at which the wall clock shows that time".
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_package

MINUTES_PER_DAY = 24 * 60
# A calendar with no business hours in ten years cannot reach any target: refuse instead of looping.
MAX_DAYS = 3660

Interval = tuple[int, int]  # (start, end) in minutes after local midnight; 0 <= start < end <= 1440


@dataclass(frozen=True)
class CalendarSpec:
    """What the arithmetic needs of a calendar.

    `week[0]` holds Monday's intervals, `week[6]` Sunday's. `holidays` are single dates,
    `yearly` are (month, day) pairs closed every year, and `countries` are (country, subdivision)
    pairs whose public holidays the `holidays` package knows (subdivision "" for none).
    """

    time_zone: str = "UTC"
    week: tuple[tuple[Interval, ...], ...] = ((),) * 7
    holidays: frozenset[date] = field(default_factory=frozenset)
    yearly: frozenset[tuple[int, int]] = field(default_factory=frozenset)
    countries: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if len(self.week) != 7:
            raise ValueError("a week has seven days")
        for day in self.week:
            for start, end in day:
                if not 0 <= start < end <= MINUTES_PER_DAY:
                    raise ValueError(f"bad interval {start}-{end}: minutes must satisfy 0 <= start < end <= 1440")
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.time_zone!r}") from exc

    def is_holiday(self, day: date) -> bool:
        if day in self.holidays or (day.month, day.day) in self.yearly:
            return True
        return any(day in public_holidays(country, subdivision, day.year) for country, subdivision in self.countries)


ALWAYS = CalendarSpec(week=(((0, MINUTES_PER_DAY),),) * 7)


@lru_cache(maxsize=256)
def public_holidays(country: str, subdivision: str, year: int) -> frozenset[date]:
    found = holidays_package.country_holidays(country, subdiv=subdivision or None, years=year)
    return frozenset(found.keys())


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_instant(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """The first UTC instant at which the wall clock of `zone` shows `minute` of local `day`."""
    naive = datetime.combine(day, time()) + timedelta(minutes=minute)
    first = naive.replace(tzinfo=zone).astimezone(UTC)  # fold=0: the earlier of repeated times
    if first.astimezone(zone).replace(tzinfo=None) == naive:
        return first
    # `naive` falls in a gap (clocks went forward). The wall clock passes it at the transition,
    # which lies between the readings with the post-gap offset (too early) and the pre-gap one.
    low = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = first
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0) if high.microsecond else high


def _intervals_from(
    start: datetime, spec: CalendarSpec, until: datetime | None = None
) -> Iterator[tuple[datetime, datetime]]:
    """Business intervals in UTC, in order, that end after `start` (the first clipped to it).

    Without `until` the search gives up (ValueError) after `MAX_DAYS` days without business hours.
    """
    zone = _zone(spec.time_zone)
    day = start.astimezone(zone).date() - timedelta(days=1)
    last_day = until.astimezone(zone).date() + timedelta(days=1) if until is not None else None
    for _ in range(MAX_DAYS if last_day is None else (last_day - day).days + 1):
        if spec.week[day.weekday()] and not spec.is_holiday(day):
            for first_minute, last_minute in spec.week[day.weekday()]:
                begin = local_instant(day, first_minute, zone)
                end = local_instant(day, last_minute, zone)
                if end <= start or end <= begin:
                    continue
                yield max(begin, start), end
        day += timedelta(days=1)
    if until is not None:
        return
    raise ValueError(f"The calendar has no business hours in the {MAX_DAYS} days after {start.isoformat()}")


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")
    return value.astimezone(UTC)


def add_business_time(start: datetime, amount: timedelta, spec: CalendarSpec) -> datetime:
    """The earliest instant by which `amount` of business time has passed since `start` (in UTC)."""
    start = _aware(start, "start")
    if amount < timedelta(0):
        raise ValueError("the amount of business time cannot be negative")
    if not amount:
        return start
    remaining = amount
    for begin, end in _intervals_from(start, spec):
        if remaining <= end - begin:
            return begin + remaining
        remaining -= end - begin
    raise AssertionError("unreachable: _intervals_from raises when it runs out")


def add_business_minutes(start: datetime, minutes: int, spec: CalendarSpec) -> datetime:
    """Due time: `start` plus `minutes` business minutes of `spec`."""
    return add_business_time(start, timedelta(minutes=minutes), spec)


def business_time_between(a: datetime, b: datetime, spec: CalendarSpec) -> timedelta:
    """Business time from `a` to `b`; negative when `b` is before `a`."""
    a, b = _aware(a, "a"), _aware(b, "b")
    if b < a:
        return -business_time_between(b, a, spec)
    total = timedelta(0)
    if a == b:
        return total
    for begin, end in _intervals_from(a, spec, until=b):
        if begin >= b:
            break
        total += min(end, b) - begin
    return total


def business_minutes_between(a: datetime, b: datetime, spec: CalendarSpec) -> int:
    """Whole business minutes from `a` to `b` (rounded toward zero; negative when `b` < `a`)."""
    seconds = business_time_between(a, b, spec).total_seconds()
    return int(seconds / 60) if seconds >= 0 else -int(-seconds / 60)


def is_business_time(instant: datetime, spec: CalendarSpec) -> bool:
    instant = _aware(instant, "instant")
    begin, _end = next(_intervals_from(instant, spec))
    return begin <= instant
