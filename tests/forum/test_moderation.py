"""Moderation: held first posts, reports, hiding, banning; agents' actions refused to everyone else."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from sportello.forum import services
from sportello.forum.models import Member, Post, PostState, Report, Topic
from tests.conftest import client_for
from tests.forum.conftest import trust

pytestmark = pytest.mark.django_db


def test_a_new_members_first_post_is_held_until_an_agent_approves_it(dora, printers, agent):
    newcomer = client_for(dora)
    newcomer.post(
        f"/help/forum/en/{printers.slug}/new",
        {"kind": "problem", "title": "Toner smears", "body": "Every page has a grey stripe."},
    )
    topic = Topic.objects.get()
    opening = topic.posts.get()
    assert opening.state == PostState.HELD
    assert Client().get(topic.public_path()).status_code == 404  # the public does not see it yet
    assert "Toner smears" not in Client().get(f"/help/forum/en/{printers.slug}/").text
    own = newcomer.get(topic.public_path())
    assert own.status_code == 200 and "Awaiting approval" in own.text  # its author does

    team = client_for(agent)
    queue = team.get("/help/forum/moderation")
    assert queue.status_code == 200 and "Toner smears" in queue.text
    response = team.post(f"/help/forum/posts/{opening.pk}/approve", {"next": "/help/forum/moderation"})
    assert response.status_code == 302 and response["Location"] == "/help/forum/moderation"
    assert "Grey stripe" not in team.get("/help/forum/moderation").text
    assert Client().get(topic.public_path()).status_code == 200

    # Approved once, trusted since: the next post appears at once.
    assert Member.objects.get(user=dora).trusted
    newcomer.post(f"/help/forum/topics/{topic.pk}/reply", {"body": "Fixed it myself: new drum."})
    assert topic.posts.get(opening=False).state == PostState.PUBLISHED
    # Approving twice is a clear conflict, not a second publication.
    assert team.post(f"/help/forum/posts/{opening.pk}/approve").status_code == 409


def test_a_held_reply_is_counted_and_mailed_only_when_approved(question, dora, agent):
    post = services.reply_to_topic(dora, question, "Have you tried turning it off?")
    question.refresh_from_db()
    assert post.state == PostState.HELD and question.reply_count == 0
    assert "turning it off" not in Client().get(question.public_path()).text
    services.approve_post(agent, post)
    question.refresh_from_db()
    assert question.reply_count == 1
    assert "turning it off" in Client().get(question.public_path()).text


def test_a_report_reaches_the_moderators_and_hiding_resolves_it(question, dora, agent):
    trust(dora)
    spam = services.reply_to_topic(dora, question, "Cheap toner at spam.example")
    reporter = client_for(question.author)
    response = reporter.post(f"/help/forum/posts/{spam.pk}/report", {"reason": "spam"})
    assert response.status_code == 302 and "done=reported" in response["Location"]
    assert "the moderators will look at this post" in reporter.get(response["Location"]).text
    reporter.post(f"/help/forum/posts/{spam.pk}/report", {"reason": "spam again"})
    assert Report.objects.count() == 1
    team = client_for(agent)
    assert "1 report" in team.get("/help/forum/moderation").text
    team.post(f"/help/forum/posts/{spam.pk}/hide")
    assert "spam.example" not in Client().get(question.public_path()).text
    assert Report.objects.get().resolved_at is not None
    question.refresh_from_db()
    assert question.reply_count == 0
    team.post(f"/help/forum/posts/{spam.pk}/show")
    assert "spam.example" in Client().get(question.public_path()).text


def test_hiding_the_opening_post_hides_the_topic(question, agent):
    client_for(agent).post(f"/help/forum/posts/{question.posts.get().pk}/hide")
    assert Client().get(question.public_path()).status_code == 404
    assert client_for(agent).get(question.public_path()).status_code == 200


def test_a_banned_member_reads_but_cannot_write(question, dora, agent):
    trust(dora)
    post = services.reply_to_topic(dora, question, "Rude words")
    client_for(agent).post(f"/help/forum/posts/{post.pk}/ban")
    assert Member.objects.get(user=dora).banned
    banned = client_for(dora)
    assert banned.get(question.public_path()).status_code == 200
    refused = banned.post(f"/help/forum/topics/{question.pk}/reply", {"body": "Let me back"})
    assert refused.status_code == 403 and "no longer write" in refused.text
    assert question.posts.count() == 2

    team = client_for(agent)
    assert "Dora B." in team.get("/help/forum/moderation").text
    team.post(f"/help/forum/members/{dora.pk}/unban")
    assert banned.post(f"/help/forum/topics/{question.pk}/reply", {"body": "Sorry"}).status_code == 302


AGENT_ACTIONS = [
    "posts/{post}/approve",
    "posts/{post}/hide",
    "posts/{post}/show",
    "posts/{post}/dismiss",
    "posts/{post}/ticket",
    "posts/{post}/ban",
    "topics/{topic}/pin",
    "topics/{topic}/lock",
    "topics/{topic}/move",
    "topics/{topic}/article",
    "topics/{topic}/merge",
    "members/{member}/unban",
]


@pytest.mark.parametrize("action", AGENT_ACTIONS)
@pytest.mark.parametrize("persona", ["carla", "dora", "stranger", "light_agent"])
def test_agents_actions_are_refused_to_customers_strangers_and_light_agents(
    request, question, stampanti, dora, persona, action
):
    trust(dora)
    post = services.reply_to_topic(dora, question, "An answer")
    Member.objects.filter(user=dora).update(banned_at=timezone.now())
    before = (Post.objects.filter(state=PostState.PUBLISHED).count(), Member.objects.filter(banned_at=None).count())
    user = request.getfixturevalue(persona)
    path = "/help/forum/" + action.format(post=post.pk, topic=question.pk, member=dora.pk)
    response = client_for(user).post(path, {"category": stampanti.pk, "on": "1"})
    assert response.status_code == 403
    anonymous = Client().post(path, {"category": stampanti.pk})
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/portal/sign-in")
    question.refresh_from_db()
    assert not question.pinned and not question.locked and question.category.language == "en"
    assert (
        Post.objects.filter(state=PostState.PUBLISHED).count(),
        Member.objects.filter(banned_at=None).count(),
    ) == before
    assert Post.objects.filter(ticket__isnull=False).count() == 0


def test_the_moderation_queue_is_for_agents_only(carla, stranger):
    for user in (carla, stranger):
        assert client_for(user).get("/help/forum/moderation").status_code == 403
    assert Client().get("/help/forum/moderation").status_code == 302


def test_an_agent_merges_a_duplicate_topic_into_the_first(question, dora, carla, agent):
    trust(dora)
    duplicate = services.start_topic(
        dora, question.category, services.TopicText("question", "Error 42 again", "Me too")
    )
    services.reply_to_topic(carla, duplicate, "Same printer?")
    team = client_for(agent)
    response = team.post(f"/help/forum/topics/{duplicate.pk}/merge", {"into": f"http://x{question.public_path()}"})
    assert response.status_code == 302 and response["Location"] == question.public_path()
    question.refresh_from_db()
    assert question.posts.count() == 3 and question.posts.filter(opening=True).count() == 1
    assert question.reply_count == 2
    assert set(question.follows.values_list("user", flat=True)) == {carla.pk, dora.pk}
    old = Client().get(duplicate.public_path())
    assert old.status_code == 301 and old["Location"] == question.public_path()
    assert "Me too" in Client().get(question.public_path()).text
    assert team.post(f"/help/forum/topics/{duplicate.pk}/merge", {"into": str(question.pk)}).status_code == 409
    assert team.post(f"/help/forum/topics/{question.pk}/merge", {"into": "nothing"}).status_code == 422
    assert team.post(f"/help/forum/topics/{question.pk}/merge", {"into": str(question.pk)}).status_code == 422
