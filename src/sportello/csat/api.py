"""Satisfaction surveys in the REST API: a ticket's survey, recent answers, and scores per agent and
group. Agents read; nobody writes here (customers answer through the email link or the portal).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from sportello.accounts.auth import Id, Moment, caller, errors
from sportello.core.errors import NotFound
from sportello.csat import services
from sportello.csat.models import Survey
from sportello.tickets.access import require_agent, ticket_for_agent, tickets_visible_to
from sportello.tickets.api import Number

router = Router(tags=["csat"])


class SurveyOut(Schema):
    ticket: int = Field(description="the ticket's reference number")
    rating: Literal["good", "bad", ""] = Field(description="empty while unanswered")
    comment: str
    source: str
    agent: int | None = Field(description="the assignee when the ticket was solved")
    group: int | None = Field(description="the group when the ticket was solved")
    offered_at: datetime
    mailed_to: str
    answered_at: datetime | None
    updated_at: datetime | None

    @staticmethod
    def resolve_ticket(obj: Survey) -> int:
        return obj.ticket.number

    @staticmethod
    def resolve_agent(obj: Survey) -> int | None:
        return obj.agent_id

    @staticmethod
    def resolve_group(obj: Survey) -> int | None:
        return obj.group_id


class ScoreOut(Schema):
    id: int | None = Field(description="the agent's or group's id; null for tickets solved without one")
    name: str
    offered: int
    good: int
    bad: int
    score: float | None = Field(description="good answers in percent of answers; null without answers")
    response_rate: float | None = Field(description="answers in percent of surveys offered")


class Period(Schema):
    since: Moment | None = Field(None, description="surveys offered (tickets solved) from this time")
    until: Moment | None = Field(None, description="… and before this time")


class AnswersFilter(Period):
    rating: Literal["good", "bad"] | None = None
    agent: Id | None = None
    group: Id | None = None
    limit: Annotated[int, Field(ge=1, le=500)] = 100


def score_rows(found: list[services.Score]) -> list[ScoreOut]:
    return [
        ScoreOut(
            id=s.key,
            name=s.name,
            offered=s.offered,
            good=s.good,
            bad=s.bad,
            score=s.score,
            response_rate=s.response_rate,
        )
        for s in found
    ]


@router.get("/csat/tickets/{number}", response={200: SurveyOut, **errors(404)})
def get_ticket_survey(request: HttpRequest, number: Number) -> Survey:
    ticket = ticket_for_agent(caller(request), number)
    survey = Survey.objects.select_related("ticket").filter(ticket=ticket).first()
    if survey is None:
        raise NotFound(f"Ticket #{number} has no survey")
    return survey


@router.get("/csat/answers", response={200: list[SurveyOut], **errors()})
def list_answers(request: HttpRequest, filters: Query[AnswersFilter]) -> list[Survey]:
    """Answered surveys, the latest answer first."""
    user = caller(request)
    require_agent(user)
    rows = services.surveys_between(filters.since, filters.until).exclude(rating="").select_related("ticket")
    rows = rows.filter(ticket__in=tickets_visible_to(user))
    if filters.rating:
        rows = rows.filter(rating=filters.rating)
    if filters.agent:
        rows = rows.filter(agent_id=filters.agent)
    if filters.group:
        rows = rows.filter(group_id=filters.group)
    return list(rows.order_by("-updated_at", "-id")[: filters.limit])


@router.get("/csat/agents", response={200: list[ScoreOut], **errors()})
def agent_scores(request: HttpRequest, period: Query[Period]) -> list[ScoreOut]:
    require_agent(caller(request))
    return score_rows(services.scores_by_agent(period.since, period.until))


@router.get("/csat/groups", response={200: list[ScoreOut], **errors()})
def group_scores(request: HttpRequest, period: Query[Period]) -> list[ScoreOut]:
    require_agent(caller(request))
    return score_rows(services.scores_by_group(period.since, period.until))
