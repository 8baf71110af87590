"""The one layout of the agent pages: favicon, availability switch, shortcuts sheet, components,
and the date filter other pages use."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest
from django.template import Context, Template
from django.test import Client
from django.utils import timezone, translation

from sportello.accounts.models import Availability, User
from tests.conftest import client_for
from tests.web.conftest import page_text

pytestmark = pytest.mark.django_db


def test_favicon_is_a_real_icon():
    response = Client().get("/favicon.ico")
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file: reserved 0, type 1 (icon)
    assert b"PNG" in body[:64]
    assert response["Content-Type"] in {"image/x-icon", "image/vnd.microsoft.icon"}


def test_every_agent_page_links_its_icon(agent):
    page = page_text(client_for(agent).get("/"))
    assert 'rel="icon" href="/static/sportello/icon.svg"' in page
    assert Client().get("/static/sportello/icon.svg").status_code == 200


def pressed(page: str) -> list[str]:
    return re.findall(r'value="(online|away|offline)" class="availability-\w+"\s+aria-pressed="true"', page)


def test_availability_is_one_press_in_the_header_without_a_script(agent):
    """Three buttons, the current one pressed; a press saves and comes back to the same page."""
    alice = client_for(agent)
    page = page_text(alice.get("/accounts/tokens/"))
    assert pressed(page) == ["online"]
    assert ">Set<" not in page  # no separate button to confirm

    response = alice.post("/chat/availability", {"availability": "away", "next": "/accounts/tokens/"})
    assert response.status_code == 302 and response["Location"] == "/accounts/tokens/"
    assert User.objects.get(pk=agent.pk).availability == Availability.AWAY
    assert pressed(page_text(alice.get(response["Location"]))) == ["away"]


def test_availability_switch_is_translated(agent):
    agent.language = "it"
    agent.availability = Availability.OFFLINE
    agent.save()
    page = page_text(client_for(agent).get("/"))
    with translation.override("it"):
        for word in ("Online", "Away", "Offline", "Availability"):
            assert f">{translation.gettext(word)}<" in page, word


def test_customers_get_no_agent_header(customer_user):
    page = page_text(client_for(customer_user).get("/portal/"))
    assert 'id="availability-form"' not in page and 'id="shortcuts-help"' not in page


def test_shortcuts_sheet_and_hooks_are_on_every_agent_page(agent):
    page = page_text(client_for(agent).get("/accounts/tokens/"))
    assert '<dialog id="shortcuts-help"' in page
    assert 'data-shortcut="g i"' in page and 'data-shortcut="/"' in page
    assert "/static/sportello/shortcuts.js" in page and "/static/chat/socket.js" in page
    assert '<a class="skip-link" href="#main">' in page


def render(source: str, **context: object) -> str:
    return Template("{% load ui %}" + source).render(Context(context))


def test_when_shows_the_agents_zone_and_language():
    moment = dt.datetime(2026, 12, 2, 3, 17, tzinfo=dt.UTC)
    with timezone.override(zoneinfo.ZoneInfo("Europe/Rome")), translation.override("it"):
        html = render("{{ moment|when }}", moment=moment)
        assert html == '<time datetime="2026-12-02T04:17:00+01:00">2 Dic 2026, 04:17</time>'
        assert render("{{ moment|day }}", moment=moment) == '<time datetime="2026-12-02">2 Dic 2026</time>'
        # The live payloads carry ISO strings: same result.
        assert render("{{ moment|when }}", moment=moment.isoformat()) == html
        assert ">04:17</time>" in render("{{ moment|clock }}", moment=moment.isoformat())
    assert render("{{ moment|when }}", moment=None) == ""
    assert render("{{ moment|when }}", moment="not a date") == "not a date"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (
            '{% include "components/button.html" with label="Reply" variant="secondary" size="small" shortcut="r" %}',
            '<button type="submit" class="secondary small" data-shortcut="r">Reply</button>',
        ),
        (
            '{% include "components/button.html" with label="Open" href="/x/" %}',
            '<a class="button" href="/x/">Open</a>',
        ),
        (
            '{% include "components/badge.html" with text="Open" tone="state-open" %}',
            '<span class="badge state-open">Open</span>',
        ),
        (
            '{% include "components/empty.html" with message="No tickets" %}',
            '<p class="empty-message">No tickets</p>',
        ),
        (
            '{% include "components/card.html" with title="Customer" body="Dora" %}',
            "<h2>Customer</h2>",
        ),
    ],
)
def test_components_render(template, expected):
    assert expected in render(template)


def test_field_component_links_label_help_and_errors(agent):
    from sportello.accounts.forms import TokenForm

    form = TokenForm({"name": ""}, user=agent)
    html = render('{% include "components/field.html" with field=form.name %}', form=form)
    assert '<label for="id_name">' in html
    assert 'aria-invalid="true"' in html and 'aria-describedby="id_name_helptext id_name_error"' in html
    assert 'id="id_name_helptext"' in html and 'id="id_name_error"' in html


def test_availability_and_role_names_speak_the_agents_language():
    """Shown as "Marco (Offline)" in the console's transfer list, and in the admin."""
    from sportello.accounts.models import Role

    with translation.override("de"):
        assert str(Availability.AWAY.label) == translation.gettext("Away") != "Away"
        assert str(Role.CUSTOMER.label) == translation.gettext("Customer") != "Customer"


def test_the_main_menu_marks_the_current_page(agent):
    page = page_text(client_for(agent).get("/accounts/tokens/"))
    assert re.search(r'<a href="/accounts/tokens/" aria-current="page">API tokens</a>', page)
    assert page.count('aria-current="page"') == 1
