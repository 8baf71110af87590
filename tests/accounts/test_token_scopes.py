"""API token scopes (read, write, admin), expiry, last use, and a deactivated agent refused at
once even while the token's user is remembered (accounts/auth.py, accounts/token_cache.py)."""

from __future__ import annotations

import importlib
import io
import re
import types
from datetime import timedelta

import pytest
from django.apps import apps as django_apps
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from sportello.accounts import auth
from sportello.accounts.models import ApiToken, Group
from sportello.accounts.services import create_token
from sportello.core.errors import Forbidden
from tests.api.conftest import API
from tests.conftest import client_for
from tests.web.conftest import page_text

pytestmark = pytest.mark.django_db

NEW_TICKET = {"subject": "Hello", "body_text": "Hi", "customer": {"email": "rosa@example.org"}}


@pytest.fixture(autouse=True)
def _own_token_stamp(settings, tmp_path):  # type: ignore[no-untyped-def]
    """This test's own token stamp, so that other test processes' saves of users do not change it."""
    settings.DATA_DIR = tmp_path


def bearer(key: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {key}"})


def post(client: Client, path: str, body: dict[str, object]) -> object:
    return client.post(API + path, body, content_type="application/json")


def later(monkeypatch: pytest.MonkeyPatch, delta: timedelta) -> None:
    """The token authentication's clock moves on by `delta` (no sleeping)."""
    moved = timezone.now() + delta
    monkeypatch.setattr(auth, "timezone", types.SimpleNamespace(now=lambda: moved))


def token_statements(client: Client) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(f"{API}/me").status_code == 200
    return [q["sql"] for q in captured.captured_queries if "accounts_apitoken" in q["sql"]]


# --- Scopes -----------------------------------------------------------------------------------------


def test_a_read_token_reads_and_may_not_write(agent):
    client = bearer(ApiToken.issue(agent, "dashboard", scopes=["read"])[1])
    assert client.get(f"{API}/me").status_code == 200
    refused = post(client, "/tickets", NEW_TICKET)
    assert refused.status_code == 403
    assert "lacks the 'write' scope" in refused.json()["detail"] and refused.json()["missing_scope"] == "write"


def test_a_write_only_token_writes_and_may_not_read(agent):
    client = bearer(ApiToken.issue(agent, "intake", scopes=["write"])[1])
    assert post(client, "/tickets", NEW_TICKET).status_code == 201
    refused = client.get(f"{API}/me")
    assert refused.status_code == 403 and "lacks the 'read' scope" in refused.json()["detail"]


def test_an_admins_token_without_the_admin_scope_is_refused_admin_operations(admin):
    client = bearer(ApiToken.issue(admin, "sync", scopes=["read", "write"])[1])
    refused = post(client, "/groups", {"name": "Billing"})
    assert refused.status_code == 403
    assert "lacks the 'admin' scope" in refused.json()["detail"] and refused.json()["missing_scope"] == "admin"
    assert client.get(f"{API}/me").json()["is_admin"] is False
    assert not Group.objects.filter(name="Billing").exists()


def test_an_admins_token_with_the_admin_scope_does_admin_operations(admin):
    client = bearer(ApiToken.issue(admin, "setup", scopes=["read", "write", "admin"])[1])
    assert post(client, "/groups", {"name": "Billing"}).status_code == 201
    assert client.get(f"{API}/me").json()["is_admin"] is True


def test_the_admin_scope_gives_an_agent_no_admin_powers(agent):
    with pytest.raises(Forbidden):
        create_token(agent, "sneaky", scopes=["read", "write", "admin"])
    client = bearer(ApiToken.issue(agent, "sneaky", scopes=["read", "write", "admin"])[1])  # made by hand
    refused = post(client, "/groups", {"name": "Billing"})
    assert refused.status_code == 403 and refused.json() == {"detail": "Admins only"}


def test_unknown_or_no_scopes_are_refused(agent):
    for scopes in (["delete"], []):
        with pytest.raises(Exception, match="Scopes are read, write and admin"):
            create_token(agent, "x", scopes=scopes)
    assert not ApiToken.objects.exists()


# --- Expiry -----------------------------------------------------------------------------------------


def test_an_expired_token_is_refused_with_401(agent):
    token, key = ApiToken.issue(agent, "old", expires_at=timezone.now() + timedelta(hours=1))
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    refused = bearer(key).get(f"{API}/me")
    assert refused.status_code == 401 and "token expired" in refused.json()["detail"]


def test_a_remembered_token_expires_on_time(agent, monkeypatch):
    _token, key = ApiToken.issue(agent, "day", expires_at=timezone.now() + timedelta(minutes=10))
    client = bearer(key)
    assert client.get(f"{API}/me").status_code == 200
    assert token_statements(client) == []  # remembered: no statement reads the token
    later(monkeypatch, timedelta(minutes=11))
    refused = client.get(f"{API}/me")
    assert refused.status_code == 401 and "token expired" in refused.json()["detail"]


def test_an_expiry_in_the_past_cannot_be_chosen(agent):
    with pytest.raises(Exception, match="must be in the future"):
        create_token(agent, "x", expires_at=timezone.now() - timedelta(days=1))


# --- Deactivation -----------------------------------------------------------------------------------


def test_a_deactivated_agents_token_is_refused_at_once_with_a_warm_cache(agent):
    client = bearer(ApiToken.issue(agent, "sync")[1])
    assert client.get(f"{API}/me").status_code == 200
    assert token_statements(client) == []  # the token's user is remembered…
    agent.is_active = False
    agent.save()  # …and the very next call is refused
    assert client.get(f"{API}/me").status_code == 401
    assert post(client, "/tickets", NEW_TICKET).status_code == 401


# --- Last used --------------------------------------------------------------------------------------


def test_last_used_is_written_at_most_once_a_minute(agent, monkeypatch):
    token, key = ApiToken.issue(agent, "sync")
    client = bearer(key)
    assert token.last_used_at is None
    assert client.get(f"{API}/me").status_code == 200
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    # Within the minute: no UPDATE of the token (nor any read: it is remembered).
    for _ in range(3):
        assert token_statements(client) == []
    token.refresh_from_db()
    assert token.last_used_at == first
    later(monkeypatch, timedelta(seconds=61))
    updates = [sql for sql in token_statements(client) if sql.startswith("UPDATE")]
    assert len(updates) == 1
    token.refresh_from_db()
    assert token.last_used_at > first


# --- Tokens made before scopes ----------------------------------------------------------------------


def test_the_migration_gives_old_tokens_read_write_and_admins_admin(agent, admin):
    migration = importlib.import_module("sportello.accounts.migrations.0004_token_scopes_and_expiry")
    old_agent, _ = ApiToken.issue(agent, "old")
    old_admin, _ = ApiToken.issue(admin, "old")
    ApiToken.objects.update(scopes=ApiToken._meta.get_field("scopes").default)  # the column default
    migration.admins_keep_admin_powers(django_apps, None)
    old_agent.refresh_from_db()
    old_admin.refresh_from_db()
    assert old_agent.scopes == "read write" and old_admin.scopes == "read write admin"


def test_tokens_issued_without_scopes_keep_doing_what_tokens_did(agent, admin):
    assert ApiToken.issue(agent, "x")[0].scopes == "read write"
    assert ApiToken.issue(admin, "x")[0].scopes == "read write admin"


# --- The tokens page and the command ----------------------------------------------------------------


def test_an_agent_creates_a_read_only_token_that_expires(agent):
    client = client_for(agent)
    page = page_text(client.get(reverse("tokens")))
    assert "Read only" in page and "admin operations" not in page
    response = client.post(reverse("tokens"), {"name": "report", "access": "read", "expires": "30"})
    key = re.search(r'id="new-token-key">(spt_[^<]+)<', page_text(response)).group(1)  # type: ignore[union-attr]
    token = ApiToken.objects.get(name="report")
    assert token.scopes == "read"
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)  # type: ignore[operator]
    bearer(key).get(f"{API}/me")
    listed = page_text(client.get(reverse("tokens")))
    row = re.search(rf'<tr data-token="{token.pk}">(.*?)</tr>', listed, re.S).group(1)  # type: ignore[union-attr]
    cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    assert key not in listed
    name, _hint, scopes, _created, expires, last_used, state = cells[:7]
    assert (name, scopes, state) == ("report", "read", "Active")
    assert expires != "never" and last_used != "never"


def test_an_agent_cannot_choose_the_admin_scope_but_an_admin_can(agent, admin):
    refused = client_for(agent).post(reverse("tokens"), {"name": "x", "access": "admin"})
    assert refused.status_code == 422 and "Select a valid choice" in page_text(refused)
    assert not ApiToken.objects.exists()
    client_for(admin).post(reverse("tokens"), {"name": "y", "access": "admin"})
    assert ApiToken.objects.get(name="y").scopes == "read write admin"


def test_the_tokens_page_is_refused_to_customers_and_strangers(customer_user):
    assert client_for(customer_user).get(reverse("tokens")).status_code in (302, 403)
    assert client_for(None).get(reverse("tokens")).status_code == 302


def test_the_command_creates_a_scoped_expiring_token(agent):
    out = io.StringIO()
    call_command("token", "create", agent.username, "--scope", "read", "--days", "7", stdout=out)
    token = ApiToken.find(out.getvalue().strip())
    assert token is not None and token.scopes == "read" and token.expires_at is not None
    listing = io.StringIO()
    call_command("token", "list", agent.username, stdout=listing)
    assert "\tread\tactive\t" in listing.getvalue() and "never used" in listing.getvalue()
    with pytest.raises(CommandError, match="Only admins"):
        call_command("token", "create", agent.username, "--scope", "admin", stdout=io.StringIO())
