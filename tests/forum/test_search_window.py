"""On PostgreSQL, a search ranks the newest RANK_WINDOW matching topics only (a word most topics
hold would otherwise rank every one of them): within the window the best match comes first."""

from __future__ import annotations

import pytest
from django.db import connection

from sportello.forum import search, services
from tests.forum.conftest import trust

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the window is PostgreSQL's"),
]


def _titles(query: str) -> list[str]:
    return [hit.topic.title for hit in search.search_topics(query, "en")]


def test_only_the_newest_matches_are_ranked(carla, printers, monkeypatch, settings):
    settings.FORUM_POST_RATE_LIMIT = 100
    trust(carla)
    for title, body in [
        ("Scanner scanner scanner", "Old, but about the scanner only."),  # the best match, the oldest
        ("Printer tray", "A scanner too."),
        ("Toner", "The scanner again."),
    ]:
        services.start_topic(carla, printers, services.TopicText("question", title, body))
    assert _titles("scanner")[0] == "Scanner scanner scanner"
    monkeypatch.setattr(search, "RANK_WINDOW", 2)
    best = search.search_topics("scanner", "en", limit=1)
    assert [hit.topic.title for hit in best] != ["Scanner scanner scanner"]  # not among the newest two
    page = search.search_topics("scanner", "en", limit=3)  # a window never holds fewer than a page
    assert page[0].topic.title == "Scanner scanner scanner" and len(page) == 3
