"""Erasing a customer (GDPR) empties what reply assistance sent and got back about their tickets."""

from __future__ import annotations

import pytest

from sportello.assist.models import AssistUse
from sportello.privacy.erasure import confirmation_for, erase_customer
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_erasing_the_customer_empties_the_prompts_and_answers(admin, agent, customer, ticket, assist_on):
    client_for(agent).post(f"/assist/tickets/{ticket.number}/run", {"action": "summarise"})
    use = AssistUse.objects.get()
    assert "room 4 is on fire" in str(use.messages)
    erase_customer(admin, customer, confirmation=confirmation_for(customer))
    use.refresh_from_db()
    assert (use.messages, use.answer) == ([], "")
    assert (use.action, use.prompt_chars, use.outcome) == ("summarise", use.prompt_chars, "answered")  # still counted
    page = client_for(admin).get(f"/settings/assistance/log/{use.pk}/").content.decode()
    assert "room 4" not in page
