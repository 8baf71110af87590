"""Snooze, spam and block on the ticket page and in the API: agents only, bad input refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from sportello.mail.models import BlockedSender
from sportello.tickets.models import StatusCategory, Ticket
from sportello.tickets.snooze import snooze_ticket
from tests.conftest import api_client, client_for
from tests.web.conftest import page_text

pytestmark = pytest.mark.django_db

API = "/api/v1"
ACTIONS = ["snooze", "unsnooze", "spam", "not-spam", "block"]


def test_the_ticket_page_offers_snooze_spam_and_block(agent, ticket):
    text = page_text(client_for(agent).get(f"/tickets/{ticket.number}/"))
    for label in ("Snooze until…", "Tomorrow 9:00", "Next Monday 9:00", "Mark as spam", "Block sender", "Block domain"):
        assert label in text


def test_snoozing_with_a_preset_sets_tomorrow_nine_in_the_agents_zone(agent, ticket):
    agent.time_zone = "America/New_York"
    agent.save()
    response = client_for(agent).post(f"/tickets/{ticket.number}/snooze", {"preset": "tomorrow"}, follow=True)
    ticket.refresh_from_db()
    assert ticket.state == StatusCategory.PENDING and ticket.snoozed_until is not None
    with timezone.override("America/New_York"):
        local = timezone.localtime(ticket.snoozed_until)
        assert (local.hour, local.minute) == (9, 0)
        assert local.date() == timezone.localdate() + timedelta(days=1)
    text = page_text(response)
    assert "Snoozed until" in text and "Wake up now" in text


def test_a_chosen_time_is_read_in_the_agents_zone(agent, ticket):
    agent.time_zone = "Europe/Rome"
    agent.save()
    when = (timezone.now() + timedelta(days=2)).astimezone(timezone.get_fixed_timezone(60)).replace(tzinfo=None)
    typed = when.strftime("%Y-%m-%dT%H:%M")
    client_for(agent).post(f"/tickets/{ticket.number}/snooze", {"until": typed})
    ticket.refresh_from_db()
    with timezone.override("Europe/Rome"):
        assert timezone.localtime(ticket.snoozed_until).strftime("%Y-%m-%dT%H:%M") == typed


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"until": "yesterday"}, "Choose a date and time to snooze until."),
        ({"until": ""}, "Choose a date and time to snooze until."),
        ({"preset": "someday"}, "Unknown snooze choice."),
        ({"until": "2000-01-01T09:00"}, "Choose a time in the future"),
    ],
)
def test_bad_snooze_input_leaves_the_ticket_alone_with_a_message(agent, ticket, data, message):
    response = client_for(agent).post(f"/tickets/{ticket.number}/snooze", data, follow=True)
    assert response.status_code == 200 and message in page_text(response)
    ticket.refresh_from_db()
    assert ticket.snoozed_until is None and ticket.state != StatusCategory.PENDING


def test_wake_up_now_and_spam_buttons(agent, ticket):
    client = client_for(agent)
    snooze_ticket(ticket, agent, timezone.now() + timedelta(days=1))
    client.post(f"/tickets/{ticket.number}/unsnooze")
    ticket.refresh_from_db()
    assert ticket.state == StatusCategory.OPEN and ticket.snoozed_until is None
    text = page_text(client.post(f"/tickets/{ticket.number}/spam", follow=True))
    assert "Not spam" in text
    assert Ticket.objects.get(pk=ticket.pk).state == StatusCategory.SPAM
    client.post(f"/tickets/{ticket.number}/not-spam")
    assert Ticket.objects.get(pk=ticket.pk).state == StatusCategory.OPEN


def test_block_sender_and_domain_buttons(agent, ticket):
    client = client_for(agent)
    client.post(f"/tickets/{ticket.number}/block", {"what": "sender"})
    client.post(f"/tickets/{ticket.number}/block", {"what": "domain"})
    assert sorted(BlockedSender.objects.values_list("value", flat=True)) == ["carla@example.com", "example.com"]


@pytest.mark.parametrize("action", ACTIONS)
def test_strangers_cannot_use_the_buttons(action, ticket, customer_user, light_agent, restricted_agent):
    url = f"/tickets/{ticket.number}/{action}"
    response = client_for(None).post(url, {"preset": "tomorrow"})
    assert response.status_code == 302 and "/login" in response["Location"]
    assert client_for(customer_user).post(url, {"preset": "tomorrow"}).status_code == 403
    assert client_for(light_agent).post(url, {"preset": "tomorrow"}).status_code == 403
    assert client_for(restricted_agent).post(url, {"preset": "tomorrow"}).status_code == 404
    assert client_for(light_agent).get(url).status_code == 405
    ticket.refresh_from_db()
    assert ticket.state == StatusCategory.NEW and not BlockedSender.objects.exists()


def test_unknown_ticket_is_404(agent):
    assert client_for(agent).post("/tickets/999999/spam").status_code == 404


# --- API -----------------------------------------------------------------------------------------


def post(user, path: str, body: object = None):  # type: ignore[no-untyped-def]
    return api_client(user).post(API + path, body if body is not None else {}, content_type="application/json")


def test_api_snooze_and_unsnooze(agent, ticket):
    until = (timezone.now() + timedelta(days=1)).replace(microsecond=0)
    response = post(agent, f"/tickets/{ticket.number}/snooze", {"until": until.isoformat()})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "pending" and body["snoozed_until"].startswith(until.strftime("%Y-%m-%dT%H:%M"))
    response = post(agent, f"/tickets/{ticket.number}/unsnooze")
    assert response.status_code == 200 and response.json()["state"] == "open"
    assert response.json()["snoozed_until"] is None
    assert post(agent, f"/tickets/{ticket.number}/unsnooze").status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"until": "tomorrow"},
        {"until": "2000-01-01T09:00:00Z"},
        {"until": "2099-01-01T09:00:00"},
        {"until": 5, "x": 1},
    ],
)
def test_api_snooze_refuses_bad_bodies(agent, ticket, body):
    assert post(agent, f"/tickets/{ticket.number}/snooze", body).status_code == 422


def test_api_snooze_with_a_stale_version_is_a_conflict(agent, ticket):
    until = (timezone.now() + timedelta(days=1)).isoformat()
    response = post(agent, f"/tickets/{ticket.number}/snooze", {"until": until, "expected_version": ticket.version + 5})
    assert response.status_code == 409


def test_api_spam_not_spam_and_block(agent, ticket):
    assert post(agent, f"/tickets/{ticket.number}/spam").json()["state"] == "spam"
    assert post(agent, f"/tickets/{ticket.number}/spam").status_code == 422
    listed = api_client(agent).get(API + "/tickets", {"state": "spam"}).json()["items"]
    assert [t["number"] for t in listed] == [ticket.number]
    assert post(agent, f"/tickets/{ticket.number}/not-spam").json()["state"] == "open"
    assert post(agent, f"/tickets/{ticket.number}/block", {"what": "domain"}).json() == {"value": "example.com"}
    assert post(agent, f"/tickets/{ticket.number}/block", {"what": "planet"}).status_code == 422


@pytest.mark.parametrize("action", ACTIONS)
def test_api_refuses_strangers(action, ticket, customer_user, light_agent, restricted_agent, client):
    body = {"until": (timezone.now() + timedelta(days=1)).isoformat()} if action == "snooze" else {}
    path = f"/tickets/{ticket.number}/{action}"
    assert client.post(API + path, body, content_type="application/json").status_code == 401
    assert post(customer_user, path, body).status_code == 403
    assert post(light_agent, path, body).status_code == 403
    assert post(restricted_agent, path, body).status_code == 404
    ticket.refresh_from_db()
    assert ticket.state == StatusCategory.NEW and not BlockedSender.objects.exists()


def test_api_unknown_ticket_is_404(agent):
    assert post(agent, "/tickets/999999/spam").status_code == 404


def test_the_operations_are_in_the_openapi_document(agent):
    paths = client_for(agent).get(API + "/openapi.json").json()["paths"]
    for action in ACTIONS:
        assert "post" in paths[f"{API}/tickets/{{number}}/{action}"]
