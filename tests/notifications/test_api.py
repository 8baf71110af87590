"""Notifications in the REST API: one's own only; customers and anonymous callers refused; documented."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sportello.notifications.models import Kind, Notification, Preference
from tests.conftest import api_client, client_for
from tests.notifications.conftest import phoned_in
from tests.notifications.test_views import notify

pytestmark = pytest.mark.django_db

API = "/api/v1"


def test_an_agent_lists_their_own_notifications_newest_first(agent, agent2):
    ticket = phoned_in()
    older = notify(agent2, ticket, actor=agent, n=1)
    newer = notify(agent2, ticket, actor=agent, n=2, kind=Kind.ASSIGNED)
    notify(agent, ticket, actor=agent2, n=3)  # Alice's, not Bob's
    body = api_client(agent2).get(f"{API}/notifications").json()
    assert [item["id"] for item in body["items"]] == [newer.pk, older.pk]
    assert body["unread"] == 2 and body["next_before"] is None
    first = body["items"][0]
    assert first["kind"] == "assigned" and first["ticket"] == ticket.number
    assert first["headline"] == f"Alice Agent assigned #{ticket.number} to you"
    assert first["actor"] == {"id": agent.pk, "name": "Alice Agent"}
    assert first["url"].endswith(f"/tickets/{ticket.number}/") and first["read_at"] is None


def test_pages_and_the_unread_filter(agent2):
    ticket = phoned_in()
    made = [notify(agent2, ticket, n=n) for n in range(5)]
    Notification.objects.filter(pk=made[4].pk).update(read_at=made[4].created_at)
    client = api_client(agent2)
    page = client.get(f"{API}/notifications?size=2").json()
    assert [i["id"] for i in page["items"]] == [made[4].pk, made[3].pk] and page["next_before"] == made[3].pk
    page = client.get(f"{API}/notifications?size=2&before={page['next_before']}").json()
    assert [i["id"] for i in page["items"]] == [made[2].pk, made[1].pk]
    unread = client.get(f"{API}/notifications?unread=true").json()
    assert [i["id"] for i in unread["items"]] == [m.pk for m in reversed(made[:4])] and unread["unread"] == 4


def test_the_list_costs_the_same_queries_for_2_or_20(agent, agent2):
    client = api_client(agent2)
    client.get(f"{API}/notifications")  # the token's first use writes its last-used time

    def queries(count: int) -> int:
        for n in range(count):
            notify(agent2, phoned_in(email=f"q{count}-{n}@example.com"), actor=agent, n=1000 * count + n)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"{API}/notifications?size=100").status_code == 200
        return len(captured.captured_queries)

    assert queries(2) == queries(18)


def test_mark_one_and_mark_all_read(agent2):
    ticket = phoned_in()
    first, second = notify(agent2, ticket, n=1), notify(agent2, ticket, n=2)
    client = api_client(agent2)
    answer = client.post(f"{API}/notifications/{first.pk}/read")
    assert answer.status_code == 200 and answer.json()["read_at"] is not None
    assert client.post(f"{API}/notifications/{first.pk}/read").status_code == 200  # again: unchanged
    assert client.post(f"{API}/notifications/read").json() == {"marked": 1}
    second.refresh_from_db()
    assert second.read_at is not None


def test_another_agents_notification_is_not_found(agent, agent2):
    mine = notify(agent2, phoned_in())
    client = api_client(agent)
    assert client.post(f"{API}/notifications/{mine.pk}/read").status_code == 404
    assert client.get(f"{API}/notifications").json()["items"] == []
    assert client.post(f"{API}/notifications/read").json() == {"marked": 0}
    mine.refresh_from_db()
    assert mine.read_at is None


def test_bad_input_is_refused_clearly(agent):
    client = api_client(agent)
    assert client.post(f"{API}/notifications/0/read").status_code == 422
    assert client.post(f"{API}/notifications/abc/read").status_code == 422
    assert client.get(f"{API}/notifications?size=1000").status_code == 422
    answer = client.put(f"{API}/notifications/preferences", {"preferences": [{"kind": "weather"}]}, "application/json")
    assert answer.status_code == 422
    assert client.put(f"{API}/notifications/preferences", "[", "application/json").status_code == 422


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/notifications"),
        ("post", "/notifications/read"),
        ("post", "/notifications/1/read"),
        ("get", "/notifications/preferences"),
        ("put", "/notifications/preferences"),
        ("get", "/mentions/agents?prefix=a"),
    ],
)
def test_anonymous_callers_and_customers_are_refused(customer_user, agent2, method, path):
    notify(agent2, phoned_in())
    body = {"preferences": [{"kind": "mentioned", "in_app": True, "by_mail": True}]}
    kwargs = {"data": body, "content_type": "application/json"} if method == "put" else {}
    assert getattr(client_for(None), method)(f"{API}{path}", **kwargs).status_code == 401
    refused = getattr(api_client(customer_user), method)(f"{API}{path}", **kwargs)
    assert refused.status_code == 403 and "Agents only" in refused.json()["detail"]


def test_preferences_read_and_change(agent):
    client = api_client(agent)
    before = {p["kind"]: (p["in_app"], p["by_mail"]) for p in client.get(f"{API}/notifications/preferences").json()}
    assert before["mentioned"] == (True, True) and before["customer_replied"] == (True, False)
    body = {"preferences": [{"kind": "sla_warning", "in_app": False, "by_mail": True}]}
    after = client.put(f"{API}/notifications/preferences", body, "application/json").json()
    assert {p["kind"]: (p["in_app"], p["by_mail"]) for p in after}["sla_warning"] == (False, True)
    assert Preference.objects.get(user=agent, kind="sla_warning").by_mail is True


def test_mentionable_agents_match_a_prefix_and_leave_customers_out(agent, agent2, admin, customer_user):
    client = api_client(agent)
    found = client.get(f"{API}/mentions/agents?prefix=bo").json()
    assert found == [{"id": agent2.pk, "username": "bob_agent", "name": "Bob Agent"}]
    assert [a["username"] for a in client.get(f"{API}/mentions/agents?prefix=@ALI").json()] == ["alice_agent"]
    assert [a["username"] for a in client.get(f"{API}/mentions/agents?prefix=bob%20ag").json()] == ["bob_agent"]
    everyone = [a["username"] for a in client.get(f"{API}/mentions/agents").json()]
    assert "carla_customer" not in everyone and "ada_admin" in everyone
    assert client.get(f"{API}/mentions/agents?prefix=carla").json() == []


def test_the_operations_are_in_the_openapi_document(agent):
    document = client_for(agent).get(f"{API}/openapi.json").json()
    paths = document["paths"]
    assert set(paths[f"{API}/notifications"]["get"]["responses"]) >= {"200", "401", "403", "422"}
    assert "404" in paths[f"{API}/notifications/{{notification_id}}/read"]["post"]["responses"]
    assert {"get", "put"} <= set(paths[f"{API}/notifications/preferences"])
    assert "get" in paths[f"{API}/mentions/agents"]
    assert "NotificationOut" in document["components"]["schemas"]
