"""An API token's user is remembered per process for a few seconds; a revoked token or a changed
account is refused at once all the same (accounts/token_cache.py)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from sportello.accounts.models import ApiToken
from sportello.accounts.services import revoke_token
from tests.api.conftest import API

pytestmark = pytest.mark.django_db

NEW_TICKET = {"subject": "Hello", "body_text": "Hi", "customer": {"email": "rosa@example.org"}}


@pytest.fixture(autouse=True)
def _own_token_stamp(settings, tmp_path):  # type: ignore[no-untyped-def]
    """The token stamp is shared by every process of an installation, a file in its data directory
    without Redis: this test's own, so that other test processes' saves of users do not change it."""
    settings.DATA_DIR = tmp_path


def token_queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(f"{API}/me").status_code == 200
    return sum("accounts_apitoken" in query["sql"] for query in captured.captured_queries)


def test_a_token_is_read_once_then_remembered(agent):
    client = Client(headers={"Authorization": f"Bearer {ApiToken.issue(agent, 'x')[1]}"})
    assert token_queries(client) >= 1
    assert token_queries(client) == 0


def test_a_token_revoked_by_the_service_is_refused_at_once(agent):
    token, key = ApiToken.issue(agent, "x")
    client = Client(headers={"Authorization": f"Bearer {key}"})
    assert client.get(f"{API}/me").status_code == 200
    assert token_queries(client) == 0  # remembered…
    assert revoke_token(token.pk, owner=agent)  # …and revoked with an UPDATE
    assert client.get(f"{API}/me").status_code == 401


def test_a_deactivated_or_demoted_agent_is_refused_at_once(agent, admin):
    _token, key = ApiToken.issue(agent, "x")
    client = Client(headers={"Authorization": f"Bearer {key}"})
    assert client.post(f"{API}/tickets", NEW_TICKET, content_type="application/json").status_code == 201
    agent.role = "customer"
    agent.save()
    assert client.post(f"{API}/tickets", NEW_TICKET, content_type="application/json").status_code == 403
    agent.role, agent.is_active = "agent", False
    agent.save()
    assert client.get(f"{API}/me").status_code == 401


def test_a_token_revoked_in_another_process_is_refused_at_once(agent, tmp_path):
    from django.utils import timezone

    from sportello.accounts import token_cache

    token, key = ApiToken.issue(agent, "x")
    client = Client(headers={"Authorization": f"Bearer {key}"})
    assert client.get(f"{API}/me").status_code == 200
    assert token_queries(client) == 0  # remembered
    # Another process revokes it: its row changes, and that process writes a new stamp file.
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    (tmp_path / "elsewhere").write_text("another process's stamp")
    (tmp_path / "elsewhere").replace(token_cache._stamp_file())
    assert client.get(f"{API}/me").status_code == 401


def test_with_a_shared_cache_the_stamp_lives_there(agent, settings):
    from tests.conftest import service_or_skip

    try:
        import redis

        redis.Redis(host="127.0.0.1", port=6379, socket_timeout=2).ping()
        reachable = True
    except Exception:
        reachable = False
    service_or_skip("Redis", reachable)
    import secrets

    from django.core.cache import cache
    from django.utils import timezone

    from sportello.accounts import token_cache

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/0",
            "KEY_PREFIX": f"test-{secrets.token_hex(4)}",
        }
    }
    try:
        token, key = ApiToken.issue(agent, "x")
        client = Client(headers={"Authorization": f"Bearer {key}"})
        assert client.get(f"{API}/me").status_code == 200
        assert token_queries(client) == 0
        ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
        cache.set(token_cache._stamp_key(), "another process's stamp")  # as a revocation elsewhere does
        assert client.get(f"{API}/me").status_code == 401
    finally:
        cache.delete(token_cache._stamp_key())


def test_without_a_writable_stamp_nothing_is_remembered_and_nothing_breaks(agent, settings, tmp_path):
    (tmp_path / "a-file").write_text("")
    settings.DATA_DIR = tmp_path / "a-file" / "data"  # no directory can be made there
    agent.first_name = "Alice"
    agent.save()  # a save (a sign-in, say) still works
    client = Client(headers={"Authorization": f"Bearer {ApiToken.issue(agent, 'x')[1]}"})
    assert token_queries(client) >= 1
    assert token_queries(client) >= 1  # read every time
