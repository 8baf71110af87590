"""`sportello forum reindex`: topics written before search existed become findable, in batches,
with progress lines, and a run can resume after a topic id."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from sportello.forum import services
from sportello.forum.models import TopicDocument
from sportello.forum.search import remove_topics, search_topics
from tests.forum.conftest import trust

pytestmark = pytest.mark.django_db


def _titles(query: str) -> list[str]:
    return sorted(hit.topic.title for hit in search_topics(query, "en"))


def _run(*args: str) -> str:
    out = StringIO()
    call_command("forum", "reindex", *args, stdout=out)
    return out.getvalue()


def test_old_topics_are_indexed_in_batches_with_progress(carla, dora, printers, agent):
    trust(carla)
    topics = [
        services.start_topic(carla, printers, services.TopicText("question", f"Scanner {n} jams", "Paper stuck."))
        for n in range(5)
    ]
    services.reply_to_topic(agent, topics[0], "Open the zebra flap")
    source = services.start_topic(carla, printers, services.TopicText("question", "Scanner dup jams", "Dup."))
    services.merge_topics(agent, source, topics[1])
    remove_topics([t.pk for t in [*topics, source]])  # as if written before search existed
    assert _titles("scanner") == [] and not TopicDocument.objects.exists()

    out = _run("--batch", "2", "--every", "0")
    assert "Forum search: 6 topics indexed" in out
    assert "  2 topics" in out and "  4 topics" in out and f"resume with --after {topics[1].pk}" in out
    assert _titles("scanner") == [f"Scanner {n} jams" for n in range(5)]
    assert _titles("zebra") == ["Scanner 0 jams"]  # the answers too
    assert not TopicDocument.objects.filter(topic=source).exists()  # merged: found as its target

    remove_topics([t.pk for t in topics])
    assert "Forum search: 2 topics indexed" in _run("--after", str(topics[3].pk))
    assert _titles("scanner") == ["Scanner 4 jams"]


def test_bad_options_are_refused(db):
    for args in (["--batch", "0"], ["--after", "-1"]):
        with pytest.raises(CommandError):
            _run(*args)
    with pytest.raises(CommandError):
        call_command("forum", "rebuild")
