"""Unanswered topics in the agents' inbox: public topics nobody but their author replied to, older
than the admins' setting; an answer takes a topic off the view."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sportello.audit.models import AuditEvent
from sportello.forum import services
from sportello.forum.models import ForumSettings, Topic
from sportello.forum.queries import unanswered_count, unanswered_topics
from tests.conftest import client_for
from tests.forum.conftest import trust

pytestmark = pytest.mark.django_db

INBOX_FORUM = "/inbox/forum"


def age(topic: Topic, hours: float) -> Topic:
    Topic.objects.filter(pk=topic.pk).update(created_at=timezone.now() - timedelta(hours=hours))
    return topic


def listed() -> set[int]:
    return set(unanswered_topics().values_list("pk", flat=True))


def test_a_topic_waiting_past_the_setting_is_unanswered_until_someone_else_replies(question, dora, carla):
    assert listed() == set()  # too young
    age(question, 25)
    assert listed() == {question.pk}
    services.reply_to_topic(carla, question, "Any news? It still blinks.")  # the author's own follow-up
    assert listed() == {question.pk}
    services.reply_to_topic(dora, question, "Pull the tray out.")  # dora is new: held, not an answer yet
    assert listed() == {question.pk}
    trust(dora)
    services.reply_to_topic(dora, question, "Pull the tray out, then push it back.")  # a member's answer counts
    assert listed() == set()


def test_hidden_locked_solved_and_held_topics_are_not_listed(question, held, carla, agent, dora, printers):
    trust(dora)
    others = [
        services.start_topic(carla, printers, services.TopicText("question", f"Topic {i}", "Body")) for i in range(3)
    ]
    for topic in (question, held, *others):
        age(topic, 48)
    assert listed() == {question.pk, *(t.pk for t in others)}  # held: in the moderation queue instead
    services.hide_post(agent, others[0].posts.get())
    services.lock_topic(agent, others[1])
    own = services.reply_to_topic(carla, others[2], "Fixed it myself: new cable.")
    services.mark_solution(carla, own)
    assert listed() == {question.pk}


def test_the_setting_is_edited_by_admins_and_audited(admin, agent, question):
    age(question, 10)
    assert listed() == set()
    page = client_for(admin).get("/settings/forum/")
    assert page.status_code == 200 and 'value="24"' in page.text
    assert "/settings/forum/" in client_for(admin).get("/settings/").text  # in the settings menu
    response = client_for(admin).post("/settings/forum/", {"unanswered_after_hours": "8"})
    assert response.status_code == 302
    assert ForumSettings.current().unanswered_after_hours == 8
    assert listed() == {question.pk}
    event = AuditEvent.objects.filter(action="settings.changed", target_type="forum.forumsettings").latest("id")
    assert event.after["unanswered_after_hours"] == 8 and event.actor == admin
    assert client_for(agent).post("/settings/forum/", {"unanswered_after_hours": "1"}).status_code == 403
    assert ForumSettings.current().unanswered_after_hours == 8


@pytest.mark.parametrize("value", ["0", "-3", "abc", "", "99999", "1e3"])
def test_a_bad_setting_is_refused_with_a_message(admin, value):
    response = client_for(admin).post("/settings/forum/", {"unanswered_after_hours": value})
    assert response.status_code == 422
    assert 'class="errorlist' in response.text
    assert ForumSettings.current().unanswered_after_hours == 24


def test_agents_see_the_view_with_its_count_and_answering_removes_the_topic(
    agent, question, django_capture_on_commit_callbacks
):
    age(question, 30)
    client = client_for(agent)
    inbox = client.get("/")
    link = inbox.text[inbox.text.index(f'href="{INBOX_FORUM}"') :]
    assert "Unanswered forum topics" in link and '<span class="count">1</span>' in link[: link.index("</a>")]
    page = client.get(INBOX_FORUM)
    assert page.status_code == 200
    assert f'href="{question.public_path()}"' in page.text and "Printer shows error 42" in page.text
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/help/forum/topics/{question.pk}/reply", {"body": "Try a new toner."})
    assert response.status_code == 302
    page = client.get(INBOX_FORUM)
    assert "Printer shows error 42" not in page.text and "Every forum topic has an answer" in page.text
    inbox = client.get("/")
    link = inbox.text[inbox.text.index(f'href="{INBOX_FORUM}"') :]
    assert '<span class="count">0</span>' in link[: link.index("</a>")]


def test_the_count_costs_no_query_on_a_warm_inbox(agent, question):
    age(question, 30)
    client = client_for(agent)
    client.get("/", {"view": "all"})  # warms the caches
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/", {"view": "all"}).status_code == 200
    assert not [q for q in queries if "forum_" in q["sql"]]
    assert unanswered_count() == 1


def test_strangers_customers_and_light_agents_are_refused(client, carla, stranger, light_agent, question):
    age(question, 30)
    assert client.get(INBOX_FORUM)["Location"].startswith("/accounts/login/")
    for user in (carla, stranger):
        assert client_for(user).get(INBOX_FORUM).status_code in (302, 403)
        assert "Printer shows error 42" not in client_for(user).get(INBOX_FORUM).text
    assert client_for(light_agent).get(INBOX_FORUM).status_code == 403
    assert INBOX_FORUM not in client_for(light_agent).get("/").text  # light agents cannot answer: no view
    assert client_for(carla).get("/settings/forum/").status_code in (302, 403)


def test_a_page_number_out_of_range_is_not_found(agent):
    assert client_for(agent).get(INBOX_FORUM, {"page": "7"}).status_code == 404
    assert client_for(agent).get(INBOX_FORUM, {"page": "x" * 50}).status_code == 404
