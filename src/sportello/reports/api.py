"""Reports in the REST API: the same figures as the report pages, days in the caller's time zone."""

from __future__ import annotations

import re
import zoneinfo
from datetime import date
from typing import Annotated, Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Schema
from pydantic import BeforeValidator, Field, WithJsonSchema

from sportello.accounts.auth import caller, errors
from sportello.accounts.models import User
from sportello.csat.api import ScoreOut, score_rows
from sportello.reports import services
from sportello.tickets.access import require_agent

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


class SelfServiceOut(Schema):
    period: PeriodOut
    deflected: dict[str, int] = Field(description="deflections per source: webform, portal, chat")
    requests: dict[str, int] = Field(description="tickets the same channels brought, per source")
    deflection_rate: float | None = Field(description="deflections in percent of deflections plus requests")
    helpful: int
    not_helpful: int
    days: list[DayOut]
    articles: list[ArticleOut]


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
