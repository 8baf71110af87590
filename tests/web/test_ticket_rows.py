"""Ticket table rows (inbox, search) are built in Python: same markup as the templates, all escaped."""

from __future__ import annotations

import re
import zoneinfo
from datetime import timedelta

import pytest
import time_machine
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from sportello.sla.models import TicketSLA
from sportello.sla.templatetags.sla import sla_badge
from sportello.tickets.models import Ticket
from tests.conftest import client_for
from tests.web.conftest import listed_numbers, new_ticket, page_text

pytestmark = pytest.mark.django_db


def row_of(html: str, ticket: Ticket) -> str:
    row = html[html.index(f'<tr data-ticket="{ticket.number}">') :]
    return row[: row.index("</tr>")]


def sla_cell(row: str) -> str:
    return row[row.index('<td class="sla">') + len('<td class="sla">') : row.index("</td>", row.index('"sla"'))]


@pytest.mark.parametrize(
    ("due_in", "paused", "level"),
    [
        (timedelta(hours=5), False, "ok"),
        (timedelta(minutes=20), False, "warning"),
        (timedelta(hours=-3), False, "breached"),
        (timedelta(hours=2), True, "paused"),
    ],
)
def test_the_sla_cell_is_the_sla_badge(agent, due_in, paused, level):
    ticket = new_ticket("Clock", email="clock@example.org")
    now = timezone.now()
    TicketSLA.objects.update_or_create(
        ticket=ticket,
        defaults={"first_response_due": now + due_in, "paused_at": now if paused else None, "next_due": now + due_in},
    )
    agent.time_zone = "Asia/Tokyo"
    agent.save()
    client = client_for(agent)
    with time_machine.travel(now + timedelta(seconds=30), tick=False):
        cell = sla_cell(row_of(page_text(client.get(reverse("inbox"), {"view": "all"})), ticket))
        shown = Ticket.objects.select_related("sla").get(pk=ticket.pk)
        with timezone.override(zoneinfo.ZoneInfo("Asia/Tokyo")), translation.override("en"):
            badge = render_to_string("sla/_badge.html", sla_badge(shown)).strip()
    assert f'data-sla="{level}"' in cell and cell == badge


def test_rows_escape_what_customers_write(agent):
    ticket = new_ticket('<script>alert("x")</script> & more', email="evil@example.org", name="<b>Eve</b>")
    html = page_text(client_for(agent).get(reverse("inbox"), {"view": "all"}))
    row = row_of(html, ticket)
    assert "<script>" not in row and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more" in row
    assert "<b>Eve</b>" not in row and "&lt;b&gt;Eve&lt;/b&gt;" in row


def test_rows_show_times_in_the_agents_zone_and_the_words_in_their_language(agent):
    ticket = new_ticket("Zone", email="zone@example.org")
    agent.time_zone = "Asia/Tokyo"
    agent.language = "it"
    agent.save()
    response = client_for(agent).get(reverse("inbox"), {"view": "all"}, HTTP_ACCEPT_LANGUAGE="it")
    row = row_of(page_text(response), ticket)
    assert re.search(r'<time datetime="[^"]+\+09:00"', row)
    with translation.override("it"):
        assert translation.gettext("Unassigned") in row


def test_an_empty_table_says_so(agent):
    response = client_for(agent).get(reverse("inbox"), {"view": "solved"})
    assert listed_numbers(response) == [] and 'class="empty"' in page_text(response)
