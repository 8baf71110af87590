"""The middleware on the API's hot path: the security policy kept per host instead of built for
each response, and still right for every host and after a change of the settings; token calls
by a shorter chain, browser sessions by the whole one, each refused and answered as before."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from sportello.audit.models import AuditEvent
from sportello.tickets.models import Ticket
from tests.conftest import api_client

pytestmark = pytest.mark.django_db

NEW_TICKET = {"subject": "Screen arrived broken", "body_text": "Order 12", "customer": {"email": "rosa@example.org"}}


def directives(response) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def test_each_host_gets_its_own_websocket_source_every_time(agent):
    client = api_client(agent)
    for host in ("localhost:8123", "127.0.0.1:9000", "localhost:8123"):
        found = directives(client.get("/api/v1/statuses", HTTP_HOST=host))
        assert found["connect-src"] == ["'self'", f"ws://{host}", f"wss://{host}"]
        assert found["frame-ancestors"] == ["'none'"] and found["script-src"] == ["'self'"]


def test_a_page_made_to_be_framed_is_not_given_the_policy_of_one_that_is_not():
    client = Client()
    assert "frame-ancestors" in directives(client.get("/api/v1/docs"))
    assert "frame-ancestors" not in directives(client.get("/support/embed"))
    assert "frame-ancestors" in directives(client.get("/api/v1/docs"))


def test_a_changed_policy_is_sent_at_once(agent):
    client = api_client(agent)
    assert directives(client.get("/api/v1/statuses"))["img-src"] == ["'self'", "data:"]
    changed = {"DIRECTIVES": {"default-src": ["'self'"], "img-src": ["'self'", "https://images.example.org"]}}
    with override_settings(CONTENT_SECURITY_POLICY=changed):
        assert directives(client.get("/api/v1/statuses"))["img-src"] == ["'self'", "https://images.example.org"]
    assert directives(client.get("/api/v1/statuses"))["img-src"] == ["'self'", "data:"]


# --- The shortcut of token calls (TokenApiShortcut) ------------------------------------------------


def test_a_token_call_loads_no_session_and_sets_no_cookie(agent):
    response = api_client(agent).post("/api/v1/tickets", NEW_TICKET, content_type="application/json")
    assert response.status_code == 201
    assert not response.cookies and "Cookie" not in response.get("Vary", "")
    assert response["X-Frame-Options"] == "DENY" and response["X-Content-Type-Options"] == "nosniff"


def test_a_token_call_still_gets_the_language_it_asks_for(agent):
    response = api_client(agent).get("/api/v1/statuses", HTTP_ACCEPT_LANGUAGE="it")
    assert response.status_code == 200 and response["Content-Language"] == "it"
    assert api_client(agent).get("/api/v1/statuses")["Content-Language"] == "en"


def test_a_token_calls_changes_are_credited_to_its_user(admin):
    response = api_client(admin).post("/api/v1/groups", {"name": "Night shift"}, content_type="application/json")
    assert response.status_code == 201
    event = AuditEvent.objects.filter(target_label__contains="Night shift").latest("id")
    assert event.actor == admin


def test_a_session_cookie_is_checked_for_csrf_even_beside_a_bearer_header(agent):
    """A browser's cookie goes the whole way: a forged Bearer header does not skip the CSRF check."""
    client = Client(enforce_csrf_checks=True, headers={"Authorization": "Bearer spt_forged"})
    client.force_login(agent)
    refused = client.post("/api/v1/tickets", NEW_TICKET, content_type="application/json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    client.get("/accounts/login/")  # a page with a form sets the CSRF cookie
    csrf = client.cookies["csrftoken"].value
    created = client.post("/api/v1/tickets", NEW_TICKET, content_type="application/json", headers={"X-CSRFToken": csrf})
    assert created.status_code == 201
    assert Ticket.objects.filter(subject=NEW_TICKET["subject"]).count() == 1


def test_a_forged_token_without_a_session_is_refused(db):
    client = Client(enforce_csrf_checks=True, headers={"Authorization": "Bearer spt_forged"})
    assert client.get("/api/v1/tickets").status_code == 401
    assert client.post("/api/v1/tickets", NEW_TICKET, content_type="application/json").status_code in (401, 403)
    assert not Ticket.objects.exists()


def test_a_strangers_token_is_refused_as_before(stranger, ticket):
    client = api_client(stranger)
    assert client.get(f"/api/v1/tickets/{ticket.number}").status_code == 403
    assert client.post("/api/v1/tickets", NEW_TICKET, content_type="application/json").status_code == 403
    assert not Ticket.objects.filter(subject=NEW_TICKET["subject"]).exists()
