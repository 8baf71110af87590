"""The gates to articles: the public sees published public translations only; agents see all.

Whatever the public may not see is reported as not found (404), so an internal article's address
tells a stranger nothing.
"""

from __future__ import annotations

from django.db.models import QuerySet, Subquery

from sportello.accounts.models import User
from sportello.core.errors import Forbidden, NotFound
from sportello.kb.models import LANGUAGES, Article, ArticleFile, ArticleTranslation, PublishState, Visibility


def public_translations(language: str) -> QuerySet[ArticleTranslation]:
    """Published translations of public articles in `language` (every language when empty)."""
    found = ArticleTranslation.objects.filter(state=PublishState.PUBLISHED, article__visibility=Visibility.PUBLIC)
    return found.filter(language=language) if language else found


def public_article_languages(
    language: str, category_slug: str, slug: str
) -> tuple[ArticleTranslation, list[ArticleTranslation]]:
    """The published translation at a public address, and the article's other published
    languages, in one query: every published translation of the article that holds the address,
    from which the one asked for is picked. A draft, an internal article, another category's
    address or an unknown language is not found."""
    if language not in LANGUAGES:
        raise NotFound("No such language")
    holder = ArticleTranslation.objects.filter(language=language, slug=slug).order_by().values("article_id")[:1]
    languages = list(
        public_translations("")
        .select_related("article__category")
        .filter(article_id=Subquery(holder), article__category__slug=category_slug)
        .order_by("language")
    )
    translation = next((t for t in languages if t.language == language and t.slug == slug), None)
    if translation is None:
        raise NotFound("No such article")
    return translation, [t for t in languages if t.pk != translation.pk]


def public_article(article_id: int) -> Article:
    """An article the public may act on (feedback, deflection): public with a published language."""
    article = (
        Article.objects.filter(pk=article_id, visibility=Visibility.PUBLIC, translations__state=PublishState.PUBLISHED)
        .distinct()
        .first()
    )
    if article is None:
        raise NotFound("No such article")
    return article


def require_kb_agent(user: User) -> None:
    if not user.is_authenticated or not user.is_staff_member:
        raise Forbidden("Agents only")


def require_kb_author(user: User) -> None:
    require_kb_agent(user)
    if not user.can_reply:
        raise Forbidden("Light agents can read articles only")


def article_for_agent(user: User, article_id: int) -> Article:
    require_kb_agent(user)
    article = Article.objects.select_related("category").filter(pk=article_id).first()
    if article is None:
        raise NotFound(f"No article {article_id}")
    return article


def article_file_for_reader(user: User, file_id: int) -> ArticleFile:
    """A file of an article the reader may see: a public article with a published language for
    anyone, any article for agents; otherwise not found."""
    item = ArticleFile.objects.select_related("article").filter(pk=file_id).first()
    if item is None:
        raise NotFound("No such file")
    if user.is_authenticated and user.is_staff_member:
        return item
    if not public_translations("").filter(article=item.article_id).exists():
        raise NotFound("No such file")
    return item
