"""Survey fixtures: solving a ticket (listeners run), and the links of the survey mail."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from sportello.accounts.models import User
from sportello.csat.models import Survey
from sportello.tickets import statuses
from sportello.tickets.models import StatusCategory, Ticket
from sportello.tickets.services import TicketChanges, update_ticket


def solve(ticket: Ticket, agent: User, capture) -> Ticket:  # type: ignore[no-untyped-def]
    with capture(execute=True):
        return update_ticket(
            ticket, agent, TicketChanges(status=statuses.builtin(StatusCategory.SOLVED), assignee=agent)
        )


def survey_links() -> dict[str, str]:
    """{"good": path, "bad": path} from the latest survey mail."""
    body = mail.outbox[-1].body
    found = {rating: path for path, rating in re.findall(r"https?://[^/\s]+(/csat/\d+/[^/\s]+/(good|bad))", body)}
    assert set(found) == {"good", "bad"}, body
    return found


@pytest.fixture
def solved(ticket, agent, django_capture_on_commit_callbacks) -> Ticket:
    """The customer's ticket, solved by the agent: its survey was mailed."""
    return solve(ticket, agent, django_capture_on_commit_callbacks)


@pytest.fixture
def survey(solved) -> Survey:
    return Survey.objects.get(ticket=solved)
