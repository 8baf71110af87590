"""The report pages in Chromium: every registered report draws its chart and table, follows a
changed filter, passes axe-core, and prints without its controls."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from sportello.kb.models import DeflectionSource
from sportello.reports.frame import REPORTS
from tests.browser.conftest import sign_in
from tests.browser.test_accessibility import axe_source, serious_violations  # noqa: F401 — the fixture
from tests.kb.conftest import billing, invoice_article, invoices  # noqa: F401 — an article that deflects
from tests.reports.test_reports import deflect
from tests.web.conftest import new_ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def some_work(invoice_article):  # type: ignore[no-untyped-def]  # noqa: F811
    """A few tickets and deflections, so that charts have something to draw."""
    for n, channel in enumerate(["email", "web", "chat"]):
        new_ticket(f"Printer {n} is on fire", email=f"dora{n}@example.org", channel=channel)
    deflect(invoice_article.article, 2, DeflectionSource.WEBFORM)
    deflect(invoice_article.article, 1, DeflectionSource.CHAT, days_ago=9)


def test_every_report_draws_its_chart_and_table_and_follows_a_filter(page, live_server, agent, some_work):
    sign_in(page, live_server, agent)
    assert "self-service" in REPORTS and "satisfaction" in REPORTS
    for slug in REPORTS:
        page.goto(f"{live_server.url}/reports/{slug}?range=30d")
        expect(page.locator("h1")).to_be_visible()
        expect(page.locator("#report-table")).to_be_visible()
        chart = page.locator("#chart-plot")
        days = None
        if chart.count():
            # uPlot drew the chart: its canvas is there, and it knows as many points as the axis.
            expect(chart.locator("canvas").first).to_be_attached()
            expect(chart).to_have_attribute("data-drawn", re.compile(r"^\d+$"))
            days = int(chart.get_attribute("data-drawn") or 0)
            assert chart.get_attribute("role") == "img" and chart.get_attribute("aria-label")
            described = chart.get_attribute("aria-describedby")
            assert described and page.locator(f"#{described}").count() == 1
        # Show the same 30 days by week: the URL, the form, the chart and the table follow.
        page.select_option("#filter-granularity", "week")
        page.get_by_role("button", name="Show").click()
        page.wait_for_url(re.compile(rf"/reports/{slug}\?.*granularity=week"))
        expect(page.locator("#filter-granularity")).to_have_value("week")
        expect(page.locator("#report-table")).to_be_visible()
        if days == 30:  # a time series: 30 days are 5 or 6 weeks
            expect(page.locator("#chart-plot")).to_have_attribute("data-drawn", re.compile(r"^[56]$"))


def test_self_service_table_follows_the_period(page, live_server, agent, some_work):
    sign_in(page, live_server, agent)
    page.goto(f"{live_server.url}/reports/self-service")
    rows = page.locator("#report-table tbody tr")
    expect(rows).to_have_count(30)
    expect(page.locator('[data-figure="deflected"] .figure')).to_have_text("3")
    page.get_by_role("link", name="Last 7 days").click()
    expect(rows).to_have_count(7)
    expect(page.locator("#chart-plot")).to_have_attribute("data-drawn", "7")
    expect(page.locator('[data-figure="deflected"] .figure')).to_have_text("2")  # the one 9 days ago is out
    # A filter that does not apply is said so; the empty fields stay out of the shared link.
    page.select_option("#filter-channel", "email")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r"channel=email"))
    assert "group=" not in page.url and "tag=" not in page.url
    expect(page.locator("#ignored-filters")).to_contain_text("Channel")
    assert page.locator("#csv").get_attribute("href").endswith("format=csv")  # type: ignore[union-attr]


def test_report_pages_pass_axe(page, live_server, agent, some_work, axe_source):  # noqa: F811
    sign_in(page, live_server, agent)
    paths = ["/reports/", *(f"/reports/{slug}" for slug in REPORTS), "/reports/self-service?group=x"]
    for path in paths:
        page.goto(f"{live_server.url}{path}")
        assert serious_violations(page, axe_source) == [], path


def test_printed_reports_leave_the_controls_out(page, live_server, agent, some_work):
    sign_in(page, live_server, agent)
    page.goto(f"{live_server.url}/reports/satisfaction")
    expect(page.locator("#chart-plot canvas").first).to_be_attached()
    page.emulate_media(media="print")
    expect(page.locator("#filters")).to_be_hidden()
    expect(page.locator(".site-header")).to_be_hidden()
    expect(page.locator("#chart")).to_be_visible()
    expect(page.locator("#report-table")).to_be_visible()
