"""Editing posts: authors their own (for AUTHOR_EDIT_DAYS, not in a locked topic), agents any;
each edit keeps the earlier text as a revision that moderators read on the topic page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from sportello.forum import services
from sportello.forum.models import Post, PostRevision
from tests.api.conftest import api_as
from tests.conftest import client_for
from tests.forum.conftest import trust
from tests.forum.test_hostile_html import BAD, MORE
from tests.kb.test_articles import HOSTILE

pytestmark = pytest.mark.django_db


def edit_url(post: Post) -> str:
    return f"/help/forum/posts/{post.pk}/edit"


def test_an_author_edits_her_post_and_moderators_see_the_history(question, carla, agent):
    opening = question.posts.get()
    client = client_for(carla)
    page = client.get(question.public_path()).text
    assert f'href="{edit_url(opening)}"' in page and "edited" not in page
    form = client.get(edit_url(opening))
    assert form.status_code == 200 and "It blinks **red**." in form.text
    response = client.post(edit_url(opening), {"body": "It blinks **green** now.", "lang": "en"})
    assert response.status_code == 302 and response["Location"].endswith(f"#post-{opening.pk}")
    opening.refresh_from_db()
    assert "<strong>green</strong>" in opening.body_html and opening.edited_at is not None
    (revision,) = PostRevision.objects.filter(post=opening)
    assert revision.body == "It blinks **red**." and revision.edited_by == carla

    public = Client().get(question.public_path()).text
    assert "<strong>green</strong>" in public and "<strong>red</strong>" not in public
    assert '<span class="edited"' in public and f"/posts/{opening.pk}/history" not in public  # marked, no history
    moderator = client_for(agent).get(question.public_path()).text
    assert f'href="/help/forum/posts/{opening.pk}/history"' in moderator
    history = client_for(agent).get(f"/help/forum/posts/{opening.pk}/history")
    assert history.status_code == 200
    assert "<strong>red</strong>" in history.text and "<strong>green</strong>" in history.text
    assert "Carla" in history.text


def test_only_moderators_read_the_history(question, carla, dora, light_agent, client):
    opening = question.posts.get()
    services.edit_post(carla, opening, "New text")
    url = f"/help/forum/posts/{opening.pk}/history"
    assert client.get(url).status_code == 302  # to sign in
    for user in (carla, dora):
        response = client_for(user).get(url)
        assert response.status_code == 403 and "It blinks" not in response.text
    assert client_for(light_agent).get(url).status_code == 403
    assert client_for(dora).get("/help/forum/posts/999999/history").status_code == 403


def test_members_cannot_edit_others_posts_hidden_or_locked_ones_or_old_ones(question, carla, dora, agent):
    trust(dora)
    reply = services.reply_to_topic(dora, question, "Pull the tray.")
    opening = question.posts.get(opening=True)
    assert client_for(dora).post(edit_url(opening), {"body": "Mine now"}).status_code == 403
    assert f'href="{edit_url(opening)}"' not in client_for(dora).get(question.public_path()).text
    assert Client().post(edit_url(reply), {"body": "x"})["Location"].startswith("/portal/")

    Post.objects.filter(pk=reply.pk).update(created_at=timezone.now() - timedelta(days=services.AUTHOR_EDIT_DAYS + 1))
    refused = client_for(dora).post(edit_url(reply), {"body": "Later"})
    assert refused.status_code == 403 and f"{services.AUTHOR_EDIT_DAYS} days" in refused.text

    services.lock_topic(agent, question)
    assert client_for(carla).post(edit_url(opening), {"body": "Locked?"}).status_code == 403
    services.lock_topic(agent, question, locked=False)
    services.hide_post(agent, opening)
    assert client_for(carla).post(edit_url(opening), {"body": "Hidden?"}).status_code == 404
    assert not PostRevision.objects.exists()
    # Moderators edit any post at any time.
    services.edit_post(agent, reply, "Pull the tray (edited by the team).")
    assert PostRevision.objects.get().edited_by == agent


def test_an_edit_is_sanitized_like_a_new_post_and_bad_input_is_refused(question, carla):
    opening = question.posts.get()
    client = client_for(carla)
    client.post(edit_url(opening), {"body": "**ok**\n\n" + HOSTILE + MORE})
    opening.refresh_from_db()
    for bad in BAD:
        assert bad not in opening.body_html, bad
    for body, message in (("", "Write something first"), ("<script></script>", "Write something first"),
                          ("x" * (services.MAX_BODY + 1), "at most")):  # fmt: skip
        response = client.post(edit_url(opening), {"body": body})
        assert response.status_code == 422 and message in response.text
    assert PostRevision.objects.count() == 1


def test_an_edit_changing_nothing_keeps_no_revision(question, carla):
    opening = question.posts.get()
    services.edit_post(carla, opening, "It blinks **red**.")
    assert not PostRevision.objects.exists()


def test_agents_edit_posts_and_read_revisions_in_the_api(question, agent, light_agent):
    opening = question.posts.get()
    api = api_as(agent)
    edited = api.patch(f"/forum/posts/{opening.pk}", {"body": "Error **43** <script>x</script>"})
    assert edited.status_code == 200, edited.content
    assert "<strong>43</strong>" in edited.json()["body_html"] and "<script" not in edited.json()["body_html"]
    assert edited.json()["edited_at"] is not None
    revisions = api.get(f"/forum/posts/{opening.pk}/revisions")
    assert revisions.status_code == 200
    (first,) = revisions.json()
    assert first["body"] == "It blinks **red**." and first["edited_by"] == agent.pk
    assert api.patch(f"/forum/posts/{opening.pk}", {"body": ""}).status_code == 422
    assert api.patch("/forum/posts/999999", {"body": "x"}).status_code == 404
    assert api.get("/forum/posts/999999/revisions").status_code == 404
    light = api_as(light_agent)
    assert light.get(f"/forum/posts/{opening.pk}/revisions").status_code == 200  # they read
    assert light.patch(f"/forum/posts/{opening.pk}", {"body": "no"}).status_code == 403


def test_erasure_deletes_earlier_texts_and_the_export_holds_them(question, carla):
    opening = question.posts.get()
    services.edit_post(carla, opening, "Second text")
    document = services.member_document(carla)
    (post,) = document["posts"]
    assert post["body"] == "Second text" and post["earlier_texts"][0]["body"] == "It blinks **red**."
    services.forget_members([carla.pk])
    assert not PostRevision.objects.exists()
