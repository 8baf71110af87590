"""The chat console over the API: queue, my chats, accept, answer, close, read; and who is refused."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sportello.accounts.models import Role
from sportello.chat import services
from sportello.chat.models import AskIdentity, ChatChannel, Conversation, ConversationState
from sportello.tickets.models import StatusCategory
from tests.api.conftest import API, api_as
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def channel(first_level) -> ChatChannel:
    return ChatChannel.objects.create(
        name="Website", key="website", group=first_level, ask_identity=AskIdentity.OPTIONAL
    )


def visitor_writes(channel: ChatChannel, text: str = "Help please", name: str = "Vera") -> Conversation:
    conversation, _entry = services.post_visitor_message(channel, services.new_visitor(channel, name=name), text)
    return conversation


@pytest.fixture
def waiting(channel) -> Conversation:
    return visitor_writes(channel)


@pytest.fixture
def colleague(first_level):  # type: ignore[no-untyped-def]
    user = make_user("carlo_colleague", Role.AGENT)
    first_level.members.add(user)
    return user


def ok(response, status: int = 200):  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.content
    return response.json()


def test_an_agent_takes_answers_and_closes_a_chat(as_agent, agent, waiting):
    queue = ok(as_agent.get("/chat/queue"))
    assert [(c["id"], c["state"], c["channel"], c["agent"]) for c in queue] == [
        (waiting.pk, "waiting", "website", None)
    ]
    assert queue[0]["ticket"] == waiting.ticket.number and queue[0]["customer"]["name"] == "Vera"
    assert ok(as_agent.get("/chat/mine")) == []

    taken = ok(as_agent.post(f"/chat/conversations/{waiting.pk}/accept"))
    assert taken["state"] == "active" and taken["agent"]["username"] == "alice_agent"
    assert ok(as_agent.get("/chat/queue")) == []
    assert [c["id"] for c in ok(as_agent.get("/chat/mine"))] == [waiting.pk]
    waiting.ticket.refresh_from_db()
    assert waiting.ticket.assignee_id == agent.pk

    line = ok(as_agent.post(f"/chat/conversations/{waiting.pk}/messages", {"text": "  Hello, I am Alice "}), 201)
    assert (line["sender"], line["name"], line["text"]) == ("agent", "Alice Agent", "Hello, I am Alice")
    lines = ok(as_agent.get(f"/chat/conversations/{waiting.pk}/messages"))
    assert [(m["sender"], m["text"]) for m in lines] == [("visitor", "Help please"), ("agent", "Hello, I am Alice")]
    assert lines[0]["name"] == "Vera"
    assert services.history(waiting)[-1]["text"] == "Hello, I am Alice"  # what the visitor's widget shows

    closed = ok(as_agent.post(f"/chat/conversations/{waiting.pk}/close"))
    assert closed["state"] == "closed" and closed["closed_at"]
    waiting.ticket.refresh_from_db()
    assert waiting.ticket.status.category == StatusCategory.SOLVED
    assert ok(as_agent.get("/chat/mine")) == []
    assert ok(as_agent.get(f"/chat/conversations/{waiting.pk}"))["state"] == "closed"


def test_a_chat_taken_already_is_409(as_agent, colleague, waiting):
    services.accept_chat(waiting, colleague)
    answer = ok(as_agent.post(f"/chat/conversations/{waiting.pk}/accept"), 409)
    assert answer["detail"] == "Another agent took this chat"


def test_only_the_holder_answers_and_closes(as_agent, colleague, waiting):
    assert as_agent.post(f"/chat/conversations/{waiting.pk}/messages", {"text": "Hi"}).status_code == 403
    services.accept_chat(waiting, colleague)
    assert ok(as_agent.post(f"/chat/conversations/{waiting.pk}/messages", {"text": "Hi"}), 403)["detail"] == (
        "Accept this chat before answering it"
    )
    assert as_agent.post(f"/chat/conversations/{waiting.pk}/close").status_code == 403
    waiting.refresh_from_db()
    assert waiting.state == ConversationState.ACTIVE and waiting.agent_id == colleague.pk
    assert [m["sender"] for m in ok(as_agent.get(f"/chat/conversations/{waiting.pk}/messages"))] == ["visitor"]


def test_an_admin_may_close_anyones_chat(as_admin, colleague, waiting):
    services.accept_chat(waiting, colleague)
    assert ok(as_admin.post(f"/chat/conversations/{waiting.pk}/close"))["state"] == "closed"


def test_an_agent_of_another_group_neither_sees_the_queue_nor_takes_it(agent2, waiting):
    other = api_as(agent2)
    assert ok(other.get("/chat/queue")) == []
    assert ok(other.post(f"/chat/conversations/{waiting.pk}/accept"), 403)["detail"] == "This chat is for another group"


def test_a_restricted_agent_who_cannot_see_the_ticket_gets_404(restricted_agent, waiting):
    other = api_as(restricted_agent)
    assert ok(other.get("/chat/queue")) == []
    for path in ("", "/messages"):
        assert other.get(f"/chat/conversations/{waiting.pk}{path}").status_code == 404
    assert other.post(f"/chat/conversations/{waiting.pk}/accept").status_code == 404


def test_light_agents_read_but_do_not_take_chats(as_light, waiting):
    assert [c["id"] for c in ok(as_light.get("/chat/queue"))] == [waiting.pk]
    assert as_light.post(f"/chat/conversations/{waiting.pk}/accept").status_code == 403
    waiting.refresh_from_db()
    assert waiting.state == ConversationState.WAITING


def test_unknown_ids_are_404_and_bad_bodies_422(as_agent, agent, waiting):
    assert ok(as_agent.get("/chat/conversations/999999"), 404)["detail"] == "No chat 999999"
    assert as_agent.post("/chat/conversations/999999/accept").status_code == 404
    assert as_agent.get("/chat/conversations/abc").status_code == 422
    services.accept_chat(waiting, agent)
    path = f"/chat/conversations/{waiting.pk}/messages"
    assert ok(as_agent.post(path, {}), 422)["detail"].startswith("Invalid input: text")
    assert ok(as_agent.post(path, {"text": "   "}), 422)["detail"] == "The message is empty"
    assert as_agent.post(path, {"text": "x" * 5000}).status_code == 422
    assert as_agent.post(path, {"text": "Hi", "internal": True}).status_code == 422
    assert as_agent.raw("POST", path, b"{not json").status_code == 422


def test_customers_and_strangers_are_refused(client, customer_user, waiting):
    calls = [
        ("get", "/chat/queue", None),
        ("get", "/chat/mine", None),
        ("get", f"/chat/conversations/{waiting.pk}", None),
        ("get", f"/chat/conversations/{waiting.pk}/messages", None),
        ("post", f"/chat/conversations/{waiting.pk}/accept", None),
        ("post", f"/chat/conversations/{waiting.pk}/messages", {"text": "Hi"}),
        ("post", f"/chat/conversations/{waiting.pk}/close", None),
    ]
    as_customer = api_as(customer_user).client
    for method, path, body in calls:
        kwargs = {"data": body or {}, "content_type": "application/json"} if method == "post" else {}
        assert getattr(client, method)(API + path, **kwargs).status_code == 401, path
        answer = getattr(as_customer, method)(API + path, **kwargs)
        assert answer.status_code == 403 and answer.json()["detail"] == "Agents only", path
    waiting.refresh_from_db()
    assert waiting.state == ConversationState.WAITING


def test_every_operation_is_in_the_document(as_agent):
    paths = ok(as_agent.get("/openapi.json"))["paths"]
    expected = {
        "/api/v1/chat/queue": {"get"},
        "/api/v1/chat/mine": {"get"},
        "/api/v1/chat/conversations/{conversation_id}": {"get"},
        "/api/v1/chat/conversations/{conversation_id}/messages": {"get", "post"},
        "/api/v1/chat/conversations/{conversation_id}/accept": {"post"},
        "/api/v1/chat/conversations/{conversation_id}/close": {"post"},
    }
    for path, methods in expected.items():
        assert set(paths[path]) == methods, path
        for method in methods:
            assert {"401", "403"} <= set(paths[path][method]["responses"]), (path, method)
    assert "409" in paths["/api/v1/chat/conversations/{conversation_id}/accept"]["post"]["responses"]


def test_the_queue_takes_the_same_queries_for_one_chat_or_many(as_agent, channel):
    def queries() -> int:
        with CaptureQueriesContext(connection) as seen:
            assert ok(as_agent.get("/chat/queue"))
        return len(seen)

    visitor_writes(channel, name="")  # no name: a customer is shown by their address, if they have one
    queries()  # the token is looked up and cached once
    one = queries()
    for number in range(5):
        visitor_writes(channel, name="", text=f"Help {number}")
    assert queries() == one
