"""The thread on the ticket page comes from the cache (tickets/thread.py): each entry is rendered
once, yet every agent sees their own language, time zone and forms, and a change shows at once."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.test.signals import template_rendered
from django.urls import reverse
from django.utils import translation

from sportello.tickets.models import DeliveryState, Entry, Ticket
from sportello.tickets.services import TicketChanges, add_note, reply_to_ticket, update_ticket
from tests.conftest import client_for
from tests.web.conftest import page_text

pytestmark = pytest.mark.django_db


def page(client: Client, ticket: Ticket, **headers: str) -> str:
    return page_text(client.get(reverse("ticket", args=[ticket.number]), **headers))


def thread(html: str) -> str:
    return html[html.index('<ol class="thread">') : html.index("</ol>")]


class Rendered:
    """How many entries were rendered through the template (not taken from the cache)."""

    def __init__(self) -> None:
        self.count = 0

    def __enter__(self) -> Rendered:
        template_rendered.connect(self._seen)
        return self

    def __exit__(self, *exc: object) -> None:
        template_rendered.disconnect(self._seen)

    def _seen(self, sender: object, template: object, **kwargs: object) -> None:
        self.count += getattr(template, "name", "") == "tickets/_entry.html"


def test_a_second_view_renders_no_entry_again(ticket, agent):
    for i in range(3):
        add_note(ticket, agent, body_text=f"Note {i}")
    client = client_for(agent)
    with Rendered() as first:
        before = page(client, ticket)
    with Rendered() as second:
        after = page(client, ticket)
    assert first.count == 4 and second.count == 0
    token = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')
    assert token.sub("", thread(before)) == token.sub("", thread(after))
    assert "Note 2" in after and "The printer in room 4 is on fire." in after


def test_two_agents_see_their_own_language_and_time_zone(ticket, agent, agent2):
    add_note(ticket, agent, body_text="Checked the toner")
    agent.language, agent.time_zone = "it", "Asia/Tokyo"
    agent.save()
    agent2.language, agent2.time_zone = "en", "America/New_York"
    agent2.save()
    with translation.override("it"):
        italian = translation.gettext("Internal note")
    assert italian != "Internal note"  # else this test would show nothing
    tokyo = thread(page(client_for(agent), ticket, HTTP_ACCEPT_LANGUAGE="it"))
    new_york = thread(page(client_for(agent2), ticket, HTTP_ACCEPT_LANGUAGE="en"))
    again = thread(page(client_for(agent), ticket, HTTP_ACCEPT_LANGUAGE="it"))
    assert re.search(r'<time datetime="[^"]+\+09:00"', tokyo) and italian in tokyo
    assert re.search(r'<time datetime="[^"]+-0[45]:00"', new_york) and "Internal note" in new_york
    assert "+09:00" not in new_york and italian not in new_york
    assert "+09:00" in again and italian in again


def test_a_delivery_that_fails_shows_on_the_next_view(ticket, agent):
    reply = reply_to_ticket(ticket, agent, body_text="We are on it")
    client = client_for(agent)
    assert "Delivery failed" not in page(client, ticket)
    Entry.objects.filter(pk=reply.pk).update(delivery=DeliveryState.FAILED, delivery_error="Mailbox full")
    html = page(client, ticket)
    assert "Delivery failed: Mailbox full" in html
    assert reverse("entry-resend", args=[ticket.number, reply.pk]) in html


def test_the_move_form_carries_the_tickets_current_version(ticket, agent):
    add_note(ticket, agent, body_text="Second entry: the first one may be moved or split")
    client = client_for(agent)

    def versions(html: str) -> set[str]:
        menu = html[html.index('class="entry-menu"') :]
        return set(re.findall(r'name="version" value="(\d+)"', menu[: menu.index("</details>")]))

    assert versions(page(client, ticket)) == {str(Ticket.objects.get(pk=ticket.pk).version)}
    update_ticket(Ticket.objects.get(pk=ticket.pk), agent, TicketChanges(priority=4))
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert versions(page(client, ticket)) == {str(fresh.version)}
    entry = ticket.entries.order_by("id").first()
    assert entry is not None
    response = client.post(
        reverse("entry-split", args=[ticket.number, entry.pk]), {"version": fresh.version}
    )  # the version shown is the one the service expects: no conflict
    assert response.status_code == 302


def test_entry_forms_carry_the_requests_csrf_token(ticket, agent):
    reply_to_ticket(ticket, agent, body_text="Answer worth an article")
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent)
    html = page(client, ticket)
    assert "<!--csrf-" not in html and "<!--version-" not in html
    token = r'\s*<input type="hidden" name="csrfmiddlewaretoken" value="([^"]+)"'
    entry_form = re.search(r'class="inline article-from-reply">' + token, html)
    composer = re.search(r'id="reply-form"[^>]*>' + token, html)
    assert entry_form and composer and entry_form.group(1) == composer.group(1)


def test_an_agent_who_may_not_reply_gets_no_reply_forms_from_anothers_rendering(ticket, agent, light_agent):
    reply_to_ticket(ticket, agent, body_text="Answer worth an article")
    assert "Turn this reply into an article" in page(client_for(agent), ticket)
    assert "Turn this reply into an article" not in page(client_for(light_agent), ticket)


def test_the_page_renders_every_entry_when_the_cache_fails(ticket, agent, monkeypatch):
    from django.core.cache import cache

    def down(*args: object, **kwargs: object) -> None:
        raise ConnectionError("the cache is down")

    monkeypatch.setattr(cache, "get_many", down)
    monkeypatch.setattr(cache, "set_many", down)
    html = page(client_for(agent), ticket)
    assert "The printer in room 4 is on fire." in html and "<!--csrf-" not in html
