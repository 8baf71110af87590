"""Reports in the REST API: the same figures as the report pages, days in the caller's time zone."""

from __future__ import annotations

import re
import zoneinfo
from datetime import date
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Schema
from pydantic import BeforeValidator, Field, WithJsonSchema

from sportello.accounts.auth import caller, errors
from sportello.accounts.models import User
from sportello.core.errors import InvalidInput
from sportello.csat.api import ScoreOut, score_rows
from sportello.reports import forum as forum_report
from sportello.reports import frame, intelligence, metrics, services
from sportello.tickets.access import require_agent
from sportello.tickets.models import Channel

router = Router(tags=["reports"])


def _iso_day(value: Any) -> Any:
    # pydantic would read "0" or 0 as a count of seconds since 1970; a day is written as a day.
    if isinstance(value, date) or (isinstance(value, str) and ISO_DAY.match(value)):
        return value
    raise ValueError("a day such as 2024-05-31")


ISO_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
# Reports cover days from 1970 to 9998 (services.FIRST_DAY, LAST_DAY); the pattern says so in the document.
Day = Annotated[
    date,
    BeforeValidator(_iso_day),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date",
            "pattern": r"^(19[7-9][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-[0-9]{2}-[0-9]{2}$",
        }
    ),
]


class PeriodIn(Schema):
    since: Day | None = Field(None, description="first day (default: 29 days before `until`), 1970 to 9998")
    until: Day | None = Field(None, description="last day, included (default: today), 1970 to 9998")


class PeriodOut(Schema):
    since: date
    until: date
    time_zone: str


class DayOut(Schema):
    day: date
    deflected: dict[str, int]
    total: int


class ArticleOut(Schema):
    article: int | None
    title: str
    path: str
    deflections: int
    helpful: int
    not_helpful: int


class DeflectingTopicOut(Schema):
    topic: int
    title: str
    path: str = Field(description="the topic's public address; empty once the public no longer reads it")
    deflections: int


class SelfServiceOut(Schema):
    period: PeriodOut
    deflected: dict[str, int] = Field(description="deflections per source: webform, portal, chat")
    requests: dict[str, int] = Field(description="tickets the same channels brought, per source")
    deflection_rate: float | None = Field(description="deflections in percent of deflections plus requests")
    helpful: int
    not_helpful: int
    days: list[DayOut]
    articles: list[ArticleOut]
    forum_deflected: int = Field(description="of `deflected`, those through a suggested forum topic")
    topics: list[DeflectingTopicOut] = Field(description="the forum topics that deflected the most")


class SatisfactionDayOut(Schema):
    day: date
    good: int
    bad: int


class SatisfactionOut(Schema):
    period: PeriodOut
    overall: ScoreOut
    agents: list[ScoreOut]
    groups: list[ScoreOut]
    days: list[SatisfactionDayOut]


def _period(query: PeriodIn) -> tuple[services.Period, PeriodOut]:
    period = services.Period.parse(query.since, query.until)
    return period, PeriodOut(since=period.first, until=period.last, time_zone=timezone.get_current_timezone_name())


def _zone(user: User) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(user.time_zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


@router.get("/reports/self-service", response={200: SelfServiceOut, **errors(422)})
def self_service_report(request: HttpRequest, query: Query[PeriodIn]) -> SelfServiceOut:
    """Deflections (customers whose problem an article solved) and the requests still sent."""
    user = caller(request)
    require_agent(user)
    with timezone.override(_zone(user)):
        period, shown = _period(query)
        report = services.self_service(period, user)
    return SelfServiceOut(
        period=shown,
        deflected=report.deflections,
        requests=report.requests,
        deflection_rate=report.rate,
        helpful=report.helpful,
        not_helpful=report.not_helpful,
        days=[DayOut(day=day.day, deflected=day.by_source, total=day.total) for day in report.days],
        articles=[ArticleOut(**vars(row)) for row in report.articles],
        forum_deflected=report.forum_deflections,
        topics=[DeflectingTopicOut(**vars(row)) for row in report.topics],
    )


@router.get("/reports/satisfaction", response={200: SatisfactionOut, **errors(422)})
def satisfaction_report(request: HttpRequest, query: Query[PeriodIn]) -> SatisfactionOut:
    """Survey answers of tickets solved in the period: overall, per agent, per group, per day."""
    user = caller(request)
    require_agent(user)
    with timezone.override(_zone(user)):
        period, shown = _period(query)
        report = services.satisfaction(period)
    return SatisfactionOut(
        period=shown,
        overall=score_rows([report.overall])[0],
        agents=score_rows(report.agents),
        groups=score_rows(report.groups),
        days=[SatisfactionDayOut(day=day, good=good, bad=bad) for day, good, bad in report.days],
    )


# --- The metric reports: one operation per report, one result shape -------------------------------------


ChannelName = Literal["email", "web", "chat", "phone", "social", "portal", "api", "agent"]
assert set(ChannelName.__args__) == set(Channel.values)  # type: ignore[attr-defined]


# A key no table can hold: refused as input (SQLite cannot even compare it: a 500, not an empty report).
ID_MAX = 2**63 - 1


class ReportQueryIn(PeriodIn):
    granularity: Literal["day", "week", "month"] = Field("day", description="time buckets of the series")
    group: int | None = Field(None, ge=1, le=ID_MAX, description="only tickets of this group")
    agent: int | None = Field(None, ge=1, le=ID_MAX, description="only tickets assigned to (activity by) this agent")
    channel: ChannelName | None = Field(None, description="only tickets from this channel")
    priority: int | None = Field(None, ge=1, le=4, description="1 low, 2 normal, 3 high, 4 urgent")
    tag: str | None = Field(None, min_length=1, max_length=50, description="only tickets with this tag")
    category: int | None = Field(None, ge=1, le=ID_MAX)
    organization: int | None = Field(None, ge=1, le=ID_MAX, description="only tickets of this organization's customers")
    custom: list[Annotated[str, Field(max_length=300)]] = Field(
        [],
        description="ticket custom field filters as `key:value` (`product:Widget`; part of a text matches, "
        "`gift:yes`); repeat for several, all must match",
    )


class ReportFigureOut(Schema):
    key: str
    label: str
    value: float | int | None
    previous: float | int | None = Field(description="the same figure in the previous period of the same length")
    unit: str = Field(description="count, percent, seconds or number")


class ReportSeriesOut(Schema):
    key: str
    label: str
    values: list[float | int | None] = Field(description="one value per point of `axis`")


class ReportColumnOut(Schema):
    key: str
    label: str


class ReportTableOut(Schema):
    columns: list[ReportColumnOut]
    rows: list[dict[str, Any]] = Field(description="one object per row, keyed by the columns' keys")


class ReportOut(Schema):
    slug: str
    title: str
    period: PeriodOut
    previous: PeriodOut = Field(description="the period the figures are compared with")
    granularity: str
    figures: list[ReportFigureOut]
    axis: list[str] = Field(description="ISO dates of each day/week/month start, or category labels")
    series: list[ReportSeriesOut]
    chart: str = Field(description="line, bar or stacked-bar")
    table: ReportTableOut
    extra: dict[str, ReportTableOut] = Field(description="further lists, e.g. `breaches` of the SLA report")


def _table(table: frame.Table) -> ReportTableOut:
    return ReportTableOut(
        columns=[ReportColumnOut(key=key, label=str(label)) for key, label in table.columns], rows=table.rows
    )


def report_query(query: ReportQueryIn) -> frame.ReportQuery:
    """The frame's query from the API's parameters (the period in the current time zone)."""
    period = services.Period.parse(query.since, query.until)
    filters = frame.Filters(
        group=query.group,
        agent=query.agent,
        channel=query.channel,
        priority=query.priority,
        tag=query.tag,
        category=query.category,
        organization=query.organization,
        custom=frame.custom_filters(_custom_pairs(query.custom)),
    )
    return frame.ReportQuery(period=period, filters=filters, granularity=frame.Granularity(query.granularity))


def _custom_pairs(pairs: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for pair in pairs:
        key, colon, value = pair.partition(":")
        if not colon or not key.strip():
            raise InvalidInput(f"Write a custom field filter as key:value, not {pair[:60]!r}", field="custom")
        found[key.strip()] = value
    return found


def run_report(slug: str, request: HttpRequest, query: ReportQueryIn) -> ReportOut:
    user = caller(request)
    require_agent(user)
    _title, function = frame.REPORTS[slug]
    with timezone.override(_zone(user)):
        asked = report_query(query)
        result = function(asked, user)
        zone = timezone.get_current_timezone_name()
    previous = asked.previous
    return ReportOut(
        slug=result.slug,
        title=str(result.title),
        period=PeriodOut(since=asked.period.first, until=asked.period.last, time_zone=zone),
        previous=PeriodOut(since=previous.first, until=previous.last, time_zone=zone),
        granularity=str(asked.granularity),
        figures=[
            ReportFigureOut(key=f.key, label=str(f.label), value=f.value, previous=f.previous, unit=f.unit)
            for f in result.figures
        ],
        axis=result.axis,
        series=[ReportSeriesOut(key=s.key, label=str(s.label), values=s.values) for s in result.series],
        chart=result.chart,
        table=_table(result.table),
        extra={name: _table(table) for name, table in result.extra.items()},
    )


def _operation(slug: str) -> None:
    title, _function = frame.REPORTS[slug]

    def handler(request: HttpRequest, query: Query[ReportQueryIn]) -> ReportOut:
        return run_report(slug, request, query)

    handler.__name__ = f"report_{slug.replace('-', '_')}"
    handler.__doc__ = f"{title}: {_function.__doc__ or ''} (docs/reports.md defines every number)"
    router.get(f"/reports/{slug}", response={200: ReportOut, **errors(422)}, summary=title)(handler)


for _slug in (*metrics.SLUGS, forum_report.SLUG, *intelligence.SLUGS):
    _operation(_slug)
