"""A hand-made set of open tickets and two policies, for the SLA settings pages' previews.

| ticket            | priority | channel | tags | state  | taken today by |
| ----------------- | -------- | ------- | ---- | ------ | -------------- |
| vip_mail          | urgent   | email   | vip  | new    | VIP            |
| urgent_mail       | urgent   | email   |      | new    | (none)         |
| urgent_chat       | urgent   | chat    |      | new    | Chat           |
| vip_chat          | urgent   | chat    | vip  | new    | VIP            |
| normal_mail       | normal   | email   |      | new    | (none)         |
| normal_chat       | normal   | chat    |      | new    | Chat           |
| low_web           | low      | web     |      | new    | (none)         |
| solved_urgent     | urgent   | email   |      | solved | not open       |
"""

from __future__ import annotations

import pytest

from sportello.sla.models import Policy
from sportello.sla.services import TargetIn, save_policy
from sportello.tickets.models import Priority, StatusCategory, Ticket
from tests.sla.conftest import open_ticket


@pytest.fixture
def policies(db) -> dict[str, Policy]:
    return {
        "vip": save_policy(
            Policy(),
            {"name": "VIP", "position": 10},
            tags=["vip"],
            targets=[TargetIn(Priority.URGENT, first_response_minutes=15)],
        ),
        "chat": save_policy(
            Policy(),
            {"name": "Chat", "position": 20, "channels": ["chat"]},
            targets=[TargetIn(Priority.URGENT, first_response_minutes=5)],
        ),
    }


@pytest.fixture
def tickets(policies) -> dict[str, Ticket]:
    rows = {
        "vip_mail": open_ticket("VIP mail", "a@example.com", priority=Priority.URGENT, tags=["vip"]),
        "urgent_mail": open_ticket("Urgent mail", "b@example.com", priority=Priority.URGENT),
        "urgent_chat": open_ticket("Urgent chat", "c@example.com", priority=Priority.URGENT, channel="chat"),
        "vip_chat": open_ticket("VIP chat", "d@example.com", priority=Priority.URGENT, channel="chat", tags=["vip"]),
        "normal_mail": open_ticket("Normal mail", "e@example.com"),
        "normal_chat": open_ticket("Normal chat", "f@example.com", channel="chat"),
        "low_web": open_ticket("Low web", "g@example.com", priority=Priority.LOW, channel="web"),
        "solved_urgent": open_ticket("Solved urgent", "h@example.com", priority=Priority.URGENT),
    }
    Ticket.objects.filter(pk=rows["solved_urgent"].pk).update(state=StatusCategory.SOLVED)
    return rows
