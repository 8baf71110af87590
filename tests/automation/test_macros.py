"""Macros: canned replies with placeholders, shared or personal, that can set fields in one click."""

from __future__ import annotations

import pytest

from sportello.automation.models import Macro
from sportello.automation.placeholders import context_for, render
from sportello.automation.services import apply_macro, macros_for
from sportello.core.errors import Conflict
from sportello.tickets.models import StatusCategory

pytestmark = pytest.mark.django_db


def test_placeholders_render_from_plain_values_only(ticket, agent):
    text = render(
        "Ciao {{ customer.first_name }}, ticket {{ticket.number}} - {{ agent.name }}. "
        "{{ ticket.customer.user.password }} {{ settings.SECRET_KEY }} {% debug %}",
        context_for(ticket, agent),
    )
    assert text.startswith(f"Ciao Carla, ticket {ticket.number} - {agent.display_name}. ")
    # Anything not in the list stays as typed: no attribute walk, no template tags.
    assert "{{ ticket.customer.user.password }} {{ settings.SECRET_KEY }} {% debug %}" in text


def test_apply_macro_renders_and_sets_fields(ticket, agent):
    macro = Macro.objects.create(
        name="Ask for the invoice",
        body="Dear {{ customer.name }}, please send the invoice for #{{ ticket.number }}.",
        actions=[{"type": "set_status", "status": "pending"}, {"type": "add_tags", "tags": ["invoice"]}],
    )
    version = ticket.version
    result = apply_macro(ticket, macro, agent, expected_version=version)
    assert result.text == f"Dear Carla Rossi, please send the invoice for #{ticket.number}."
    assert result.ticket.state == StatusCategory.PENDING and result.ticket.version == version + 1
    assert list(result.ticket.tags.values_list("name", flat=True)) == ["invoice"]
    assert result.ticket.changes.get(field="status").actor == agent  # the agent did it, with a macro
    macro.refresh_from_db()
    assert macro.usage_count == 1


def test_apply_macro_on_a_stale_ticket_is_a_conflict(ticket, agent):
    macro = Macro.objects.create(name="Close", body="Bye", actions=[{"type": "set_status", "status": "solved"}])
    with pytest.raises(Conflict):
        apply_macro(ticket, macro, agent, expected_version=ticket.version - 1 or 999)
    ticket.refresh_from_db()
    assert ticket.state != StatusCategory.SOLVED


def test_search_finds_shared_and_own_macros_but_not_others(agent, agent2):
    Macro.objects.create(name="Refund accepted", body="We refunded you")
    Macro.objects.create(name="My refund words", body="…", owner=agent)
    Macro.objects.create(name="Bob's refund", body="…", owner=agent2)
    Macro.objects.create(name="Old refund", body="…", active=False)
    assert sorted(m.name for m in macros_for(agent, "refund")) == ["My refund words", "Refund accepted"]
    assert [m.name for m in macros_for(agent, "refunded")] == ["Refund accepted"]  # the text counts too
