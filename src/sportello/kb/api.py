"""The knowledge base in the REST API, for agents: categories, articles and their translations.

Agents read everything (drafts and internal articles too); agents and admins write articles (the
services check it: light agents read only); admins manage categories and delete articles. A
translation is saved whole (`PUT …/translations/{language}`), which leaves a revision, and is
published or unpublished on its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from ninja import Path, Query, Router, Schema, Status
from pydantic import Field

from sportello.accounts.auth import MAX_DB_INT, Id, InputSchema, caller, errors, text
from sportello.accounts.models import User
from sportello.core.errors import Forbidden, InvalidInput, NotFound
from sportello.core.jsonbody import Flag
from sportello.customers import queries
from sportello.kb import services
from sportello.kb.access import article_for_agent, require_kb_agent, require_kb_author
from sportello.kb.models import LANGUAGES, Article, ArticleTranslation, Category, PublishState, Visibility

router = Router(tags=["knowledge base"])

ArticleId = Annotated[int, Path(ge=1, le=MAX_DB_INT, description="The article's id")]
CategoryId = Annotated[int, Path(ge=1, le=MAX_DB_INT, description="The category's id")]
LanguageCode = Literal[tuple(LANGUAGES)]  # type: ignore[valid-type]
VisibilityValue = Literal[tuple(Visibility.values)]  # type: ignore[valid-type]
StateValue = Literal[tuple(PublishState.values)]  # type: ignore[valid-type]
LanguagePath = Annotated[LanguageCode, Path(description="The translation's language")]  # type: ignore[valid-type]


# --- Output schemas -------------------------------------------------------------------------------


class KbCategoryOut(Schema):
    id: int
    slug: str
    name: str = Field(description="the fallback name, shown in a language without a name of its own")
    names: dict[str, str] = Field(description="the name per language, such as {'it': 'Fatture'}")
    parent: int | None
    position: int

    @staticmethod
    def resolve_parent(obj: Category) -> int | None:
        return obj.parent_id


class KbTranslationSummaryOut(Schema):
    language: str
    title: str
    slug: str
    state: str
    published_at: datetime | None
    updated_at: datetime


class KbTranslationOut(KbTranslationSummaryOut):
    summary: str
    body: str = Field(description="Markdown as the author wrote it")
    body_html: str = Field(description="the body rendered and sanitized")


class KbArticleOut(Schema):
    id: int
    category: int
    visibility: str
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    translations: list[KbTranslationSummaryOut]

    @staticmethod
    def resolve_category(obj: Article) -> int:
        return obj.category_id

    @staticmethod
    def resolve_tags(obj: Article) -> list[str]:
        return sorted(tag.name for tag in obj.tags.all())

    @staticmethod
    def resolve_translations(obj: Article) -> list[ArticleTranslation]:
        return list(obj.translations.all())


class KbArticleDetailOut(KbArticleOut):
    translations: list[KbTranslationOut]  # type: ignore[assignment]


class KbArticlePage(Schema):
    items: list[KbArticleOut]
    next_cursor: str | None


# --- Input schemas --------------------------------------------------------------------------------


class KbCategoryIn(InputSchema):
    name: text(120, min_length=1)  # type: ignore[valid-type]
    slug: text(80) = Field("", description="the address in the help centre; made from the name when empty")  # type: ignore[valid-type]
    names: dict[LanguageCode, text(120)] = Field({}, description="the name per language")  # type: ignore[valid-type]
    parent: Id | None = Field(None, description="a top category; categories nest one level")
    position: int = Field(100, ge=0, le=32767)


class KbCategoryUpdateIn(InputSchema):
    """Only the fields given change; `parent: null` makes it a top category."""

    name: text(120, min_length=1) | None = None  # type: ignore[valid-type]
    names: dict[LanguageCode, text(120)] | None = Field(None, description="replaces the names per language")  # type: ignore[valid-type]
    parent: Id | None = None
    position: int | None = Field(None, ge=0, le=32767)


class KbArticleQuery(Schema):
    category: Id | None = Field(None, description="articles of this category")
    state: StateValue | None = Field(None, description="articles with a translation in this state")  # type: ignore[valid-type]
    language: LanguageCode | None = Field(None, description="articles with a translation in this language")  # type: ignore[valid-type]
    q: text(200) | None = Field(None, description="part of a title")  # type: ignore[valid-type]
    cursor: text(500) | None = Field(None, description="next_cursor of the previous page")  # type: ignore[valid-type]
    size: int = Field(50, ge=1, le=200)


class KbTranslationIn(InputSchema):
    title: text(200, min_length=1)  # type: ignore[valid-type]
    body: text(services.MAX_BODY) = Field("", description="Markdown; HTML is allowed and sanitized")  # type: ignore[valid-type]
    slug: text(200) = Field("", description="the address in the help centre; made from the title when empty")  # type: ignore[valid-type]
    summary: text(300) = ""  # type: ignore[valid-type]
    note: text(200) = Field("", description="kept with the revision")  # type: ignore[valid-type]

    def article_text(self, language: str) -> services.ArticleText:
        return services.ArticleText(
            language=language, title=self.title, body=self.body, slug=self.slug, summary=self.summary
        )


class KbArticleIn(KbTranslationIn):
    category: Id
    language: LanguageCode  # type: ignore[valid-type]
    visibility: VisibilityValue = "public"  # type: ignore[valid-type]
    tags: list[text(50)] = []  # type: ignore[valid-type]
    publish: Flag = Field(False, description="publish the first translation at once (else a draft)")


class KbArticleUpdateIn(InputSchema):
    """Only the fields given change; they are shared by all the article's languages."""

    category: Id | None = None
    visibility: VisibilityValue | None = None  # type: ignore[valid-type]
    tags: list[text(50)] | None = None  # type: ignore[valid-type]


# --- Helpers --------------------------------------------------------------------------------------


def _require_admin(user: User) -> None:
    require_kb_agent(user)
    if not user.is_admin:
        raise Forbidden("Only admins manage categories")


def _category(pk: int, field: str) -> Category:
    """A category named in a body: an unknown one is bad input (422)."""
    found = Category.objects.filter(pk=pk).first()
    if found is None:
        raise InvalidInput(f"No category with id {pk}", field=field)
    return found


def _articles() -> QuerySet[Article]:
    return Article.objects.prefetch_related(
        "tags", Prefetch("translations", queryset=ArticleTranslation.objects.order_by("language"))
    )


def _detail(article_id: int) -> Article:
    return _articles().get(pk=article_id)


def _translation(article: Article, language: str) -> ArticleTranslation:
    found = article.translations.filter(language=language).first()
    if found is None:
        raise NotFound(f"Article {article.pk} has no {language} translation")
    return found


# --- Categories -----------------------------------------------------------------------------------


@router.get("/kb/categories", response={200: list[KbCategoryOut], **errors()})
def list_kb_categories(request: HttpRequest) -> Any:
    """Every category, top categories and their sub-categories, in the help centre's order."""
    require_kb_agent(caller(request))
    return Category.objects.order_by("position", "name", "pk")


@router.post("/kb/categories", response={201: KbCategoryOut, **errors(422)})
def create_kb_category(request: HttpRequest, data: KbCategoryIn) -> Any:
    """A new category (admins)."""
    _require_admin(caller(request))
    parent = _category(data.parent, "parent") if data.parent is not None else None
    with transaction.atomic():
        category = services.create_category(name=data.name, slug=data.slug, parent=parent, position=data.position)
        if data.names:
            category = services.update_category(category, names=dict(data.names))
    return Status(201, category)


@router.patch("/kb/categories/{category_id}", response={200: KbCategoryOut, **errors(404, 422)})
def update_kb_category(request: HttpRequest, category_id: CategoryId, data: KbCategoryUpdateIn) -> Any:
    """Rename, move or reorder a category (admins)."""
    _require_admin(caller(request))
    category = Category.objects.filter(pk=category_id).first()
    if category is None:
        raise NotFound(f"No category {category_id}")
    given = data.model_fields_set
    return services.update_category(
        category,
        name=data.name,
        names=dict(data.names) if data.names is not None else None,
        parent=_category(data.parent, "parent") if data.parent is not None else None,
        clear_parent="parent" in given and data.parent is None,
        position=data.position,
    )


# --- Articles -------------------------------------------------------------------------------------


@router.get("/kb/articles", response={200: KbArticlePage, **errors(422)})
def list_kb_articles(request: HttpRequest, params: Query[KbArticleQuery]) -> Any:
    """Articles of every visibility and state, newest id first, a page at a time."""
    require_kb_agent(caller(request))
    rows = _articles().order_by("-pk")
    if params.category is not None:
        rows = rows.filter(category=params.category)
    language_state: dict[str, str] = {}
    if params.language:
        language_state["translations__language"] = params.language
    if params.state:
        language_state["translations__state"] = params.state
    if params.q and params.q.strip():
        language_state["translations__title__icontains"] = params.q.strip()
    if language_state:  # one translation meets all of them
        rows = rows.filter(**language_state).distinct()
    if params.cursor:
        (last,) = queries.decode(params.cursor, (int,))
        rows = rows.filter(pk__lt=last)
    found = list(rows[: params.size + 1])
    more = len(found) > params.size
    items = found[: params.size]
    return {"items": items, "next_cursor": queries.encode([items[-1].pk]) if more else None}


@router.post("/kb/articles", response={201: KbArticleDetailOut, **errors(404, 422)})
def create_kb_article(request: HttpRequest, data: KbArticleIn) -> Any:
    """A new article with its first translation, a draft unless `publish`."""
    require_kb_author(caller(request))
    translation = services.create_article(
        caller(request),
        category=_category(data.category, "category"),
        text=data.article_text(data.language),
        visibility=data.visibility,
        tags=data.tags,
        publish=data.publish,
    )
    return Status(201, _detail(translation.article_id))


@router.get("/kb/articles/{article_id}", response={200: KbArticleDetailOut, **errors(404, 422)})
def get_kb_article(request: HttpRequest, article_id: ArticleId) -> Any:
    """An article with all its translations, drafts included."""
    return _detail(article_for_agent(caller(request), article_id).pk)


@router.patch("/kb/articles/{article_id}", response={200: KbArticleDetailOut, **errors(404, 422)})
def update_kb_article(request: HttpRequest, article_id: ArticleId, data: KbArticleUpdateIn) -> Any:
    """Change what all languages share: category, visibility, tags."""
    require_kb_author(caller(request))
    article = article_for_agent(caller(request), article_id)
    services.update_article(
        caller(request),
        article,
        category=_category(data.category, "category") if data.category is not None else article.category,
        visibility=data.visibility if data.visibility is not None else article.visibility,
        tags=data.tags if data.tags is not None else [tag.name for tag in article.tags.all()],
    )
    return _detail(article.pk)


@router.delete("/kb/articles/{article_id}", response={204: None, **errors(404, 422)})
def delete_kb_article(request: HttpRequest, article_id: ArticleId) -> Any:
    """Remove an article with all its languages (admins)."""
    services.delete_article(caller(request), article_for_agent(caller(request), article_id))
    return Status(204, None)


@router.put("/kb/articles/{article_id}/translations/{language}", response={200: KbTranslationOut, **errors(404, 422)})
def save_kb_translation(
    request: HttpRequest,
    article_id: ArticleId,
    language: LanguagePath,  # type: ignore[valid-type]
    data: KbTranslationIn,
) -> Any:
    """Write one language of an article (made when missing); its state stays, a revision is kept."""
    article = article_for_agent(caller(request), article_id)
    return services.save_translation(caller(request), article, data.article_text(language), note=data.note)


@router.post(
    "/kb/articles/{article_id}/translations/{language}/publish",
    response={200: KbTranslationOut, **errors(404, 422)},
)
def publish_kb_translation(request: HttpRequest, article_id: ArticleId, language: LanguagePath) -> Any:  # type: ignore[valid-type]
    """Show this language of the article in the help centre (internal articles: to agents only)."""
    article = article_for_agent(caller(request), article_id)
    return services.publish_translation(caller(request), _translation(article, language))


@router.post(
    "/kb/articles/{article_id}/translations/{language}/unpublish",
    response={200: KbTranslationOut, **errors(404, 422)},
)
def unpublish_kb_translation(request: HttpRequest, article_id: ArticleId, language: LanguagePath) -> Any:  # type: ignore[valid-type]
    """Take this language of the article back to a draft."""
    article = article_for_agent(caller(request), article_id)
    return services.unpublish_translation(caller(request), _translation(article, language))
