"""Who may call the API, and what a caller sees when something is wrong: always JSON, never a 500."""

from __future__ import annotations

import base64
import json
import re
from datetime import timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from django.utils import timezone

from sportello.accounts.models import ApiToken
from sportello.automation.models import Macro, Skill, TimeRule, Trigger
from sportello.customers.merging import merge_customers
from sportello.customers.models import Customer, Organization
from sportello.inbox.models import SavedView
from sportello.notifications.models import Notification
from sportello.sla.models import Calendar, Policy
from sportello.tickets.attachments import AttachmentIn
from sportello.tickets.models import Ticket
from sportello.tickets.services import add_note
from tests.api.conftest import API, Api
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

# Every operation of the API, with a valid body, so that only who is calling decides the answer.
ENDPOINTS = [
    ("get", "/tickets", None),
    ("post", "/tickets", {"subject": "x", "body_text": "y", "customer": {"email": "x@example.org"}}),
    (
        "post",
        "/tickets/batch",
        {"tickets": [{"subject": "x", "body_text": "y", "customer": {"email": "x@example.org"}}]},
    ),
    ("get", "/tickets/{number}", None),
    ("patch", "/tickets/{number}", {"priority": 4}),
    ("post", "/tickets/{number}/merge", {"into": "{number}"}),
    ("post", "/tickets/{number}/snooze", {"until": "2099-01-01T09:00:00Z"}),
    ("post", "/tickets/{number}/unsnooze", None),
    ("post", "/tickets/{number}/spam", None),
    ("post", "/tickets/{number}/not-spam", None),
    ("post", "/tickets/{number}/block", {"what": "domain"}),
    ("get", "/tickets/{number}/entries", None),
    ("post", "/tickets/{number}/entries", {"kind": "note", "body_text": "x"}),
    ("post", "/tickets/{number}/entries/{entry_id}/move", {"into": "{number}"}),
    ("post", "/tickets/{number}/entries/{entry_id}/split", {}),
    ("post", "/tickets/{number}/entries/{entry_id}/resend", None),
    ("get", "/attachments/{attachment_id}", None),
    ("get", "/statuses", None),
    ("get", "/fields", None),
    ("get", "/audit", None),
    ("get", "/customers", None),
    ("post", "/customers", {"name": "x"}),
    ("get", "/customers/{customer_id}", None),
    ("patch", "/customers/{customer_id}", {"name": "x"}),
    ("post", "/customers/{customer_id}/identities", {"kind": "email", "value": "new@example.org"}),
    ("delete", "/customers/{customer_id}/identities/{identity_id}", None),
    ("get", "/me", None),
    ("get", "/agents", None),
    ("get", "/groups", None),
    ("post", "/groups", {"name": "x"}),
    ("patch", "/groups/{group_id}", {"name": "x"}),
    ("get", "/search?q=printer", None),
    ("get", "/automation/triggers", None),
    (
        "post",
        "/automation/triggers",
        {"name": "x", "event": "ticket_created", "actions": [{"type": "add_tags", "tags": ["x"]}]},
    ),
    ("get", "/automation/triggers/{trigger_id}", None),
    ("patch", "/automation/triggers/{trigger_id}", {"active": False}),
    ("delete", "/automation/triggers/{trigger_id}", None),
    ("get", "/automation/time-rules", None),
    ("post", "/automation/time-rules", {"name": "x", "hours": 1, "actions": [{"type": "add_tags", "tags": ["x"]}]}),
    ("get", "/automation/time-rules/{rule_id}", None),
    ("patch", "/automation/time-rules/{rule_id}", {"active": False}),
    ("delete", "/automation/time-rules/{rule_id}", None),
    ("get", "/automation/macros", None),
    ("post", "/automation/macros", {"name": "x", "body": "y"}),
    ("get", "/automation/macros/{macro_id}", None),
    ("patch", "/automation/macros/{macro_id}", {"body": "z"}),
    ("delete", "/automation/macros/{macro_id}", None),
    ("post", "/automation/macros/{macro_id}/apply", {"ticket": "{number}"}),
    ("get", "/automation/webhook-calls", None),
    ("get", "/sla/calendars", None),
    ("post", "/sla/calendars", {"name": "x"}),
    ("get", "/sla/calendars/{calendar_id}", None),
    ("patch", "/sla/calendars/{calendar_id}", {"name": "y"}),
    ("delete", "/sla/calendars/{calendar_id}", None),
    ("get", "/sla/policies", None),
    ("post", "/sla/policies", {"name": "x"}),
    ("get", "/sla/policies/{policy_id}", None),
    ("patch", "/sla/policies/{policy_id}", {"name": "y"}),
    ("delete", "/sla/policies/{policy_id}", None),
    ("get", "/tickets/{number}/sla", None),
    ("post", "/tickets/{number}/escalate", {"note": "x"}),
    ("post", "/tickets/{number}/deescalate", {"note": "x"}),
    ("get", "/assignment/load", None),
    ("get", "/assignment/groups", None),
    ("get", "/assignment/groups/{group_id}", None),
    ("patch", "/assignment/groups/{group_id}", {"method": "least_load", "default_capacity": 10}),
    ("get", "/assignment/skills", None),
    ("post", "/assignment/skills", {"name": "x", "tags": ["x"]}),
    ("get", "/assignment/skills/{skill_id}", None),
    ("patch", "/assignment/skills/{skill_id}", {"name": "y"}),
    ("delete", "/assignment/skills/{skill_id}", None),
    ("get", "/assignment/agents", None),
    ("get", "/assignment/agents/{agent_id}", None),
    ("patch", "/assignment/agents/{agent_id}", {"languages": ["it"], "max_open_tickets": 5}),
    ("get", "/csat/tickets/{number}", None),
    ("get", "/csat/answers", None),
    ("get", "/csat/agents", None),
    ("get", "/csat/groups", None),
    ("get", "/reports/self-service", None),
    ("get", "/reports/satisfaction", None),
    ("get", "/reports/volume", None),
    ("get", "/reports/backlog", None),
    ("get", "/reports/response-times", None),
    ("get", "/reports/sla", None),
    ("get", "/reports/agents", None),
    ("get", "/reports/top-customers", None),
    ("get", "/reports/trends", None),
    ("get", "/reports/forum", None),
    ("get", "/reports/deflection-methods", None),
    ("get", "/reports/triage-accuracy", None),
    ("get", "/reports/suggestions-accepted", None),
    ("get", "/reports/dashboard", None),
    ("post", "/tickets/bulk", {"tickets": [{"number": "{number}"}], "priority": 1}),
    ("get", "/views", None),
    ("post", "/views", {"name": "x", "filter": {"priority": [4]}}),
    ("delete", "/views/{view_id}", None),
    ("get", "/organizations", None),
    ("post", "/organizations", {"name": "x"}),
    ("get", "/organizations/{organization_id}", None),
    ("patch", "/organizations/{organization_id}", {"name": "y"}),
    ("get", "/organizations/{organization_id}/members", None),
    ("post", "/organizations/{organization_id}/members", {"customer_id": "{customer_id}"}),
    ("delete", "/organizations/{organization_id}/members/{customer_id}", None),
    ("get", "/customers/{customer_id}/merges", None),
    ("post", "/customers/{customer_id}/merge", {"duplicate_id": "{other_customer_id}"}),
    ("post", "/customer-merges/{merge_id}/undo", None),
    ("get", "/customers/{customer_id}/notes", None),
    ("post", "/customers/{customer_id}/notes", {"body": "x"}),
    ("get", "/customers/{customer_id}/timeline", None),
    ("get", "/mentions/agents", None),
    ("get", "/notifications", None),
    ("post", "/notifications/read", None),
    ("post", "/notifications/{notification_id}/read", None),
    ("get", "/notifications/preferences", None),
    ("put", "/notifications/preferences", {"preferences": [{"kind": "mentioned", "in_app": True, "by_mail": False}]}),
    ("get", "/kb/categories", None),
    ("post", "/kb/categories", {"name": "x"}),
    ("patch", "/kb/categories/{category_id}", {"name": "y"}),
    ("get", "/kb/articles", None),
    ("post", "/kb/articles", {"category": "{category_id}", "language": "en", "title": "x"}),
    ("get", "/kb/articles/{article_id}", None),
    ("patch", "/kb/articles/{article_id}", {"visibility": "internal"}),
    ("delete", "/kb/articles/{article_id}", None),
    ("put", "/kb/articles/{article_id}/translations/{language}", {"title": "y"}),
    ("post", "/kb/articles/{article_id}/translations/{language}/publish", None),
    ("post", "/kb/articles/{article_id}/translations/{language}/unpublish", None),
    ("get", "/forum/categories", None),
    ("get", "/forum/topics", None),
    ("get", "/forum/topics/{topic_id}", None),
    ("patch", "/forum/topics/{topic_id}", {"pinned": True}),
    ("post", "/forum/topics/{topic_id}/posts", {"body": "x"}),
    ("post", "/forum/topics/{topic_id}/merge", {"into": "{topic_id}"}),
    ("post", "/forum/posts/{post_id}/approve", None),
    ("post", "/forum/posts/{post_id}/hide", None),
    ("post", "/forum/posts/{post_id}/show", None),
    ("post", "/forum/posts/{post_id}/ticket", None),
    ("patch", "/forum/posts/{post_id}", {"body": "x"}),
    ("get", "/forum/posts/{post_id}/revisions", None),
    ("get", "/chat/queue", None),
    ("get", "/chat/mine", None),
    ("get", "/chat/conversations/{conversation_id}", None),
    ("get", "/chat/conversations/{conversation_id}/messages", None),
    ("post", "/chat/conversations/{conversation_id}/messages", {"text": "x"}),
    ("post", "/chat/conversations/{conversation_id}/accept", None),
    ("post", "/chat/conversations/{conversation_id}/close", None),
    ("get", "/phone/calls", None),
    ("post", "/phone/dial", {"number": "+493055571600"}),
]


@pytest.fixture
def ids(ticket, agent, admin, first_level) -> dict[str, int]:
    other = Customer.objects.create(name="Other")
    entry = add_note(ticket, agent, body_text="file", attachments=[AttachmentIn("a.txt", b"secret")])
    return {
        "number": ticket.number,
        "attachment_id": entry.attachments.get().pk,
        "entry_id": entry.pk,
        "customer_id": ticket.customer_id,
        "identity_id": ticket.customer.identities.first().pk,
        "group_id": first_level.pk,
        "trigger_id": Trigger.objects.create(name="t", event="ticket_created", actions=[]).pk,
        "rule_id": TimeRule.objects.create(name="r", hours=1, actions=[]).pk,
        "macro_id": Macro.objects.create(name="m", body="b").pk,
        "calendar_id": Calendar.objects.create(name="c").pk,
        "policy_id": Policy.objects.create(name="p").pk,
        "skill_id": Skill.objects.create(name="s").pk,
        "agent_id": agent.pk,
        "view_id": SavedView.objects.create(name="v", owner=agent, filter={"priority": [4]}).pk,
        "organization_id": Organization.objects.create(name="Acme").pk,
        "other_customer_id": other.pk,
        "merge_id": merge_customers(other, Customer.objects.create(name="Twin"), admin).pk,
        "notification_id": Notification.objects.create(
            recipient=agent, kind="mentioned", ticket=ticket, key=f"test:{ticket.pk}"
        ).pk,
        **_kb_and_chat_ids(agent),
        **_forum_ids(),
    }


def _kb_and_chat_ids(agent) -> dict[str, object]:  # type: ignore[no-untyped-def]
    from sportello.chat import services as chat
    from sportello.chat.models import ChatChannel
    from sportello.kb.services import ArticleText, create_article, create_category

    category = create_category(name="Billing")
    article = create_article(agent, category=category, text=ArticleText("en", "Invoices", "Body"))
    channel = ChatChannel.objects.create(name="Website", key="website")
    conversation, _ = chat.post_visitor_message(channel, chat.new_visitor(channel), "Help")
    return {"category_id": category.pk, "article_id": article.article_id, "language": "en",
            "conversation_id": conversation.pk}  # fmt: skip


def _forum_ids() -> dict[str, int]:
    """A topic opened by a portal customer, held for approval (so every action has work to do)."""
    from sportello.accounts.models import Role
    from sportello.customers.services import Sender
    from sportello.forum.services import TopicText, create_category, start_topic
    from sportello.tickets.intake import Inbound, ingest
    from tests.conftest import make_user

    author = make_user("fiona_forum", Role.CUSTOMER)
    sender = Sender(name="Fiona", email="fiona@example.com")
    customer = ingest(Inbound(channel="web", sender=sender, body_text="hi", acknowledge=False)).ticket.customer
    Customer.objects.filter(pk=customer.pk).update(user=author)
    category = create_category(language="en", name="Printers")
    with override_settings(FORUM_POST_RATE_LIMIT=10**6):  # the count outlives each test's rollback (cache)
        topic = start_topic(author, category, TopicText("question", "Jam", "Help"))
    return {"topic_id": topic.pk, "post_id": topic.posts.get().pk}


def call(client: Client, method: str, path: str, body: object, ids: dict[str, int]):  # type: ignore[no-untyped-def]
    path = path.format(**ids)
    if body is not None:
        text = json.dumps(body)
        for name, value in ids.items():  # "{number}", "{customer_id}", … in a body stand for the id
            text = text.replace(f'"{{{name}}}"', str(value))
        body = json.loads(text)
        return getattr(client, method)(API + path, body, content_type="application/json")
    return getattr(client, method)(API + path)


# Operations not for agents' tokens at all, with their own refusal tests.
OWN_AUTH = {("post", "/mail/inbound")}  # a mailbox's token: tests/mail/test_http_inbound.py


def test_the_list_covers_every_operation(client):
    schema = client.get(f"{API}/openapi.json").json()
    documented = {(m, p.removeprefix(API)) for p, ops in schema["paths"].items() for m in ops}
    assert documented - OWN_AUTH == {(m, p.split("?")[0]) for m, p, _ in ENDPOINTS}


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in ENDPOINTS])
def test_unauthenticated_is_401(ids, method, path, body):
    response = call(Client(), method, path, body, ids)
    assert response.status_code == 401
    assert response.json()["detail"].startswith("Authentication required")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("persona", ["customer_user", "stranger"])
@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in ENDPOINTS])
def test_customers_and_strangers_are_refused(request, ids, persona, method, path, body):
    user = request.getfixturevalue(persona)
    before = (Ticket.objects.count(), ApiToken.objects.count())
    for client in (client_for(user), Client(headers={"Authorization": f"Bearer {ApiToken.issue(user, 'x')[1]}"})):
        response = call(client, method, path, body, ids)
        assert response.status_code == 403, response.content
        assert response.json() == {"detail": "Agents only"} or response.json() == {"detail": "Admins only"}
    assert Ticket.objects.count() == before[0]


@pytest.mark.parametrize(
    "header",
    ["Bearer spt_not-a-real-token", "Bearer ", "Token abc", "Basic YWxpY2U6c2VjcmV0", "Bearer " + "x" * 500],
)
def test_bad_credentials_are_401(ticket, header):
    response = Client(headers={"Authorization": header}).get(f"{API}/tickets/{ticket.number}")
    assert response.status_code == 401 and "detail" in response.json()


def test_a_revoked_token_is_401(agent, ticket):
    token, key = ApiToken.issue(agent, "old")
    client = Client(headers={"Authorization": f"Bearer {key}"})
    assert client.get(f"{API}/me").status_code == 200
    token.revoked_at = timezone.now()
    token.save()
    assert client.get(f"{API}/me").status_code == 401


def test_a_deactivated_agents_token_is_401(agent):
    _token, key = ApiToken.issue(agent, "x")
    agent.is_active = False
    agent.save()
    assert Client(headers={"Authorization": f"Bearer {key}"}).get(f"{API}/me").status_code == 401


def test_last_used_is_written_at_most_once_a_minute(agent):
    token, key = ApiToken.issue(agent, "x")
    client = Client(headers={"Authorization": f"Bearer {key}"})
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client.get(f"{API}/me")
    token.refresh_from_db()
    assert token.last_used_at == start
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        client.get(f"{API}/me")
    token.refresh_from_db()
    assert token.last_used_at == start
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        client.get(f"{API}/me")
    token.refresh_from_db()
    assert token.last_used_at == start + timedelta(seconds=61)


# --- Browser session ----------------------------------------------------------------------------------


def test_a_signed_in_browser_may_read(agent, ticket):
    assert client_for(agent).get(f"{API}/tickets/{ticket.number}").status_code == 200


def test_a_browser_write_needs_the_csrf_token(agent, ticket):
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent)
    url = f"{API}/tickets/{ticket.number}/entries"
    refused = client.post(url, {"kind": "note", "body_text": "x"}, content_type="application/json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    client.get("/accounts/login/")  # any page that renders a form sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    response = client.post(
        url, {"kind": "note", "body_text": "x"}, content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert response.status_code == 201


def test_a_token_needs_no_csrf_token(agent, ticket):
    client = Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {ApiToken.issue(agent, 'x')[1]}"})
    response = client.post(
        f"{API}/tickets/{ticket.number}/entries", {"kind": "note", "body_text": "x"}, content_type="application/json"
    )
    assert response.status_code == 201


# --- Bad input ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"name": "x",', "The request body is not valid JSON"),
        (b"\xff\xfe", "The request body is not valid JSON"),
        (b'["name"]', "The request body must be a JSON object"),
        (b'"name"', "The request body must be a JSON object"),
        (b"name=x", "The request body is not valid JSON"),
    ],
)
def test_a_body_that_is_no_json_object_is_422(as_agent, body, message):
    response = as_agent.raw("POST", "/customers", body)
    assert response.status_code == 422 and response.json()["detail"].startswith(message)


@pytest.mark.parametrize("depth", [40, 900, 5_000, 100_000])
@pytest.mark.parametrize("path", ["/tickets/{number}/entries", "/tickets", "/customers", "/automation/triggers"])
def test_a_deeply_nested_body_is_422_not_a_server_error(as_admin, ticket, path, depth):
    body = b'{"kind": "note", "body_text": "x", "extra": ' + b"[" * depth + b"]" * depth + b"}"
    response = as_admin.raw("POST", path.format(number=ticket.number), body)
    assert response.status_code == 422
    assert response.json()["detail"] == "The request body nests more than 32 levels"


def test_an_unknown_api_path_is_a_json_404(as_agent):
    response = as_agent.get("/no/such/operation")
    assert response.status_code == 404
    assert response.json() == {"detail": "No API operation at /api/v1/no/such/operation"}


def test_an_unknown_method_is_a_json_405_naming_the_allowed_ones(as_agent, ticket):
    response = as_agent.delete(f"/tickets/{ticket.number}")
    assert response.status_code == 405
    assert set(response["Allow"].replace(" ", "").split(",")) == {"GET", "PATCH"}
    assert response.json()["detail"].startswith("Method DELETE is not allowed here")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/automation/macros", {"name": "x", "active": 0}, "active"),
        ("/automation/macros", {"name": "x", "shared": 1}, "shared"),
        ("/sla/policies", {"name": "x", "warning_minutes": False}, "warning_minutes"),
        ("/sla/calendars", {"name": "x", "holidays": [{"date": "2025-01-01", "yearly": 0}]}, "yearly"),
        ("/tickets", {"customer_id": True, "body_text": "x"}, "customer_id"),
        ("/tickets", {"customer": {"email": "a@example.org"}, "body_text": "x", "priority": True}, "priority"),
    ],
)
def test_numbers_and_booleans_are_not_taken_for_each_other(as_admin, customer, path, body, field):
    response = as_admin.post(path, body)
    assert response.status_code == 422
    assert [e["loc"][-1] for e in response.json()["errors"]] == [field]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/reports/satisfaction", {"until": "0"}, "until"),
        ("/reports/self-service", {"since": "20240101"}, "since"),
        ("/reports/volume", {"since": "0"}, "since"),
        ("/csat/groups", {"since": "-1269"}, "since"),
    ],
)
def test_days_and_times_are_written_as_such_not_as_numbers_of_seconds(as_admin, path, params, field):
    response = as_admin.get(path, params)
    assert response.status_code == 422
    assert [e["loc"][-1] for e in response.json()["errors"]] == [field]


def test_opening_hours_are_times_of_day_without_an_offset(as_admin):
    refused = as_admin.post(
        "/sla/calendars", {"name": "x", "intervals": [{"weekday": 0, "start": "09:00Z", "end": "17:00"}]}
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["loc"][-1] == "start"
    created = as_admin.post(
        "/sla/calendars", {"name": "x", "intervals": [{"weekday": 0, "start": "09:00", "end": "17:00"}]}
    )
    assert created.status_code == 201 and created.json()["intervals"][0]["start"] == "09:00:00"
    document = as_admin.get("/openapi.json").json()
    start = document["components"]["schemas"]["IntervalSchema"]["properties"]["start"]
    assert "format" not in start and re.fullmatch(start["pattern"].strip("^$"), "09:00:00")


def test_unknown_fields_are_422_naming_them(as_agent, ticket):
    response = as_agent.patch(f"/tickets/{ticket.number}", {"priority": 3, "owner": "bob"})
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == "Invalid input: owner: Extra inputs are not permitted"
    assert body["errors"] == [
        {"loc": ["body", "data", "owner"], "msg": "Extra inputs are not permitted", "type": "extra_forbidden"}
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"priority": "high"}, "priority"),
        ({"expected_version": "latest"}, "expected_version"),
        ({"tags": "vip"}, "tags"),
        ({"group": 2**64}, "group"),
        ({"subject": ["a"]}, "subject"),
    ],
)
def test_wrong_types_are_422_naming_the_field(as_agent, ticket, body, field):
    response = as_agent.patch(f"/tickets/{ticket.number}", body)
    assert response.status_code == 422
    assert [e["loc"][-1] for e in response.json()["errors"]] == [field]


@pytest.mark.parametrize("path", ["/groups", "/tickets/{number}/entries"])
def test_an_empty_body_where_one_is_required_is_422(as_admin, ticket, path):
    response = as_admin.raw("POST", path.format(number=ticket.number), b"")
    assert response.status_code == 422 and response.json()["detail"].startswith("Invalid input: ")


def test_a_huge_number_in_a_cursor_is_not_a_server_error(as_agent, ticket):
    cursor = base64.urlsafe_b64encode(json.dumps(["2024-01-01T00:00:00+00:00", 10**30]).encode()).decode()
    response = as_agent.get("/tickets", {"cursor": cursor})
    assert response.status_code == 200 and response.json() == {"items": [], "next_cursor": None}


def test_too_large_json_body_is_413(as_agent, ticket, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = as_agent.post(f"/tickets/{ticket.number}/entries", {"kind": "note", "body_text": "x" * 2000})
    assert response.status_code == 413 and response.json() == {"detail": "The request body is too large"}


def test_broken_multipart_is_400(as_agent, ticket):
    response = as_agent.raw(
        "POST", f"/tickets/{ticket.number}/entries", b"--xyz\r\nbroken", content_type="multipart/form-data"
    )
    assert response.status_code == 400 and "multipart" in response.json()["detail"]


def test_a_file_outside_multipart_fields_is_ignored_not_fatal(agent, ticket):
    client = Api(client_for(agent))
    response = client.client.post(
        f"{API}/tickets/{ticket.number}/entries",
        {"kind": "note", "body_text": "x", "other": SimpleUploadedFile("a.txt", b"x")},
    )
    assert response.status_code == 201 and response.json()["attachments"] == []


# --- Documentation --------------------------------------------------------------------------------------


def test_openapi_document_names_the_paths_and_security(client):
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.") and schema["info"]["title"] == "Sportello API"
    for path in ("/tickets", "/tickets/{number}", "/tickets/{number}/entries", "/customers", "/groups", "/search"):
        assert f"{API}{path}" in schema["paths"], path
    assert schema["components"]["securitySchemes"]["TokenAuth"] == {"type": "http", "scheme": "bearer"}
    update = schema["paths"][f"{API}/tickets/{{number}}"]["patch"]
    assert {"200", "401", "403", "404", "409", "422"} <= set(update["responses"])
    entries = schema["paths"][f"{API}/tickets/{{number}}/entries"]["post"]
    assert set(entries["requestBody"]["content"]) == {"application/json", "multipart/form-data"}


def test_docs_page_answers(client):
    response = client.get(f"{API}/docs")
    assert response.status_code == 200 and b"openapi.json" in response.content


def test_operation_ids_are_the_handler_names(client):
    schema = client.get(f"{API}/openapi.json").json()
    ids = [op["operationId"] for ops in schema["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids)) and {"list_tickets", "update_ticket", "add_entry", "search"} <= set(ids)
