"""The middleware on the API's hot path: the security policy kept per host instead of built for
each response, and still right for every host and after a change of the settings."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from tests.conftest import api_client

pytestmark = pytest.mark.django_db


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
