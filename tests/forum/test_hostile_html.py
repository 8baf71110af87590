"""Posts are written by anyone: hostile HTML is removed before it is stored, titles are escaped."""

from __future__ import annotations

import pytest
from django.test import Client

from sportello.forum import services
from tests.conftest import client_for
from tests.kb.test_articles import HOSTILE

pytestmark = pytest.mark.django_db

MORE = """<svg onload="alert(5)"></svg> <form action="https://evil.example/"><input name="x"></form>
<a href="data:text/html,<script>alert(6)</script>">data</a> <img src="x" srcset="javascript:alert(7)">
<style>body{display:none}</style> [md link](javascript:alert(8))
<div style="background:url(javascript:alert(9))">s</div>
"""
BAD = ("<script", "alert(", "<iframe", "onerror", "onload", "onclick", "javascript:", "<svg", "<form", "data:text",
       "<style", "style=")  # fmt: skip
ON_PAGE = ("<script>", "alert(", "<iframe", "onerror", "onload", "onclick", "javascript:", "<svg", "evil.example",
           "data:text", "<style", "style=")  # fmt: skip


def test_hostile_html_in_a_post_never_reaches_the_page(question, carla, dora, agent):
    from tests.forum.conftest import trust

    trust(dora)
    client_for(dora).post(f"/help/forum/topics/{question.pk}/reply", {"body": "**ok**\n\n" + HOSTILE + MORE})
    post = question.posts.get(opening=False)
    for bad in BAD:
        assert bad not in post.body_html, bad
    assert "<strong>ok</strong>" in post.body_html
    assert 'rel="nofollow ugc noopener noreferrer"' in post.body_html  # visitors' links earn no ranking
    for reader in (Client(), client_for(agent), client_for(carla)):
        page = reader.get(question.public_path()).text
        thread = page[page.index('<ol class="thread posts">') :]
        for bad in ON_PAGE:  # the page has forms and scripts of its own; none of the post's
            assert bad not in thread, bad


def test_a_hostile_title_is_escaped_everywhere(carla, printers):
    from tests.forum.conftest import trust

    trust(carla)
    topic = services.start_topic(
        carla, printers, services.TopicText("idea", '<script>alert("t")</script> "><img src=x onerror=alert(1)>', "b")
    )
    for path in (topic.public_path(), f"/help/forum/en/{printers.slug}/", "/help/forum/en/"):
        page = Client().get(path).text
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(&quot;t&quot;)&lt;/script&gt;" in page


def test_an_empty_or_oversized_post_is_refused_clearly(question, carla):
    client = client_for(carla)
    empty = client.post(f"/help/forum/topics/{question.pk}/reply", {"body": "<script></script>"})
    assert empty.status_code == 422 and "Write something first" in empty.text
    huge = client.post(f"/help/forum/topics/{question.pk}/reply", {"body": "x" * (services.MAX_BODY + 1)})
    assert huge.status_code == 422
    assert question.posts.count() == 1
