"""The one shape every report takes: a query in, a result out, the same for page, CSV and API.

A report is a function `(ReportQuery, reader) -> ReportResult` registered in `REPORTS` under its
slug. The query carries the period, the period it is compared with, the filters and the
granularity of time series; the result carries headline figures (with the previous period's
value), chart series and one table. Views render the result (chart first, table below), the CSV
export flattens `table`, the API returns the result as JSON: the three cannot disagree because
they read the same object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from sportello.accounts.models import User
from sportello.reports.services import Period


class Granularity(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


def bucket_start(day: date, granularity: Granularity, period: Period) -> date:
    """The first day of the day, week (from Monday) or month `day` falls in, never before the period."""
    if granularity == Granularity.WEEK:
        start = day - timedelta(days=day.weekday())
    elif granularity == Granularity.MONTH:
        start = day.replace(day=1)
    else:
        start = day
    return max(start, period.first)


def buckets(period: Period, granularity: Granularity) -> list[date]:
    """The start of each day, week or month of the period: a time series' axis."""
    found: list[date] = []
    for day in period.days():
        start = bucket_start(day, granularity, period)
        if not found or found[-1] != start:
            found.append(start)
    return found


@dataclass(frozen=True)
class Filters:
    """What a report may be narrowed to; None (or empty) means "all"."""

    group: int | None = None
    agent: int | None = None
    channel: str | None = None
    priority: int | None = None
    tag: str | None = None
    category: int | None = None
    organization: int | None = None
    # (ticket custom field key, the value asked for), sorted by key: see `custom_filters`.
    custom: tuple[tuple[str, str], ...] = ()


def custom_filters(raw: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """Filters' `custom` from key -> value as asked (`cf_<key>` on a page, `custom=key:value` in
    the API); InvalidInput for a key no ticket field has or a value the field cannot hold. Empty
    values are dropped. Matching is fields.services.filter_by's (part of a text, one of a list)."""
    from sportello.fields.models import FieldTarget
    from sportello.fields.services import clean_filters

    wanted = {key: value.strip() for key, value in raw.items() if value.strip()}
    if not wanted:
        return ()
    kept = clean_filters(FieldTarget.TICKET, wanted)
    return tuple(sorted((key, wanted[key]) for key in kept))


@dataclass(frozen=True)
class ReportQuery:
    period: Period
    filters: Filters = Filters()
    granularity: Granularity = Granularity.DAY

    @property
    def previous(self) -> Period:
        """The period of the same length just before, which headline figures are compared with."""
        length = (self.period.last - self.period.first).days + 1
        return Period(self.period.first - timedelta(days=length), self.period.first - timedelta(days=1))


@dataclass(frozen=True)
class Figure:
    """A headline number: its value in the period and in the previous one (None when not defined)."""

    key: str
    label: str
    value: float | int | None
    previous: float | int | None = None
    # "count", "percent", "seconds" (durations, shown as h/min) or "number".
    unit: str = "count"


@dataclass(frozen=True)
class Series:
    """One line or bar set of a chart: a label and a value for each point of `ReportResult.axis`."""

    key: str
    label: str
    values: list[float | int | None]


@dataclass(frozen=True)
class Table:
    """The report's numbers as rows; also the CSV (header = `columns` keys) and screen-reader table."""

    columns: list[tuple[str, str]]  # (key, label)
    rows: list[dict[str, Any]]


@dataclass
class ReportResult:
    slug: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    # The x axis of the chart (ISO dates of each day/week/month start, or category labels).
    axis: list[str] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)
    # "line", "bar" or "stacked-bar".
    chart: str = "line"
    table: Table = field(default_factory=lambda: Table([], []))
    # Extra lists a page may show (e.g. breaches with links): name -> Table.
    extra: dict[str, Table] = field(default_factory=dict)


Report = Callable[[ReportQuery, User], ReportResult]
# slug -> (title, function); filled by the modules that define reports.
REPORTS: dict[str, tuple[str, Report]] = {}


def report(slug: str, title: str) -> Callable[[Report], Report]:
    """Register a report function under `slug` (used by the pages, the CSV export and the API)."""

    def register(function: Report) -> Report:
        REPORTS[slug] = (title, function)
        return function

    return register
