"""The facts listener rewrites only what moved: a second delivery of an event leaves a ticket's
activity rows as they are, and a change the roll-up's ticket columns do not show (an internal
note: notes are per agent, not per ticket) still moves the roll-up as a rebuild computes it."""

from __future__ import annotations

import pytest
import time_machine
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from sportello.reports import facts, rollup
from sportello.reports.models import Activity, ReportDaily, ResponseHistogram, TicketCount, TicketFact
from sportello.tickets.models import Ticket
from sportello.tickets.services import add_note
from tests.reports.scenario import NOW, build

pytestmark = pytest.mark.django_db


@pytest.fixture
def week(django_capture_on_commit_callbacks, agent, agent2, first_level, second_level):  # type: ignore[no-untyped-def]
    with override_settings(TIME_ZONE="Europe/Rome"):
        rollup.rebuild()  # built (empty) first: from here on the listeners keep it
        yield build(django_capture_on_commit_callbacks, agent, agent2, first_level, second_level)


def kept() -> tuple[list[tuple[object, ...]], ...]:
    daily = ("day", "grain", *rollup.DIMENSIONS.values(), *rollup.MEASURES)
    facts_read = [*rollup.FACT_READ, "state", "reopens", "notes", "time_spent", "version"]
    return (
        sorted(ReportDaily.objects.values_list(*daily), key=repr),
        sorted(ResponseHistogram.objects.values_list(*rollup.HISTOGRAM_COLUMNS), key=repr),
        sorted(TicketCount.objects.values_list("state", "group_id", "assignee_id", "tickets"), key=repr),
        sorted(TicketFact.objects.values_list(*facts_read), key=repr),
    )


def test_a_second_delivery_rewrites_no_activity_and_moves_nothing(week):
    with override_settings(TIME_ZONE="Europe/Rome"):
        ids = list(Ticket.objects.values_list("pk", flat=True))
        before = kept()
        activity = sorted(Activity.objects.values_list("pk", "fact_id", "kind", "agent_id", "at", "time_spent"))
        assert activity, "the week has activity"
        with CaptureQueriesContext(connection) as queries:
            assert facts.refresh(ids) == len(ids)
        assert kept() == before
        # The same rows, not deleted and inserted again (their ids stay).
        assert sorted(Activity.objects.values_list("pk", "fact_id", "kind", "agent_id", "at", "time_spent")) == activity
        written = [query["sql"] for query in queries.captured_queries]
        assert not any(sql.startswith("DELETE") for sql in written), written


def test_a_note_alone_moves_the_roll_up_as_a_rebuild_computes_it(week, django_capture_on_commit_callbacks):
    alice = week.alice
    t1 = week.tickets["T1"]
    with override_settings(TIME_ZONE="Europe/Rome"), time_machine.travel(NOW, tick=False):
        notes_before = ReportDaily.objects.filter(grain="actor", actor_id=alice.pk).values_list("notes", flat=True)
        before = sum(notes_before)
        with django_capture_on_commit_callbacks(execute=True):
            add_note(Ticket.objects.get(pk=t1.pk), alice, body_text="One more check", time_spent=5)
        notes = ReportDaily.objects.filter(grain="actor", actor_id=alice.pk).values_list("notes", flat=True)
        assert sum(notes) == before + 1
        assert TicketFact.objects.get(pk=t1.pk).notes == 2
        listened = kept()
        rollup.rebuild()
        assert kept() == listened
