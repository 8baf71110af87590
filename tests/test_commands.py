"""Command-line administration: API tokens and admin accounts, through `sportello`."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from sportello.accounts.models import ApiToken, Role, User


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip()


@pytest.mark.django_db
def test_token_create_prints_a_key_that_authenticates_the_agent(agent):
    key = run("token", "create", agent.username, "--name", "laptop")
    assert key.startswith("spt_")
    found = ApiToken.find(key)
    assert found is not None and found.user == agent and found.name == "laptop"
    assert key not in ApiToken.objects.values_list("key_hash", flat=True)  # only the hash is stored


@pytest.mark.django_db
def test_token_revoke_makes_the_key_useless(agent):
    key = run("token", "create", agent.username)
    token = ApiToken.find(key)
    assert token is not None
    run("token", "revoke", str(token.pk))
    assert ApiToken.find(key) is None
    assert "revoked" in run("token", "list", agent.username)


@pytest.mark.django_db
def test_token_is_refused_for_customers_and_unknown_users(customer_user):
    with pytest.raises(CommandError, match="not an agent"):
        run("token", "create", customer_user.username)
    with pytest.raises(CommandError, match="No user"):
        run("token", "create", "nobody")


@pytest.mark.django_db
def test_createadmin_takes_the_password_from_the_environment(monkeypatch):
    monkeypatch.setenv("SPORTELLO_ADMIN_PASSWORD", "a long enough passphrase")
    run("createadmin", "root", "root@example.com")
    admin = User.objects.get(username="root")
    assert admin.role == Role.ADMIN and admin.is_superuser and admin.check_password("a long enough passphrase")
    monkeypatch.setenv("SPORTELLO_ADMIN_PASSWORD", "short")
    with pytest.raises(CommandError):
        run("createadmin", "root2", "root2@example.com")


def test_console_script_lists_its_commands():
    result = subprocess.run(
        [sys.executable, "-m", "sportello.cli", "--help"], capture_output=True, text=True, timeout=600, check=True
    )
    for word in ("run", "serve", "worker", "token create"):
        assert word in result.stdout
