"""The admins' pages: the model server's settings, the connection test, and the log of uses."""

from __future__ import annotations

import json

import pytest

from sportello.assist.client import address_allowed
from sportello.assist.models import AssistSettings, AssistUse
from sportello.audit.models import AuditEvent
from sportello.social.secrets import unseal
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

KEY = "sk-local-0123456789abcdef"


def save(admin, **fields: object):  # type: ignore[no-untyped-def]
    data = {"base_url": "", "model": "", "api_key": "", "timeout_seconds": "60", **fields}
    data = {k: v for k, v in data.items() if v is not False}
    return client_for(admin).post("/settings/assistance/", data)


def test_off_until_an_admin_turns_it_on(admin):
    page = client_for(admin).get("/settings/assistance/").content.decode()
    assert 'name="enabled"' in page and "checked" not in page.split('name="enabled"')[1].split(">")[0]
    assert 'href="/settings/assistance/"' in client_for(admin).get("/settings/").content.decode()


def test_the_admin_saves_the_server_and_the_key_is_sealed_and_never_shown(admin, model_server):
    response = save(admin, enabled="on", base_url=model_server.url, model="llama3.1:8b", api_key=KEY, allow_local="on")
    assert response.status_code == 302
    row = AssistSettings.objects.get()
    assert (row.enabled, row.base_url, row.model, row.allow_local) == (True, model_server.url, "llama3.1:8b", True)
    assert KEY not in row.api_key_sealed and unseal(row.api_key_sealed) == {"api_key": KEY}
    page = client_for(admin).get("/settings/assistance/").content.decode()
    assert KEY not in page and "An API key is stored." in page
    event = AuditEvent.objects.filter(target_type="assist.assistsettings").latest("id")
    assert KEY not in json.dumps([event.before, event.after])

    save(admin, enabled="on", base_url=model_server.url, model="llama3.1:8b")  # an empty key keeps the stored one
    assert unseal(AssistSettings.objects.get().api_key_sealed) == {"api_key": KEY}
    save(admin, enabled="on", base_url=model_server.url, model="llama3.1:8b", clear_api_key="on")
    assert AssistSettings.objects.get().api_key_sealed == ""


@pytest.mark.parametrize(
    ("fields", "sentence"),
    [
        ({"enabled": "on"}, "Give the server&#x27;s address and a model name"),
        ({"base_url": "ftp://models.example"}, "must be an http:// or https:// URL"),
        ({"base_url": "not a url"}, "must be an http:// or https:// URL"),
        ({"timeout_seconds": "0"}, "greater than or equal to 1"),
        ({"timeout_seconds": "ten"}, "Enter a whole number"),
    ],
)
def test_bad_settings_are_refused_with_a_sentence(admin, fields, sentence):
    response = save(admin, **fields)
    assert response.status_code == 400
    assert sentence in response.content.decode()
    assert not AssistSettings.objects.exists()


def test_agents_and_customers_get_no_settings_page_nor_log(agent, customer, admin, ticket):
    use = AssistUse.objects.create(user=admin, ticket=ticket, action="draft", model="m", server="s", outcome="answered")
    for user in (agent, customer.user):
        client = client_for(user)
        for url in ("/settings/assistance/", "/settings/assistance/log/", f"/settings/assistance/log/{use.pk}/"):
            assert client.get(url).status_code == 403, url
        assert client.post("/settings/assistance/test").status_code == 403
        assert client.post("/settings/assistance/", {"enabled": "on"}).status_code == 403
    assert not AssistSettings.objects.exists()


# --- Test connection -----------------------------------------------------------------------------


def test_connection(admin, model_server):
    save(admin, base_url=model_server.url, model="llama3.1:8b", allow_local="on", api_key=KEY)
    model_server.api_key = KEY
    page = client_for(admin).post("/settings/assistance/test").content.decode()
    assert "The server answers and offers the model." in page and "qwen2.5:7b" in page
    assert model_server.requests[-1][:2] == ("GET", "/v1/models")
    assert model_server.requests[-1][2]["Authorization"] == f"Bearer {KEY}"
    [event] = [e for e in AuditEvent.objects.all() if (e.after or {}).get("power") == "assist.test_connection"]
    assert event.after["ok"] is True and KEY not in json.dumps(event.after)


@pytest.mark.parametrize(
    ("setup", "sentence"),
    [
        ({"model": "gpt-7"}, "has no model called “gpt-7”"),
        ({"api_key": "wrong"}, "refused the API key (401): Incorrect API key provided."),
        ({"allow_local": False}, "on this machine or a private network"),
        ({"base_url": "http://169.254.169.254"}, "link-local, multicast or reserved"),
        ({"base_url": "http://[fe80::1]:11434"}, "link-local, multicast or reserved"),
        ({"timeout_seconds": "1", "slow": True}, "did not answer within 1 seconds"),
        ({"base_url": "http://models.invalid:11434"}, "The server name models.invalid could not be found"),
    ],
)
def test_a_failed_connection_test_says_why_in_one_sentence(admin, model_server, setup, sentence):
    model_server.api_key = KEY
    if setup.pop("slow", False):
        model_server.delay_next = 1
    fields = {"base_url": model_server.url, "model": "llama3.1:8b", "allow_local": "on", "api_key": KEY, **setup}
    assert save(admin, **fields).status_code == 302
    response = client_for(admin).post("/settings/assistance/test")
    assert response.status_code == 200
    result = response.content.decode().split('id="test-result"')[1]
    assert 'data-ok="no"' in result and sentence in result.replace("&#x27;", "'").replace("&quot;", '"')


def test_nothing_to_test_before_an_address_is_saved(admin, model_server):
    page = client_for(admin).post("/settings/assistance/test").content.decode()
    assert "Give the server&#x27;s address first." in page
    assert model_server.requests == []


@pytest.mark.parametrize(
    ("address", "local", "allowed"),
    [
        ("93.184.216.34", False, True),
        ("127.0.0.1", False, False),
        ("127.0.0.1", True, True),
        ("::1", True, True),
        ("10.0.0.5", True, True),
        ("192.168.1.20", True, True),
        ("::ffff:127.0.0.1", False, False),
        ("::ffff:127.0.0.1", True, True),
        ("169.254.169.254", True, False),  # the clouds' instance metadata
        ("fd00:ec2::254", True, False),
        ("fe80::1", True, False),
        ("0.0.0.0", True, False),
        ("224.0.0.1", True, False),
    ],
)
def test_which_addresses_the_model_server_may_have(address, local, allowed):
    assert address_allowed(address, local) is allowed


# --- The log -------------------------------------------------------------------------------------


def test_the_log_shows_each_use_and_exactly_what_was_sent(admin, agent, agent2, ticket, assist_on, model_server):
    for user, action in ((agent, "summarise"), (agent2, "draft"), (agent, "draft")):
        client_for(user).post(f"/assist/tickets/{ticket.number}/run", {"action": action})
    client = client_for(admin)
    page = client.get("/settings/assistance/log/").content.decode()
    assert page.count("data-use=") == 3
    filtered = client.get("/settings/assistance/log/", {"user": agent.pk, "action": "draft"}).content.decode()
    assert filtered.count("data-use=") == 1
    assert (
        client.get("/settings/assistance/log/", {"ticket": ticket.number + 1}).content.decode().count("data-use=") == 0
    )
    bad = client.get("/settings/assistance/log/", {"ticket": "abc", "since": "yesterday"})
    assert bad.status_code == 200  # a filter that does not parse filters nothing, and says so
    assert "Enter a whole number" in bad.content.decode()

    use = AssistUse.objects.filter(user=agent, action="draft").get()
    detail = client.get(f"/settings/assistance/log/{use.pk}/").content.decode()
    for message in model_server.chats[-1]:
        assert message["role"] in detail
    assert "The printer in room 4 is on fire." in detail
    assert "Answer to 2 messages." in detail  # the model's answer
    assert client.get("/settings/assistance/log/999999/").status_code == 404
