"""Scheduled reports: subscribe from a report page, get it by mail once per week or month.

The mail is the report as the page shows it for the period that just ended: its CSV attachment is
byte for byte the page's CSV, the chart is an inline PNG, and it is in the agent's language.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import time_machine
from django.core import mail
from django.http import QueryDict

from sportello.core.models import OutboxMessage
from sportello.reports import subscriptions
from sportello.reports.models import Frequency, ReportSubscription
from sportello.reports.services import Period
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

# Monday 30 November 2026, 07:05 in Rome (06:05 UTC): the week of 23 to 29 November is due.
MONDAY_ROME = datetime(2026, 11, 30, 6, 5, tzinfo=UTC)


@pytest.fixture
def queue_due(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """The scheduled job, its outbox rows drained on commit as a worker would."""

    def run() -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return subscriptions.queue_due()

    return run


def subscribe(user, slug="volume", frequency="weekly", **filters) -> ReportSubscription:  # type: ignore[no-untyped-def]
    with time_machine.travel(datetime(2026, 11, 24, 9, 0, tzinfo=UTC), tick=False):
        page = client_for(user).get(f"/reports/{slug}", {"since": "2026-11-01", "until": "2026-11-23", **filters})
        assert page.status_code == 200
        query = page.context["subscribe_query"]
        response = client_for(user).post(f"/reports/{slug}/subscribe", {"query": query, "frequency": frequency})
    assert response.status_code == 302
    return ReportSubscription.objects.get(user=user, report=slug)


def test_the_page_offers_to_subscribe_and_keeps_the_filters(agent, first_level):
    page = client_for(agent).get("/reports/volume", {"channel": "email", "group": first_level.pk, "range": "30d"})
    assert b'id="subscribe-weekly"' in page.content and b'id="subscribe-monthly"' in page.content
    row = subscribe(agent, channel="email", group=str(first_level.pk), granularity="week")
    assert QueryDict(row.query).dict() == {"channel": "email", "group": str(first_level.pk), "granularity": "week"}
    assert row.frequency == Frequency.WEEKLY and row.last_sent_at is None
    listing = client_for(agent).get("/reports/subscriptions")
    assert b"Volume" in listing.content and row.query.encode() in listing.content.replace(b"&amp;", b"&")


def test_unsubscribe_removes_only_my_subscription(agent, agent2):
    mine, theirs = subscribe(agent), subscribe(agent2)
    assert client_for(agent).post(f"/reports/subscriptions/{theirs.pk}/delete").status_code == 404
    assert client_for(agent).post(f"/reports/subscriptions/{mine.pk}/delete").status_code == 302
    assert list(ReportSubscription.objects.values_list("pk", flat=True)) == [theirs.pk]


def test_bad_input_is_refused_with_a_message(agent):
    client = client_for(agent)
    assert client.post("/reports/volume/subscribe", {"query": "", "frequency": "daily"}).status_code == 400
    refused = client.post("/reports/volume/subscribe", {"query": "channel=pigeon", "frequency": "weekly"})
    assert refused.status_code == 400 and b"pigeon" in refused.content
    assert client.post("/reports/nope/subscribe", {"frequency": "weekly"}).status_code == 404
    assert not ReportSubscription.objects.exists()


def test_customers_and_strangers_are_refused(customer_user, stranger, agent):
    row = subscribe(agent)
    for user in (customer_user, stranger):
        client = client_for(user)
        assert client.post("/reports/volume/subscribe", {"frequency": "weekly"}).status_code == 403
        assert client.get("/reports/subscriptions").status_code == 403
        assert client.post(f"/reports/subscriptions/{row.pk}/delete").status_code == 403
    anonymous = client_for(None).post("/reports/volume/subscribe", {"frequency": "weekly"})
    assert anonymous.status_code == 302 and "next=" in anonymous["Location"]
    assert ReportSubscription.objects.count() == 1


def test_the_weekly_mail_goes_on_monday_in_the_agents_zone_once(agent, ticket, queue_due):
    agent.time_zone, agent.language = "Europe/Rome", "en"
    agent.save()
    row = subscribe(agent, channel="web")
    mail.outbox.clear()
    # Monday 06:55 in Rome: not yet.
    with time_machine.travel(datetime(2026, 11, 30, 5, 55, tzinfo=UTC), tick=False):
        assert queue_due() == 0
    with time_machine.travel(MONDAY_ROME, tick=False):
        assert queue_due() == 1
        assert queue_due() == 0  # a rerun queues nothing
    [message] = mail.outbox
    assert message.to == [agent.email]
    assert "Volume" in message.subject and "23 Nov 2026" in message.subject
    row.refresh_from_db()
    assert row.last_period == date(2026, 11, 23) and row.last_sent_at is not None
    # The CSV attached is the page's CSV for the same week and filters.
    [(name, content, mimetype)] = [a for a in message.attachments if isinstance(a, tuple)]
    assert (name, mimetype) == ("sportello-volume-2026-11-23-2026-11-29.csv", "text/csv")
    agent.refresh_from_db()
    with time_machine.travel(MONDAY_ROME, tick=False):
        page_csv = client_for(agent).get(
            "/reports/volume", {"since": "2026-11-23", "until": "2026-11-29", "channel": "web", "format": "csv"}
        )
    assert content == page_csv.content.decode("utf-8")
    # The chart is an inline PNG the HTML part shows.
    [image] = [a for a in message.attachments if not isinstance(a, tuple)]
    assert image.get_content_type() == "image/png" and image["Content-ID"] == "<chart>"
    assert image.get_payload(decode=True).startswith(b"\x89PNG\r\n\x1a\n")
    html = message.alternatives[0][0]
    assert 'src="cid:chart"' in html and "Figures" in html
    # A week later the next week goes; the same week never again.
    with time_machine.travel(datetime(2026, 12, 7, 6, 5, tzinfo=UTC), tick=False):
        assert queue_due() == 1
    assert len(mail.outbox) == 2 and "30 Nov 2026" in mail.outbox[1].subject
    assert OutboxMessage.objects.filter(kind=subscriptions.KIND).count() == 2


def test_monthly_mail_covers_the_previous_month(agent, queue_due):
    row = subscribe(agent, frequency="monthly")
    mail.outbox.clear()
    with time_machine.travel(datetime(2026, 11, 30, 23, 0, tzinfo=UTC), tick=False):
        assert queue_due() == 0  # November 2026 is not over (and October ended before)
    with time_machine.travel(datetime(2026, 12, 1, 7, 1, tzinfo=UTC), tick=False):
        assert queue_due() == 1
    row.refresh_from_db()
    assert row.last_period == date(2026, 11, 1)
    [message] = mail.outbox
    assert "sportello-volume-2026-11-01-2026-11-30.csv" in [a[0] for a in message.attachments if isinstance(a, tuple)]


def test_due_periods():
    import zoneinfo

    rome = zoneinfo.ZoneInfo("Europe/Rome")
    period, _ = subscriptions.due_period(Frequency.WEEKLY, MONDAY_ROME, rome)
    assert period == Period(date(2026, 11, 23), date(2026, 11, 29))
    period, _ = subscriptions.due_period(Frequency.WEEKLY, datetime(2026, 11, 30, 5, 0, tzinfo=UTC), rome)
    assert period == Period(date(2026, 11, 16), date(2026, 11, 22))
    period, _ = subscriptions.due_period(Frequency.MONTHLY, datetime(2026, 3, 15, tzinfo=UTC), rome)
    assert period == Period(date(2026, 2, 1), date(2026, 2, 28))


def test_an_italian_agent_gets_it_in_italian(agent, queue_due):
    agent.time_zone, agent.language = "Europe/Rome", "it"
    agent.save()
    subscribe(agent)
    mail.outbox.clear()
    with time_machine.travel(MONDAY_ROME, tick=False):
        queue_due()
    [message] = mail.outbox
    # The mail's own new strings are not translated yet: the switch shows in the page's heading
    # "Figures", which the catalog has ("Dati"), and in the full month name of Django's catalog.
    html = message.alternatives[0][0]
    assert '<html lang="it">' in html and ">Dati</h2>" in html and ">Figures<" not in html
    assert "novembre 2026" in html.lower() and "November" not in html


def test_a_deactivated_agent_or_a_demoted_one_gets_nothing(agent, agent2, queue_due):
    subscribe(agent)
    subscribe(agent2)
    mail.outbox.clear()
    agent.is_active = False
    agent.save()
    agent2.role = "customer"
    agent2.save()
    with time_machine.travel(MONDAY_ROME, tick=False):
        assert queue_due() == 0
    assert not mail.outbox


def test_an_agent_deactivated_after_queueing_gets_nothing(agent, django_capture_on_commit_callbacks):
    subscribe(agent)
    mail.outbox.clear()
    with time_machine.travel(datetime(2026, 11, 30, 7, 5, tzinfo=UTC), tick=False):  # the agent is on UTC
        with django_capture_on_commit_callbacks(execute=False):
            assert subscriptions.queue_due() == 1
        agent.is_active = False
        agent.save()
        [row] = OutboxMessage.objects.filter(kind=subscriptions.KIND)
        subscriptions.send_report_mail(row)
    assert not mail.outbox


def test_the_chart_png_draws_lines_and_bars():
    from sportello.reports.frame import ReportResult, Series

    for kind in ("line", "bar"):
        result = ReportResult(
            slug="x", title="X", axis=["2026-11-23", "2026-11-24", "2026-11-25"], chart=kind,
            series=[Series("a", "A", [1, None, 3]), Series("b", "B", [0, 2, 2])],
        )  # fmt: skip
        png = subscriptions.chart_png(result)
        assert png is not None and png.startswith(b"\x89PNG")
    assert subscriptions.chart_png(ReportResult(slug="x", title="X")) is None


def test_my_subscriptions_page_takes_the_same_queries_for_one_or_many(agent, first_level):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    assert b'id="subscriptions-link"' in client_for(agent).get("/reports/").content
    client = client_for(agent)
    ReportSubscription.objects.create(user=agent, report="volume", frequency=Frequency.WEEKLY)
    with CaptureQueriesContext(connection) as one:
        assert client.get("/reports/subscriptions").status_code == 200
    for slug in ("backlog", "agents", "sla", "trends"):
        ReportSubscription.objects.create(user=agent, report=slug, query="channel=web", frequency=Frequency.MONTHLY)
    with CaptureQueriesContext(connection) as many:
        page = client.get("/reports/subscriptions")
    assert page.content.count(b"Unsubscribe") == 5
    assert len(many) == len(one)
