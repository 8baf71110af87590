"""Subscribing to a report in Chromium: open it with filters, subscribe weekly, find it in the list
with those filters, open it from there, unsubscribe."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from sportello.reports.models import ReportSubscription
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_subscribe_weekly_to_a_filtered_report_and_find_it_in_the_list(page, live_server, agent):
    sign_in(page, live_server, agent)
    page.goto(f"{live_server.url}/reports/volume?range=30d")
    # Narrow the report the way a team lead would: web tickets, by week.
    page.select_option("#filter-channel", "web")
    page.select_option("#filter-granularity", "week")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r"channel=web"))
    page.locator("#subscribe-weekly").click()
    page.wait_for_url(re.compile(r"/reports/subscriptions$"))
    items = page.locator("#subscription-list li")
    expect(items).to_have_count(1)
    expect(items.first).to_contain_text("Volume")
    expect(items.first).to_contain_text("Weekly")
    expect(items.first).to_contain_text("channel=web")
    expect(items.first).to_contain_text("granularity=week")
    subscription = ReportSubscription.objects.get(user=agent)
    assert (subscription.report, subscription.frequency) == ("volume", "weekly")
    # The list links to the same report with the same filters (the period is each mail's own).
    items.first.get_by_role("link", name="Volume").click()
    page.wait_for_url(re.compile(r"/reports/volume\?"))
    expect(page.locator("#filter-channel")).to_have_value("web")
    expect(page.locator("#filter-granularity")).to_have_value("week")
    page.goto(f"{live_server.url}/reports/subscriptions")
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.locator("#subscription-list li")).to_contain_text("You have no report subscriptions")
    assert not ReportSubscription.objects.filter(user=agent).exists()
