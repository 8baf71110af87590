"""Article services: translations, drafts and publishing, revisions, sanitizing, feedback."""

from __future__ import annotations

import pytest

from sportello.core.errors import Forbidden, InvalidInput
from sportello.kb.models import Feedback, PublishState, Revision
from sportello.kb.services import (
    ArticleText,
    create_article,
    create_category,
    feedback_counts,
    publish_translation,
    record_feedback,
    save_translation,
    unpublish_translation,
)

HOSTILE = """Hello <script>alert(1)</script>
<iframe src="https://evil.example/"></iframe>
<img src="https://example.com/x.png" onerror="alert(2)">
<a href="javascript:alert(3)">click</a> <a href="https://example.com/" onclick="alert(4)">ok</a>
"""


def test_markdown_is_rendered_and_hostile_html_removed(agent, invoices):
    item = create_article(agent, category=invoices, text=ArticleText("en", "Hostile", "**bold**\n\n" + HOSTILE))
    html = item.body_html
    assert "<strong>bold</strong>" in html
    for bad in ("<script", "alert(1)", "<iframe", "onerror", "javascript:", "onclick"):
        assert bad not in html
    assert 'src="https://example.com/x.png"' in html  # images from the web stay
    assert 'href="https://example.com/"' in html


def test_each_save_leaves_a_revision_with_author_and_text(agent, invoice_article):
    article = invoice_article.article
    save_translation(agent, article, ArticleText("en", "Downloading invoices", "New text"))
    revisions = list(Revision.objects.filter(translation__article=article, translation__language="en"))
    assert revisions[0].body == "New text" and revisions[0].author == agent
    assert any(r.body.startswith("Open **Account") for r in revisions)
    assert any(r.note == "Published" for r in revisions)


def test_translations_are_one_article_per_language(invoice_article):
    languages = dict(invoice_article.article.translations.values_list("language", "state"))
    assert languages == {"en": "published", "it": "published", "de": "draft"}


def test_bulgarian_title_gives_a_readable_slug(agent, invoices):
    item = create_article(agent, category=invoices, text=ArticleText("bg", "Как да изтегля фактура", "Текст"))
    assert item.slug == "как-да-изтегля-фактура"


def test_slug_taken_in_the_same_language_is_refused(agent, invoices, invoice_article):
    with pytest.raises(InvalidInput):
        create_article(agent, category=invoices, text=ArticleText("en", "Downloading your invoices", "again"))
    # The same slug in another language is another address.
    create_article(agent, category=invoices, text=ArticleText("de", "Downloading your invoices", "ok"))


def test_unknown_language_refused(agent, invoices):
    with pytest.raises(InvalidInput):
        create_article(agent, category=invoices, text=ArticleText("fr", "Bonjour", "x"))


def test_publish_and_unpublish(agent, draft_article):
    assert draft_article.state == PublishState.DRAFT
    published = publish_translation(agent, draft_article)
    assert published.state == PublishState.PUBLISHED and published.published_at is not None
    assert unpublish_translation(agent, published).state == PublishState.DRAFT


def test_only_agents_write_articles(customer_user, light_agent, invoices):
    for user in (customer_user, light_agent):
        with pytest.raises(Forbidden):
            create_article(user, category=invoices, text=ArticleText("en", "Nope", "x"))


def test_categories_nest_one_level_only(invoices):
    with pytest.raises(InvalidInput):
        create_category(name="Too deep", parent=invoices)


def test_feedback_is_one_vote_per_session_and_changeable(invoice_article):
    article = invoice_article.article
    record_feedback(article, session_key="s1", helpful=True)
    record_feedback(article, session_key="s1", helpful=False)  # changed their mind
    record_feedback(article, session_key="s2", helpful=True)
    assert Feedback.objects.filter(article=article).count() == 2
    assert feedback_counts(article).helpful == 1 and feedback_counts(article).not_helpful == 1
