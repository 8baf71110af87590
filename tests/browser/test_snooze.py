"""Snooze and spam as an agent clicks them: a ticket snoozed until a time comes back open when
the wake-up runs; a ticket marked as spam leaves the open view and is found under Spam."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from sportello.tickets.models import StatusCategory, Ticket
from sportello.tickets.snooze import wake_snoozed
from tests.browser.conftest import sign_in
from tests.web.conftest import new_ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_ticket_snoozed_until_a_time_comes_back_open(page, live_server, agent):
    ticket = new_ticket("Call me back on Friday", "Not before Friday, please.")
    sign_in(page, live_server, agent)
    page.goto(f"{live_server.url}/tickets/{ticket.number}/")
    page.get_by_text("Snooze until…").click()
    with timezone.override(agent.time_zone or "UTC"):
        until = timezone.localtime(timezone.now() + timedelta(days=2)).replace(second=0, microsecond=0)
    page.get_by_label("Date and time").fill(until.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Snooze", exact=True).click()
    expect(page.locator("#snoozed-until")).to_contain_text("Snoozed until")
    expect(page.get_by_label("Status", exact=True)).to_have_value(str(Ticket.objects.get(pk=ticket.pk).status_id))
    assert Ticket.objects.get(pk=ticket.pk).state == StatusCategory.PENDING

    assert wake_snoozed(now=until + timedelta(minutes=1)) == 1  # the scheduler's minute, two days on
    page.reload()
    expect(page.locator("#snoozed-until")).to_have_count(0)
    expect(page.get_by_text("Snooze until…")).to_be_visible()
    assert Ticket.objects.get(pk=ticket.pk).state == StatusCategory.OPEN
    expect(page.locator("#history")).to_contain_text("Snooze ended")


def test_a_ticket_marked_as_spam_leaves_the_open_view(page, live_server, agent):
    ticket = new_ticket("Cheap watches", "Best prices!!!")
    sign_in(page, live_server, agent)
    page.goto(f"{live_server.url}/?view=open")
    row = page.locator(f'tr[data-ticket="{ticket.number}"]')
    expect(row).to_have_count(1)
    page.goto(f"{live_server.url}/tickets/{ticket.number}/")
    page.get_by_role("button", name="Mark as spam").click()
    expect(page.get_by_role("button", name="Not spam")).to_be_visible()
    page.goto(f"{live_server.url}/?view=open")
    expect(page.locator(f'tr[data-ticket="{ticket.number}"]')).to_have_count(0)
    page.goto(f"{live_server.url}/?view=all")
    expect(page.locator(f'tr[data-ticket="{ticket.number}"]')).to_have_count(0)
    page.locator("#inbox-filters select[name=status]").select_option(label="Spam")  # the Spam filter
    expect(page.locator(f'tr[data-ticket="{ticket.number}"]')).to_have_count(1)
