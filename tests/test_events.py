"""Domain events: listeners run after commit, in order, and one failing listener hides nothing."""

from __future__ import annotations

import pytest

from sportello.chat import live
from sportello.core import events

pytestmark = pytest.mark.django_db

NAME = "test.happened"


@pytest.fixture
def calls():
    seen: list[str] = []
    yield seen
    events._listeners.pop(NAME, None)


def test_listeners_run_after_commit_in_order_and_first_goes_before(calls, django_capture_on_commit_callbacks):
    events.subscribe(NAME, lambda event: calls.append("slow"))
    events.subscribe(NAME, lambda event: calls.append("quick"), first=True)
    with django_capture_on_commit_callbacks(execute=True):
        events.publish(events.Event(NAME, ticket_id=1))
        assert calls == []  # nothing before the commit
    assert calls == ["quick", "slow"]


def test_a_failing_listener_does_not_stop_the_others(calls, django_capture_on_commit_callbacks):
    def broken(event: events.Event) -> None:
        raise RuntimeError("boom")

    events.subscribe(NAME, broken)
    events.subscribe(NAME, lambda event: calls.append("after"))
    with django_capture_on_commit_callbacks(execute=True):
        events.publish(events.Event(NAME, ticket_id=1))
    assert calls == ["after"]


def test_screens_are_told_before_sla_clocks_and_triggers_run():
    # A chat line or a new ticket reaches the agents' screens first; the SLA, automation,
    # assignment and survey listeners (slower, with writes of their own) come after.
    assert events._listeners[events.ENTRY_ADDED][0] is live.on_entry_added
    assert events._listeners[events.TICKET_CREATED][0] is live.on_ticket_changed
    assert events._listeners[events.TICKET_UPDATED][0] is live.on_ticket_changed
