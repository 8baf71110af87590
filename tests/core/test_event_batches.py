"""Several events published together are one outbox row, delivered in order, even after a crash."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from sportello.core import events, outbox
from sportello.core.models import OutboxMessage

pytestmark = pytest.mark.django_db

FIRST, SECOND = "test.first", "test.second"


@pytest.fixture
def calls():
    seen: list[str] = []
    for name in (FIRST, SECOND):
        events.subscribe(name, lambda event: seen.append(f"{event.name} {event.ticket_id}"))
    yield seen
    for name in (FIRST, SECOND):
        events._listeners.pop(name, None)


def after_the_lease() -> time_machine.travel:
    return time_machine.travel(timezone.now() + outbox.LEASE + timedelta(seconds=1))


def test_events_published_together_are_one_row_delivered_in_order(calls, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        events.publish(events.Event(FIRST, ticket_id=3), events.Event(SECOND, ticket_id=3))
    assert calls == [f"{FIRST} 3", f"{SECOND} 3"]
    [row] = OutboxMessage.objects.filter(kind=events.EVENT)
    assert row.state == OutboxMessage.State.DONE and len(row.payload["events"]) == 2


def test_a_batch_lost_in_a_crash_is_delivered_whole_after_the_lease(calls, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        events.publish(events.Event(FIRST, ticket_id=4), events.Event(SECOND, ticket_id=4))
    assert calls == []
    with after_the_lease():
        assert outbox.sweep() == 1
    assert calls == [f"{FIRST} 4", f"{SECOND} 4"]


def test_a_row_written_before_batching_is_still_delivered(calls):
    # An existing database may hold a claimed row of the old shape: one event's fields at the top.
    OutboxMessage.objects.create(
        kind=events.EVENT,
        payload={"name": FIRST, "ticket_id": 5, "entry_id": None, "actor_id": None, "data": {}, "depth": 0},
        state=OutboxMessage.State.CLAIMED,
        claimed_at=timezone.now(),
        attempts=1,
    )
    with after_the_lease():
        assert outbox.sweep() == 1
    assert calls == [f"{FIRST} 5"]


def test_a_malformed_row_crashes_nothing(calls):
    OutboxMessage.objects.create(
        kind=events.EVENT, payload={"events": [{"nonsense": 1}, {"name": SECOND, "ticket_id": 6}]}
    )
    assert events.deliver_pending() == 1
    assert calls == [f"{SECOND} 6"]


@pytest.mark.parametrize(
    "name, data",
    [
        (events.TICKET_UPDATED, {}),  # fields missing
        (events.TICKET_UPDATED, {"fields": "status"}),  # not a list
        (events.ENTRY_ADDED, {"direction": "sideways"}),
        (events.SLA_BREACHED, {"target": "resolution"}),  # due missing
        (events.CSAT_RATED, {"rating": "great", "previous": "", "at": "2026-12-02T10:00:00+00:00"}),
        (events.TICKETS_MERGED, {"source": "7"}),
        (events.TICKET_CREATED, {"surprise": 1}),
    ],
)
def test_a_payload_that_is_not_its_events_type_is_refused_before_anything_is_written(name, data):
    with pytest.raises(TypeError):
        events.publish(events.Event(name, ticket_id=1, data=data))
    assert not OutboxMessage.objects.exists()


def test_the_payloads_services_publish_are_accepted(django_capture_on_commit_callbacks):
    for name, data in [
        (events.TICKET_CREATED, {}),
        (events.TICKET_CREATED, {"split_from": 3}),
        (events.TICKET_UPDATED, {"fields": ["group", "assignee"], "tier": "up"}),
        (events.ENTRY_ADDED, {"direction": "outbound", "internal": False}),
        (events.SLA_WARNING, {"target": "first_response", "due": "2026-12-02T10:00:00+00:00"}),
        (events.CSAT_RATED, {"rating": "bad", "previous": "good", "at": "2026-12-02T10:00:00+00:00"}),
        (events.TICKETS_MERGED, {"source": 7}),
    ]:
        events.check_payload(name, data)
