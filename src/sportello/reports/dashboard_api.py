"""GET /api/v1/reports/dashboard: the live dashboard's figures (reports/dashboard.py), agents only."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import Field

from sportello.accounts.auth import caller, errors
from sportello.reports.dashboard import dashboard
from sportello.tickets.access import require_agent

router = Router(tags=["reports"])


class DashboardAgentOut(Schema):
    id: int
    name: str
    load: int = Field(description="tickets new or open assigned to the agent, among those the caller sees")


class DashboardOut(Schema):
    open: int = Field(description="tickets in a new or open status")
    unassigned: int = Field(description="open tickets nobody holds")
    breaching: int = Field(description="tickets with an SLA target due within the hour")
    breached: int = Field(description="tickets with an SLA target past due, the clock still running")
    waiting_chats: int = Field(description="chats waiting for an agent")
    agents_online: int
    agents: list[DashboardAgentOut] = Field(description="agents online, the most loaded first")
    created_today: int = Field(description="tickets created since midnight in the caller's time zone")
    solved_today: int = Field(description="tickets last solved since midnight in the caller's time zone")
    restricted: bool = Field(description="true when the figures cover only the caller's groups")
    capped: list[str] = Field(
        description="the figures past their cap (5000; an agent's load: 100), each then cap + 1: at least that many"
    )
    time_zone: str
    at: datetime


@router.get("/reports/dashboard", response={200: DashboardOut, **errors()})
def dashboard_report(request: HttpRequest) -> DashboardOut:
    """What is happening now, for the tickets the caller may see."""
    user = caller(request)
    require_agent(user)
    figures = dashboard(user)
    return DashboardOut(
        open=figures.open,
        unassigned=figures.unassigned,
        breaching=figures.breaching,
        breached=figures.breached,
        waiting_chats=figures.waiting_chats,
        agents_online=figures.agents_online,
        agents=[DashboardAgentOut(id=a.id, name=a.name, load=a.load) for a in figures.agents],
        created_today=figures.created_today,
        solved_today=figures.solved_today,
        restricted=figures.restricted,
        capped=figures.capped,
        time_zone=figures.time_zone,
        at=figures.at,
    )
