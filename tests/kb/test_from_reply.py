""" "Turn this reply into an article": a draft in the ticket's language, opened in the editor."""

from __future__ import annotations

import pytest

from sportello.core.errors import Forbidden, InvalidInput
from sportello.kb.models import ArticleTranslation, PublishState
from sportello.kb.services import draft_article_from_entry
from sportello.tickets.models import Ticket
from sportello.tickets.services import add_note, reply_to_ticket
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

STEPS = "Open the tray.\n\nRemove the **jammed** sheet.\n\n<script>alert(1)</script>"


@pytest.fixture
def reply(ticket, agent):  # type: ignore[no-untyped-def]
    Ticket.objects.filter(pk=ticket.pk).update(language="it", subject="Re: Stampante inceppata")
    ticket.refresh_from_db()
    return reply_to_ticket(ticket, agent, body_text=STEPS, deliver=False)


def test_the_agent_turns_a_reply_into_a_draft_and_lands_in_the_editor(reply, agent):
    page = client_for(agent).get(f"/tickets/{reply.ticket.number}/").content.decode()
    assert f'action="/help/agent/from-entry/{reply.pk}"' in page
    response = client_for(agent).post(f"/help/agent/from-entry/{reply.pk}")
    item = ArticleTranslation.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/help/agent/{item.article_id}/it/"
    assert (item.language, item.title, item.state) == ("it", "Stampante inceppata", PublishState.DRAFT)
    assert "Remove the <strong>jammed</strong> sheet." in item.body_html and "<script>" not in item.body_html
    assert item.revisions.get().note == f"From a reply on ticket #{reply.ticket.number}"
    assert item.article.category.slug == "from-tickets" and item.article.created_by == agent
    editor = client_for(agent).get(response["Location"])
    assert editor.status_code == 200 and "Stampante inceppata" in editor.content.decode()
    # A draft: not public.
    assert client_for(None).get(item.public_path()).status_code == 404


def test_twice_gives_two_drafts_with_distinct_addresses(reply, agent):
    first = draft_article_from_entry(agent, reply)
    second = draft_article_from_entry(agent, reply)
    assert first.slug != second.slug and ArticleTranslation.objects.count() == 2


def test_notes_and_customer_messages_are_refused(ticket, agent):
    note = add_note(ticket, agent, body_text="internal only")
    with pytest.raises(InvalidInput):
        draft_article_from_entry(agent, note)
    with pytest.raises(InvalidInput):
        draft_article_from_entry(agent, ticket.entries.get(direction="inbound"))
    assert client_for(agent).post(f"/help/agent/from-entry/{note.pk}").status_code == 422


def test_light_agents_customers_and_restricted_agents_are_refused(reply, light_agent, customer_user, restricted_agent):
    with pytest.raises(Forbidden):
        draft_article_from_entry(light_agent, reply)
    assert client_for(light_agent).post(f"/help/agent/from-entry/{reply.pk}").status_code == 403
    assert client_for(customer_user).post(f"/help/agent/from-entry/{reply.pk}").status_code == 403
    # The ticket is in another group: the restricted agent does not find the entry.
    assert client_for(restricted_agent).post(f"/help/agent/from-entry/{reply.pk}").status_code == 404
    assert not ArticleTranslation.objects.exists()
