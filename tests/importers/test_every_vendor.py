"""What every REST importer does alike, written once and run against each vendor's fake server:
imported history is quiet, rate limits and server errors are waited out, a dry run writes nothing.
What differs between vendors (their fixtures' counts, their 429's wait, where their files are
downloaded from) is in VENDORS; each vendor's own mapping and errors stay in its test_<vendor>.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core import mail

from sportello.accounts.models import User
from sportello.core.models import OutboxMessage
from sportello.importers.models import ImportedRecord
from sportello.importers.runner import run_import
from sportello.importers.sources.freshdesk import FreshdeskSource
from sportello.importers.sources.helpscout import HelpScoutSource
from sportello.importers.sources.zammad import ZammadSource
from sportello.importers.sources.zendesk import ZendeskSource
from sportello.sla.models import TicketSLA
from sportello.tickets.models import Ticket
from tests.importers import freshdesk_server, helpscout_server, zammad_server, zendesk_server
from tests.importers.common import VendorServer, counts

pytestmark = pytest.mark.django_db

Sleep = Callable[[float], None]


@dataclass(frozen=True)
class Vendor:
    fixture: str  # conftest.py's fake server
    source: Callable[[str, Sleep], Any]  # the importer's source for a server address
    tickets: int  # in the fixture
    closed: int  # of them solved or closed
    retry_after: float  # what the fake server's 429 says to wait
    downloads: tuple[str, ...]  # request paths that fetch a file (none on a dry run)
    would_create: dict[str, int]  # what a dry run says would come

    def __str__(self) -> str:
        return self.fixture


VENDORS = [
    Vendor(
        "zendesk",
        lambda url, sleep: ZendeskSource(url, email=zendesk_server.EMAIL, token=zendesk_server.TOKEN, sleep=sleep),
        tickets=3,
        closed=2,
        retry_after=7.0,
        downloads=("/attachments/",),
        would_create={"ticket": 3, "customer": 3, "agent": 2},
    ),
    Vendor(
        "freshdesk",
        lambda url, sleep: FreshdeskSource(url, token=freshdesk_server.API_KEY, per_page=2, sleep=sleep),
        tickets=3,
        closed=2,
        retry_after=11.0,
        downloads=("/attachments/",),
        would_create={"ticket": 3, "customer": 2, "agent": 1, "attachment": 2},
    ),
    Vendor(
        "zammad",
        lambda url, sleep: ZammadSource(url, token=zammad_server.TOKEN, per_page=2, sleep=sleep),
        tickets=3,
        closed=1,
        retry_after=5.0,
        downloads=("/api/v1/ticket_attachment/", "/api/v1/attachments/"),
        would_create={"ticket": 3, "customer": 1, "agent": 2, "attachment": 2, "article": 4, "image": 2},
    ),
    Vendor(
        "helpscout",
        lambda url, sleep: HelpScoutSource(
            app_id=helpscout_server.APP_ID, app_secret=helpscout_server.APP_SECRET, url=url, sleep=sleep
        ),
        tickets=2,
        closed=1,
        retry_after=9.0,
        downloads=("/attachments/",),
        would_create={"ticket": 2, "customer": 2, "agent": 2},
    ),
]


@pytest.fixture(params=VENDORS, ids=str)
def vendor(request: pytest.FixtureRequest) -> tuple[Vendor, VendorServer]:
    """Each vendor with its fake server, started for the test."""
    return request.param, request.getfixturevalue(request.param.fixture)


def test_imported_history_mails_nobody_fires_nothing_and_starts_no_clock_on_closed_tickets(
    vendor: tuple[Vendor, VendorServer],
) -> None:
    each, server = vendor
    before = OutboxMessage.objects.count()
    run_import(each.source(server.url, lambda s: None))

    assert mail.outbox == []
    assert OutboxMessage.objects.count() == before  # no event, no trigger, no survey mail, no webhook
    closed = Ticket.objects.filter(state__in=["solved", "closed"])
    assert closed.count() == each.closed
    assert not TicketSLA.objects.filter(ticket__in=closed).exists()
    agents = ImportedRecord.objects.filter(kind="agent").values_list("local_id", flat=True)
    assert agents and not User.objects.filter(pk__in=agents, is_active=True).exists()  # invited later


def test_rate_limits_are_waited_out_as_the_vendor_says(vendor: tuple[Vendor, VendorServer]) -> None:
    each, server = vendor
    server.rate_limit_next = 3
    sleeps: list[float] = []
    run_import(each.source(server.url, sleeps.append))

    assert sleeps[:3] == [each.retry_after] * 3
    assert Ticket.objects.count() == each.tickets


def test_server_errors_are_retried_with_a_growing_wait(vendor: tuple[Vendor, VendorServer]) -> None:
    each, server = vendor
    server.fail_next = [(503, {"error": "Service unavailable"}), (500, {"error": "Oops"})]
    sleeps: list[float] = []
    run_import(each.source(server.url, sleeps.append))

    assert sleeps[:2] == [2, 4]
    assert Ticket.objects.count() == each.tickets


def test_a_dry_run_writes_nothing_downloads_nothing_and_says_what_would_come(
    vendor: tuple[Vendor, VendorServer],
) -> None:
    each, server = vendor
    before = counts()
    report = run_import(each.source(server.url, lambda s: None), dry_run=True)

    assert counts() == before
    assert {kind: report.created[kind] for kind in each.would_create} == each.would_create
    assert not [r for r in server.requests if any(path in r for path in each.downloads)]
