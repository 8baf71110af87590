"""The web form and the portal's new-request form suggest forum topics beside articles; "This
solved my problem" on a suggested topic counts as a deflection, once per visitor."""

from __future__ import annotations

import pytest
from django.test import Client

from sportello.forum import services
from sportello.kb.models import Deflection
from sportello.kb.services import count_deflections

pytestmark = pytest.mark.django_db


def test_the_forms_suggest_matching_topics(question, held):
    for source in ("webform", "portal"):
        html = Client().get("/help/suggest", {"subject": "printer blinks", "lang": "en", "source": source}).content
        page = html.decode()
        assert "The community discussed this:" in page and "Printer shows error 42" in page
        assert f"{question.public_path()}?from={source}&amp;q=printer%20blinks" in page
    page = Client().get("/help/suggest", {"subject": "dark mode", "lang": "en"}).content.decode()
    assert "Dark mode" not in page  # held for approval: not suggested


def test_a_suggested_topic_that_solved_it_counts_once(question):
    client = Client()
    page = client.get(question.public_path(), {"from": "portal", "q": "printer blinks"}).content.decode()
    assert "This solved my problem" in page
    for _ in range(2):
        response = client.post(
            f"/help/forum/topics/{question.pk}/deflect", {"source": "portal", "q": "printer blinks", "lang": "en"}
        )
        assert response.status_code == 200 and "no need to send the request" in response.content.decode()
    assert count_deflections() == {"portal": 1, "total": 1}
    row = Deflection.objects.get()
    assert (row.article, row.query, row.language) == (None, "printer blinks", "en")
    assert "This solved my problem" not in Client().get(question.public_path()).content.decode()


def test_deflection_is_refused_for_unknown_sources_and_unreadable_topics(question, held, agent):
    client = Client()
    assert client.post(f"/help/forum/topics/{question.pk}/deflect", {"source": "chat!"}).status_code == 422
    assert client.post(f"/help/forum/topics/{held.pk}/deflect", {"source": "webform"}).status_code == 404
    assert client.post("/help/forum/topics/999999/deflect", {"source": "webform"}).status_code == 404
    assert client.get(f"/help/forum/topics/{question.pk}/deflect").status_code == 405
    services.hide_post(agent, question.posts.get(opening=True))
    assert client.post(f"/help/forum/topics/{question.pk}/deflect", {"source": "webform"}).status_code == 404
    assert not Deflection.objects.exists()
