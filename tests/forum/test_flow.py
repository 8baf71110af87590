"""A customer asks, another answers, the first marks the answer; followers get a mail."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client, override_settings

from sportello.forum.models import Follow, Post, Topic
from tests.conftest import client_for
from tests.forum.conftest import trust

pytestmark = pytest.mark.django_db


def test_a_customer_asks_another_answers_and_the_first_marks_it_solved(
    carla, dora, printers, django_capture_on_commit_callbacks
):
    trust(carla, dora)
    asker, helper = client_for(carla), client_for(dora)
    response = asker.post(
        f"/help/forum/en/{printers.slug}/new",
        {"kind": "question", "title": "Printer shows error 42", "body": "It blinks **red**. What now?"},
    )
    topic = Topic.objects.get()
    assert response.status_code == 302 and response["Location"] == topic.public_path()

    page = Client().get(topic.public_path())  # anyone may read it
    assert page.status_code == 200
    assert "<title>Printer shows error 42 \N{EN DASH} Community forum" in page.text
    assert "<strong>red</strong>" in page.text
    assert f'<link rel="canonical" href="http://testserver{topic.public_path()}">' in page.text

    with django_capture_on_commit_callbacks(execute=True):
        answered = helper.post(f"/help/forum/topics/{topic.pk}/reply", {"body": "Open the tray and pull the paper."})
    answer = Post.objects.get(opening=False)
    assert answered["Location"] == f"{topic.public_path()}#post-{answer.pk}"
    # The asker follows her topic: one mail, with an unsubscribe link in the text and the header.
    (sent,) = mail.outbox
    assert sent.to == ["Carla Rossi <carla@example.com>"]
    assert "Printer shows error 42" in sent.subject and "Open the tray" in sent.body
    assert sent.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert sent.extra_headers["Auto-Submitted"] == "auto-generated"

    # Only the asker may mark the answer.
    assert helper.post(f"/help/forum/posts/{answer.pk}/solution", {"lang": "en"}).status_code == 403
    asker.post(f"/help/forum/posts/{answer.pk}/solution", {"lang": "en"})
    topic.refresh_from_db()
    assert topic.solution == answer and topic.reply_count == 1
    page = Client().get(topic.public_path())
    assert "Solved" in page.text and f'href="#post-{answer.pk}"' in page.text
    listing = Client().get(f"/help/forum/en/{printers.slug}/")
    assert "Printer shows error 42" in listing.text and "Solved" in listing.text


def test_the_unsubscribe_link_stops_the_mails(question, dora, django_capture_on_commit_callbacks):
    trust(dora)
    with django_capture_on_commit_callbacks(execute=True):
        client_for(dora).post(f"/help/forum/topics/{question.pk}/reply", {"body": "Same here."})
    link = re.search(r"http://\S+/help/forum/unsubscribe/\S+", mail.outbox[0].body).group(0)
    path = link.split("://", 1)[1].split("/", 1)[1]
    assert Client().get("/" + path).status_code == 200  # a mail scanner's fetch changes nothing
    assert Follow.objects.filter(topic=question, user=question.author).exists()
    assert Client(enforce_csrf_checks=True).post("/" + path).status_code == 200  # one click, no form
    assert not Follow.objects.filter(topic=question, user=question.author).exists()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client_for(dora).post(f"/help/forum/topics/{question.pk}/reply", {"body": "Still here."})
    assert mail.outbox == []


def test_a_forged_unsubscribe_link_is_refused(db):
    assert Client().post("/help/forum/unsubscribe/not-a-token").status_code == 400


def test_votes_count_once_and_not_for_oneself(question, carla, dora):
    trust(dora)
    opening = question.posts.get()
    voter = client_for(dora)
    voter.post(f"/help/forum/posts/{opening.pk}/vote", {"lang": "en"})
    voter.post(f"/help/forum/posts/{opening.pk}/vote", {"lang": "en"})
    opening.refresh_from_db()
    assert opening.votes == 1
    assert client_for(carla).post(f"/help/forum/posts/{opening.pk}/vote", {"lang": "en"}).status_code == 403
    voter.post(f"/help/forum/posts/{opening.pk}/vote", {"lang": "en", "up": "0"})
    opening.refresh_from_db()
    assert opening.votes == 0


def test_an_agent_replies_with_a_badge_and_pins_locks_and_moves(question, agent, carla, stampanti):
    team = client_for(agent)
    team.post(f"/help/forum/topics/{question.pk}/reply", {"body": "We are on it."})
    reply = Post.objects.get(opening=False)
    assert reply.by_agent and reply.is_published
    page = Client().get(question.public_path())
    assert re.search(r'<span class="badge team">Team</span>', page.text)

    team.post(f"/help/forum/topics/{question.pk}/pin", {"on": "1"})
    team.post(f"/help/forum/topics/{question.pk}/lock", {"on": "1"})
    question.refresh_from_db()
    assert question.pinned and question.locked
    refused = client_for(carla).post(f"/help/forum/topics/{question.pk}/reply", {"body": "More?"})
    assert refused.status_code == 403 and "locked" in refused.text

    team.post(f"/help/forum/topics/{question.pk}/move", {"category": stampanti.pk})
    question.refresh_from_db()
    assert question.category == stampanti
    old = Client().get(f"/help/forum/en/t/{question.pk}/{question.slug}")
    assert old.status_code == 301 and old["Location"] == f"/help/forum/it/t/{question.pk}/{question.slug}"


def test_pages_are_phone_friendly_and_link_their_languages(printers, question):
    home = Client().get("/help/forum/en/")
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in home.text
    assert "kb/help.css" in home.text and f'href="{question.public_path()}"' in home.text
    assert 'hreflang="it"' in home.text
    assert Client().get("/help/forum/").status_code == 302
    assert Client().get("/help/forum/fr/").status_code == 404


@override_settings(FORUM_POST_RATE_LIMIT=2)
def test_posting_too_fast_is_refused_for_a_while(question, dora):
    trust(dora)
    client = client_for(dora)
    for n in range(2):
        assert client.post(f"/help/forum/topics/{question.pk}/reply", {"body": f"Reply {n}"}).status_code == 302
    limited = client.post(f"/help/forum/topics/{question.pk}/reply", {"body": "Reply 3"})
    assert limited.status_code == 429 and limited["Retry-After"]
    assert question.posts.count() == 3


def test_anonymous_visitors_are_sent_to_sign_in_to_write(question, printers):
    response = Client().post(f"/help/forum/topics/{question.pk}/reply", {"body": "hi"})
    assert response.status_code == 302 and response["Location"].startswith("/portal/sign-in")
    assert Client().get(f"/help/forum/en/{printers.slug}/new")["Location"].startswith("/portal/sign-in")


def test_the_help_centre_links_to_the_forum(db):
    assert 'href="/help/forum/en/"' in Client().get("/help/en/").text


@override_settings(FORUM_POST_RATE_LIMIT=100)
def test_a_topic_page_costs_the_same_queries_with_more_replies(question, dora):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from sportello.forum import services

    trust(dora)
    client = client_for(dora)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(question.public_path()).status_code == 200
        return len(queries)

    services.reply_to_topic(dora, question, "One")
    count()  # a warm-up: the first request fills caches (branding, lookups)
    few = count()
    for n in range(10):
        services.reply_to_topic(question.author, question, f"Reply {n}")
    assert count() == few


def test_the_sitemap_lists_public_topics_only(question, dora, printers):
    from sportello.forum import services

    held = services.start_topic(dora, printers, services.TopicText("idea", "Held idea", "Wait for it"))
    response = Client().get("/help/forum/sitemap.xml")
    assert response.status_code == 200 and response["Content-Type"] == "application/xml"
    assert f"<loc>{settings.SITE_URL}{question.public_path()}</loc>" in response.text
    assert f"<loc>{settings.SITE_URL}{printers.public_path()}</loc>" in response.text
    assert f"/t/{held.pk}/" not in response.text
    assert Client().get("/help/forum/sitemap.xml?p=2").status_code == 404
    assert Client().get("/help/forum/sitemap.xml?p=x").status_code == 404
