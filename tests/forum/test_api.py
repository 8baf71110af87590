"""The forum in the REST API: agents read every topic and moderate; light agents only read."""

from __future__ import annotations

import pytest

from sportello.forum.models import PostState
from sportello.tickets.models import Ticket
from tests.api.conftest import api_as

pytestmark = pytest.mark.django_db


def test_agents_list_and_read_topics_held_ones_too(agent, held, question):
    api = api_as(agent)
    page = api.get("/forum/topics", {"language": "en", "size": 1})
    assert page.status_code == 200
    first = page.json()
    assert [t["title"] for t in first["items"]] == ["Printer shows error 42"]
    second = api.get("/forum/topics", {"language": "en", "size": 1, "cursor": first["next_cursor"]}).json()
    assert [t["title"] for t in second["items"]] == ["Dark mode"] and second["next_cursor"] is None
    assert api.get("/forum/topics", {"language": "it"}).json()["items"] == []

    detail = api.get(f"/forum/topics/{held.pk}").json()
    (post,) = detail["posts"]
    assert post["state"] == "held" and post["opening"] and "<script" not in post["body_html"]
    assert detail["url"] == held.public_path()
    assert api.get("/forum/topics/999999").status_code == 404
    assert [c["slug"] for c in api.get("/forum/categories").json()] == ["printers"]


def test_agents_approve_reply_and_turn_a_post_into_a_ticket(agent, held, customer):
    api = api_as(agent)
    post_id = held.posts.get().pk
    approved = api.post(f"/forum/posts/{post_id}/approve")
    assert approved.status_code == 200 and approved.json()["state"] == PostState.PUBLISHED
    assert api.post(f"/forum/posts/{post_id}/approve").status_code == 409

    reply = api.post(f"/forum/topics/{held.pk}/posts", {"body": "On the roadmap."})
    assert reply.status_code == 201 and reply.json()["by_agent"] is True
    assert api.post(f"/forum/topics/{held.pk}/posts", {"body": ""}).status_code == 422

    made = api.post(f"/forum/posts/{post_id}/ticket")
    assert made.status_code == 201
    ticket = Ticket.objects.get(number=made.json()["ticket"])
    assert ticket.customer.primary_email == "dora@example.com"
    assert api.get(f"/forum/topics/{held.pk}").json()["posts"][0]["ticket"] == ticket.number
    assert api.post(f"/forum/posts/{post_id}/ticket").status_code == 409


def test_agents_pin_lock_and_move_topics(agent, question, stampanti):
    api = api_as(agent)
    changed = api.patch(f"/forum/topics/{question.pk}", {"pinned": True, "locked": True, "category": stampanti.pk})
    assert changed.status_code == 200
    body = changed.json()
    assert body["pinned"] and body["locked"] and body["language"] == "it"
    assert api.patch(f"/forum/topics/{question.pk}", {"category": 999999}).status_code == 422
    assert api.patch(f"/forum/topics/{question.pk}", {"colour": "red"}).status_code == 422


def test_light_agents_read_but_do_not_moderate(light_agent, held):
    api = api_as(light_agent)
    assert api.get(f"/forum/topics/{held.pk}").status_code == 200
    post_id = held.posts.get().pk
    for path in (f"/forum/posts/{post_id}/approve", f"/forum/posts/{post_id}/hide", f"/forum/posts/{post_id}/ticket"):
        assert api.post(path).status_code == 403
    assert api.patch(f"/forum/topics/{held.pk}", {"pinned": True}).status_code == 403
    held.refresh_from_db()
    assert not held.pinned and held.posts.get().state == PostState.HELD


def test_agents_merge_topics(agent, held, question):
    api = api_as(agent)
    merged = api.post(f"/forum/topics/{held.pk}/merge", {"into": question.pk})
    assert merged.status_code == 200 and len(merged.json()["posts"]) == 2
    assert api.post(f"/forum/topics/{held.pk}/merge", {"into": question.pk}).status_code == 409
    assert api.post(f"/forum/topics/{question.pk}/merge", {"into": 999999}).status_code == 404
