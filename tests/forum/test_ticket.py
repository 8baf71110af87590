"""Tied to the desk: a post becomes a ticket (linked both ways), a topic a knowledge-base draft."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from sportello.forum.models import Post
from sportello.tickets.models import Entry, Ticket
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_an_agent_turns_a_post_into_a_ticket(question, carla, customer, agent):
    opening = question.posts.get()
    before = Ticket.objects.count()
    response = client_for(agent).post(f"/help/forum/posts/{opening.pk}/ticket")
    ticket = Ticket.objects.order_by("-pk").first()
    assert Ticket.objects.count() == before + 1
    assert response.status_code == 302 and response["Location"] == f"/tickets/{ticket.number}/"
    # The author is the customer, the post the first entry; the ticket links to the post.
    assert ticket.customer == customer and ticket.subject == "Printer shows error 42"
    first, note = Entry.objects.filter(ticket=ticket).order_by("pk")
    assert not first.internal and first.author_customer == customer and "blinks" in first.body_text
    assert first.metadata["origin"] == "forum" and first.metadata["forum_post"] == opening.pk
    assert first.metadata["recorded_by"]["id"] == agent.pk
    assert note.internal and f'href="{settings.SITE_URL}{question.public_path()}#post-{opening.pk}"' in note.body_html
    # The post links to the ticket: agents see its number, the author a link to it in the portal.
    opening.refresh_from_db()
    assert opening.ticket == ticket
    assert f'href="/tickets/{ticket.number}/"' in client_for(agent).get(question.public_path()).text
    assert f'href="/portal/tickets/{ticket.number}/"' in client_for(carla).get(question.public_path()).text
    assert f"/tickets/{ticket.number}/" not in Client().get(question.public_path()).text
    # The ticket is the customer's own in the portal.
    assert client_for(carla).get(f"/portal/tickets/{ticket.number}/").status_code == 200

    again = client_for(agent).post(f"/help/forum/posts/{opening.pk}/ticket")
    assert again.status_code == 409 and Ticket.objects.count() == before + 1


def test_an_agents_own_post_does_not_become_a_ticket(question, agent):
    client_for(agent).post(f"/help/forum/topics/{question.pk}/reply", {"body": "Team answer"})
    post = Post.objects.get(by_agent=True)
    before = Ticket.objects.count()
    assert client_for(agent).post(f"/help/forum/posts/{post.pk}/ticket").status_code == 422
    assert Ticket.objects.count() == before


def test_an_agent_drafts_a_kb_article_from_a_solved_topic(question, dora, agent):
    from sportello.forum import services
    from sportello.kb.models import ArticleTranslation, PublishState
    from tests.forum.conftest import trust

    team = client_for(agent)
    assert team.post(f"/help/forum/topics/{question.pk}/article").status_code == 422  # no answer yet
    trust(dora)
    answer = services.reply_to_topic(dora, question, "Pull out the **yellow** lever.")
    services.mark_solution(question.author, answer)
    response = team.post(f"/help/forum/topics/{question.pk}/article")
    draft = ArticleTranslation.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/help/agent/{draft.article_id}/en/"
    assert draft.state == PublishState.DRAFT and draft.title == "Printer shows error 42"
    assert "blinks **red**" in draft.body and "**yellow** lever" in draft.body
    assert draft.article.category.slug == "from-the-forum"
    page = team.get(question.public_path()).text
    assert f'href="/help/agent/{draft.article_id}/en/"' in page
    assert team.post(f"/help/forum/topics/{question.pk}/article").status_code == 409
    assert ArticleTranslation.objects.count() == 1
