"""Searching the forum: topics are found by their title, question and answers, in their language,
only while the public may read them; snippets never carry a post's markup."""

from __future__ import annotations

import pytest
from django.test import Client

from sportello.forum import services
from sportello.forum.search import search_topics
from tests.conftest import client_for
from tests.forum.conftest import trust

pytestmark = pytest.mark.django_db


def _titles(query: str, lang: str = "en") -> list[str]:
    return [hit.topic.title for hit in search_topics(query, lang)]


def test_topics_are_found_by_their_answers(question, dora):
    trust(dora)
    services.reply_to_topic(dora, question, "Replace the fuser cartridge, it fixed mine")
    assert _titles("fuser") == ["Printer shows error 42"]
    assert _titles("printer error") == ["Printer shows error 42"]  # the title too
    assert _titles("cartr") == ["Printer shows error 42"]  # the last word as a prefix
    assert _titles("fuser", "it") == []  # another language's forum
    page = Client().get("/help/forum/en/search", {"q": "fuser"}).content.decode()
    assert "Printer shows error 42" in page and "<mark>fuser</mark>" in page
    assert 'name="robots" content="noindex"' in page


def test_held_hidden_and_erased_text_is_not_found(question, held, dora, agent):
    assert _titles("dark mode") == []  # held for approval
    services.approve_post(agent, held.posts.get())
    assert _titles("dark mode") == ["Dark mode"]
    services.hide_post(agent, question.posts.get(opening=True))
    assert _titles("blinks") == []
    services.show_post(agent, question.posts.get(opening=True))
    assert _titles("blinks") == ["Printer shows error 42"]
    reply = services.reply_to_topic(agent, question, "Try the secret zebra menu")
    services.hide_post(agent, reply)
    assert _titles("zebra") == []


def test_moving_a_topic_moves_it_in_search(question, stampanti, agent):
    services.move_topic(agent, question, stampanti)
    assert _titles("blinks") == [] and _titles("blinks", "it") == ["Printer shows error 42"]


def test_hostile_queries_and_posts_are_harmless(carla, printers):
    trust(carla)
    text = services.TopicText("question", "Odd <b>markup</b>", 'See <img src=x onerror="alert(1)"> widget')
    services.start_topic(carla, printers, text)
    for query in ['"', "'", "*", "AND OR NOT", "a" * 500, "\\", "NEAR(", "<script>", ":*", "widget)"]:
        response = Client().get("/help/forum/en/search", {"q": query})
        assert response.status_code == 200, query
    page = Client().get("/help/forum/en/search", {"q": "widget"}).content.decode()
    assert "<mark>widget</mark>" in page and "onerror" not in page and "<b>markup</b>" not in page


def test_search_is_offered_on_the_forum_home(carla, printers):
    page = client_for(carla).get("/help/forum/en/").content.decode()
    assert 'action="/help/forum/en/search"' in page


def test_topics_written_before_search_are_indexed_once(question):
    from sportello.forum.models import TopicDocument
    from sportello.forum.search import reindex_all, remove_topic

    remove_topic(question.pk)
    assert _titles("blinks") == [] and not TopicDocument.objects.exists()
    assert reindex_all() == 1
    assert _titles("blinks") == ["Printer shows error 42"]
