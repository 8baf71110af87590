"""A long topic comes in pages of 50 replies that a search engine can follow, with the accepted
answer on page 1; every link to a post leads to the page that shows it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client

from sportello.forum import services
from sportello.forum.models import Post, PostState, Topic
from tests.conftest import client_for
from tests.forum.conftest import trust

pytestmark = pytest.mark.django_db

PER_PAGE = services.REPLIES_PER_PAGE


def _long(question: Topic, dora, n: int = 120) -> list[Post]:
    start = question.created_at - timedelta(hours=1)  # before whatever a test writes next
    replies = Post.objects.bulk_create(
        Post(topic=question, author=dora, body=f"reply number {i}", body_html=f"<p>reply number {i}</p>",
             created_at=start + timedelta(seconds=i + 1))
        for i in range(1, n + 1)
    )  # fmt: skip
    Topic.objects.filter(pk=question.pk).update(reply_count=n)
    return sorted(replies, key=lambda p: p.created_at)


def _shown(html: str) -> list[int]:
    return [int(n) for n in re.findall(r"<p>reply number (\d+)</p>", html)]


def test_a_long_topic_comes_in_pages_a_crawler_can_follow(question, dora):
    _long(question, dora)
    path, anonymous = question.public_path(), Client()
    first = anonymous.get(path).content.decode()
    assert _shown(first) == list(range(1, PER_PAGE + 1))
    assert "It blinks <strong>" in first  # the question heads page 1
    assert f'<link rel="next" href="{path}?page=2">' in first and 'rel="prev"' not in first
    assert f'<a href="{path}?page=3">3</a>' in first

    second = anonymous.get(f"{path}?page=2").content.decode()
    assert _shown(second) == list(range(PER_PAGE + 1, 2 * PER_PAGE + 1))
    assert "It blinks <strong>" not in second
    assert f'<link rel="canonical" href="http://testserver{path}?page=2">' in second
    assert f'<link rel="prev" href="{path}">' in second and f'<link rel="next" href="{path}?page=3">' in second
    assert "Page 2 of 3" in second

    last = anonymous.get(f"{path}?page=3").content.decode()
    assert _shown(last) == list(range(2 * PER_PAGE + 1, 121)) and 'rel="next"' not in last


def test_page_one_has_one_address_and_bad_pages_are_not_found(question, dora):
    _long(question, dora)
    path, anonymous = question.public_path(), Client()
    response = anonymous.get(f"{path}?page=1")
    assert response.status_code == 301 and response["Location"] == path
    for bad in ("4", "0", "abc", "-1", "9" * 40):
        assert anonymous.get(f"{path}?page={bad}").status_code == 404, bad


def test_the_accepted_answer_shows_on_page_one(question, carla, dora):
    replies = _long(question, dora)
    services.mark_solution(carla, replies[99])  # on page 2
    first = Client().get(question.public_path()).content.decode()
    assert "The answer that solved it" in first
    assert "<p>reply number 100</p>" in first and f'id="post-{replies[99].pk}"' in first
    assert first.count(f'id="post-{replies[99].pk}"') == 1


def test_links_to_a_post_lead_to_its_page(question, carla, dora):
    replies = _long(question, dora)
    assert services.post_path(replies[0]) == f"{question.public_path()}#post-{replies[0].pk}"
    assert services.post_path(replies[PER_PAGE]) == f"{question.public_path()}?page=2#post-{replies[PER_PAGE].pk}"
    trust(carla)
    response = client_for(carla).post(f"/help/forum/topics/{question.pk}/reply", {"body": "Me too", "lang": "en"})
    new = Post.objects.latest("id")
    assert response.status_code == 302 and response["Location"].endswith(f"?page=3#post-{new.pk}")
    assert "Me too" in client_for(carla).get(response["Location"]).content.decode()


def test_held_posts_do_not_move_the_public_pages(question, dora, agent):
    replies = _long(question, dora, n=PER_PAGE)
    Post.objects.filter(pk=replies[0].pk).update(state=PostState.HELD)
    assert "page=2" not in Client().get(question.public_path()).content.decode()
    assert Client().get(f"{question.public_path()}?page=2").status_code == 404
