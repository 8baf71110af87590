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

from bisect import bisect_left, bisect_right
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

    def add(self, start: datetime, amount: timedelta) -> datetime:
        return add_business_time(start, amount, self)

    def between(self, a: datetime, b: datetime) -> timedelta:
        return business_time_between(a, b, self)

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


# How far a Timeline's span grows at a time, and the dates it keeps within (a year inside what a
# datetime holds, so that walking a calendar's days to the span's end cannot overflow).
_MOST_MARGIN = timedelta(days=366)
_EARLIEST = datetime.min.replace(tzinfo=UTC) + timedelta(days=366)
_LATEST = datetime.max.replace(tzinfo=UTC) - timedelta(days=366)


class Timeline:
    """One calendar's business intervals over a span, with running totals: `add` and `between`
    give exactly what `add_business_time` and `business_time_between` give, by binary search.

    For recomputing many tickets' due times at once (a policy changed): walking the calendar day
    by day costs tens of microseconds per due time, a search costs one. Outside the span it knows,
    a call falls back to the day-by-day functions and widens the span for the next calls.

    Invariant: `_begins`/`_ends` hold every business interval from `_start` up to `_ends[-1]`, in
    order (the first clipped to `_start`); `_before[i]` is the business time from `_start` to
    `_begins[i]` and `_after[i]` the one to `_ends[i]`.
    """

    def __init__(self, spec: CalendarSpec) -> None:
        self.spec = spec
        self._start: datetime | None = None
        self._begins: list[datetime] = []
        self._ends: list[datetime] = []
        self._before: list[timedelta] = []
        self._after: list[timedelta] = []

    def add(self, start: datetime, amount: timedelta) -> datetime:
        """Like `add_business_time(start, amount, spec)`."""
        start = _aware(start, "start")
        if amount <= timedelta(0):
            return add_business_time(start, amount, self.spec)  # zero: start itself; negative: refused
        elapsed = self._elapsed(start)
        if elapsed is not None:
            goal = elapsed + amount
            i = bisect_left(self._after, goal)
            if i < len(self._after):
                return self._begins[i] + (goal - self._before[i])
        due = add_business_time(start, amount, self.spec)
        self._cover(start, due)
        return due

    def between(self, a: datetime, b: datetime) -> timedelta:
        """Like `business_time_between(a, b, spec)`."""
        a, b = _aware(a, "a"), _aware(b, "b")
        from_a, from_b = self._elapsed(a), self._elapsed(b)
        if from_a is not None and from_b is not None:
            return from_b - from_a
        self._cover(min(a, b), max(a, b))
        return business_time_between(a, b, self.spec)

    def _elapsed(self, instant: datetime) -> timedelta | None:
        """Business time from the span's start to `instant`; None outside the span."""
        if self._start is None or instant < self._start:
            return None
        i = bisect_right(self._ends, instant)  # the first interval ending after `instant`
        if i == len(self._ends):
            return None
        return self._before[i] + max(timedelta(0), instant - self._begins[i])

    def _cover(self, first: datetime, last: datetime) -> None:
        """Rebuild the span to hold [first, last] and more: a few rebuilds serve a whole run.

        Only a side that must grow grows, by half the span (at least a week before, 90 days after;
        at most a year), and never past the dates a datetime can hold: a span that grew on both
        sides whenever either had to reached the year 9999 (OverflowError) after ~25 rebuilds, as
        a facts rebuild of 275,000 tickets did.
        """
        old_end = self._ends[-1] if self._ends else None
        start = first if self._start is None else min(first, self._start)
        end = last if old_end is None else max(last, old_end)
        margin = min((end - start) / 2, _MOST_MARGIN)
        if self._start is None or first < self._start:
            start -= max(timedelta(days=7), margin)
        if old_end is None or last > old_end:
            end += max(timedelta(days=90), margin)
        start, end = max(start, _EARLIEST), min(end, _LATEST)
        if start >= end:  # instants at the edge of time: the day-by-day functions answer them
            return
        self._start = start
        self._begins, self._ends, self._before, self._after = [], [], [], []
        total = timedelta(0)
        for begin, finish in _intervals_from(start, self.spec, until=end):
            self._begins.append(begin)
            self._before.append(total)
            total += finish - begin
            self._ends.append(finish)
            self._after.append(total)
