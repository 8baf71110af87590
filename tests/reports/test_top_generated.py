"""Top customers on generated facts: the one-statement ranking (PostgreSQL) equals the plain queries.

Ties, more customers than the table shows, customers who wrote only in the previous period, tickets
without an organization or a sender domain, merged tickets: what the hand-computed week has too
few of. On SQLite both sides are the plain queries; run on PostgreSQL for the real check.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from sportello.customers.models import Customer, Organization
from sportello.reports import metrics
from sportello.reports.frame import Filters, Granularity, ReportQuery
from sportello.reports.models import TicketFact
from sportello.reports.services import Period
from sportello.tickets.models import Status, Ticket

ROME = ZoneInfo("Europe/Rome")
PERIOD = Period(date(2026, 10, 23), date(2026, 10, 30))
DOMAINS = ["", "", "example.com", "acme.test", "other.test", "b.test", "c.test"]


@pytest.fixture
def generated(db):  # type: ignore[no-untyped-def]
    chance = random.Random(13)
    organizations = Organization.objects.bulk_create(Organization(name=f"Org {n}") for n in range(25))
    customers = Customer.objects.bulk_create(
        Customer(name=f"Customer {n:02}", organization=chance.choice([None, *organizations])) for n in range(60)
    )
    status = Status.objects.first()
    start = datetime(2026, 10, 15, tzinfo=ROME)  # the previous period starts on the 15th
    tickets, found = [], []
    for n in range(1, 901):
        customer = chance.choice(customers[: 10 + n % 50])  # a few customers write much more
        created = start + timedelta(minutes=chance.randrange(17 * 24 * 60))
        tickets.append(
            Ticket(
                number=n, subject=f"Ticket {n}", customer=customer, channel="email", status=status,
                state="open", created_at=created,
            )
        )  # fmt: skip
    tickets = Ticket.objects.bulk_create(tickets)
    for ticket in tickets:
        found.append(
            TicketFact(
                ticket=ticket, number=ticket.number, created_at=ticket.created_at, channel="email", state="open",
                priority=2, customer=ticket.customer, organization_id=ticket.customer.organization_id,
                sender_domain=chance.choice(DOMAINS), merged=chance.random() < 0.05,
            )
        )  # fmt: skip
    TicketFact.objects.bulk_create(found)


def plain(rows, query):  # type: ignore[no-untyped-def]
    total = rows.filter(metrics.in_period("created_at", query.period))
    before = rows.filter(metrics.in_period("created_at", query.previous))
    return (
        {column: metrics._top(rows, column, query) for column in metrics.TOP_KEYS},
        (total.count(), before.count()),
        (total.values("customer_id").distinct().count(), before.values("customer_id").distinct().count()),
    )


@pytest.mark.parametrize("filters", [Filters(), Filters(channel="email"), Filters(channel="web")])
def test_the_one_statement_ranking_is_the_plain_one(generated, admin, filters):
    query = ReportQuery(PERIOD, filters, Granularity.DAY)
    with timezone.override(ROME):
        rows = metrics.fact_rows(query, admin)
        found = metrics._tops(rows, query)
        expected = plain(rows, query)
    assert (found.tops, found.requests, found.customers) == expected
    if filters.channel != "web":
        assert len(found.tops["customer_id"][0]) == metrics.TOP and found.requests[1] > 0
        assert "" not in dict(found.tops["sender_domain"][0])
