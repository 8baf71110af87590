"""The macro picker on the ticket page: search while typing, insert into the reply in one click."""

from __future__ import annotations

import pytest
from django.urls import reverse

from sportello.automation.models import Macro
from sportello.tickets.models import Ticket
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def macros(agent, agent2):
    return {
        "pending": Macro.objects.create(
            name="Ask for the invoice",
            body="Dear {{ customer.first_name }}, the invoice?",
            actions=[{"type": "set_status", "status": "pending"}],
        ),
        "thanks": Macro.objects.create(name="Thanks", body="Thank you!"),
        "bob": Macro.objects.create(name="Bob's invoice words", body="…", owner=agent2),
    }


def test_the_picker_lists_matching_macros(agent, ticket, macros):
    html = client_for(agent).get(reverse("macro-picker", args=[ticket.number]), {"q": "invoice"}).content.decode()
    assert "Ask for the invoice" in html and "Thanks" not in html
    assert "Bob&#x27;s invoice words" not in html and "Bob's invoice words" not in html  # someone else's macro


def test_the_ticket_page_has_the_picker_inside_the_reply_form(agent, ticket, macros):
    html = client_for(agent).get(reverse("ticket", args=[ticket.number])).content.decode()
    assert 'id="macro-results"' in html and reverse("macro-picker", args=[ticket.number]) in html


def test_inserting_a_macro_keeps_the_draft_adds_the_text_and_changes_nothing_yet(agent, ticket, macros):
    client = client_for(agent)
    response = client.post(
        reverse("macro-insert", args=[ticket.number]),
        {"macro": macros["pending"].pk, "version": ticket.version, "body": "Hello again."},
    )
    assert response.status_code == 302 and response["Location"].endswith("#reply-form")
    page = client.get(reverse("ticket", args=[ticket.number])).content.decode()
    assert "Hello again.\n\nDear Carla, the invoice?</textarea>" in page
    # The field changes are previewed in the composer, made only with the send.
    assert 'id="macro-preview"' in page and "Set status to Pending" in page
    assert f'name="macro" value="{macros["pending"].pk}"' in page
    assert Ticket.objects.get(pk=ticket.pk).state == "new"
    # The draft is used once: a reload shows the saved page, not the draft again.
    again = client.get(reverse("ticket", args=[ticket.number])).content.decode()
    assert "Dear Carla, the invoice?</textarea>" not in again and "Set status to Pending" not in again


def test_the_preview_shows_the_text_and_the_changes_and_writes_nothing(agent, ticket, macros):
    client = client_for(agent)
    html = client.get(reverse("macro-preview", args=[ticket.number, macros["pending"].pk])).content.decode()
    assert "Dear Carla, the invoice?" in html and "Set status to Pending" in html
    assert f'name="macro" value="{macros["pending"].pk}"' in html
    refreshed = Ticket.objects.get(pk=ticket.pk)
    assert refreshed.state == "new" and refreshed.version == ticket.version
    assert client.get(reverse("macro-preview", args=[ticket.number, macros["bob"].pk])).status_code == 404


def test_sending_with_a_previewed_macro_makes_its_changes(agent, ticket, macros, django_capture_on_commit_callbacks):
    client = client_for(agent)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("ticket-reply", args=[ticket.number]),
            {"body": "Dear Carla, the invoice?", "version": ticket.version, "macro": macros["pending"].pk},
        )
    assert response.status_code == 302
    refreshed = Ticket.objects.get(pk=ticket.pk)
    assert refreshed.state == "pending"
    assert refreshed.entries.filter(body_text="Dear Carla, the invoice?").exists()
    macros["pending"].refresh_from_db()
    assert macros["pending"].usage_count == 1


def test_a_stale_send_with_a_macro_applies_nothing(agent, agent2, ticket, macros):
    from sportello.tickets.services import add_note

    client = client_for(agent)
    seen = ticket.version
    add_note(ticket, agent2, body_text="Meanwhile")
    response = client.post(
        reverse("ticket-reply", args=[ticket.number]),
        {"body": "My draft", "version": seen, "macro": macros["pending"].pk},
    )
    html = response.content.decode()
    assert response.status_code == 409 and "My draft</textarea>" in html
    assert Ticket.objects.get(pk=ticket.pk).state == "new"


@pytest.mark.parametrize("persona", ["customer_user", "stranger", "light_agent"])
def test_who_cannot_use_macros_is_refused(request, ticket, macros, persona):
    client = client_for(request.getfixturevalue(persona))
    response = client.post(
        reverse("macro-insert", args=[ticket.number]), {"macro": macros["thanks"].pk, "version": ticket.version}
    )
    assert response.status_code == 403
    assert client.get(reverse("macro-preview", args=[ticket.number, macros["thanks"].pk])).status_code == 403
    if persona != "light_agent":
        assert client.get(reverse("macro-picker", args=[ticket.number])).status_code == 403


def test_someone_elses_macro_and_bad_input(agent, ticket, macros):
    client = client_for(agent)
    url = reverse("macro-insert", args=[ticket.number])
    assert client.post(url, {"macro": macros["bob"].pk, "version": ticket.version}).status_code == 404
    assert client.post(url, {"macro": "drop table", "version": ticket.version}).status_code == 422
    assert client.get(reverse("macro-picker", args=[99999999])).status_code == 404
