"""Knowledge-base use cases. Every write to an article, translation, feedback or deflection is here.

Each validates, writes in one transaction, leaves a revision where text changed, and keeps the
search index in step inside the same transaction (search is never behind the database).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.text import slugify

from sportello.accounts.models import User
from sportello.core.errors import Forbidden, InvalidInput, TooLarge
from sportello.core.ordering import move_among
from sportello.kb import search
from sportello.kb.models import (
    LANGUAGES,
    Article,
    ArticleFile,
    ArticleTranslation,
    Category,
    Deflection,
    DeflectionMethod,
    DeflectionSource,
    Feedback,
    PublicVersion,
    PublishState,
    Revision,
    Visibility,
)
from sportello.kb.render import plain_text, render_body, summary_of
from sportello.tickets.intake import _tags
from sportello.tickets.models import Direction, Entry

MAX_TITLE = 200
MAX_BODY = 500_000


def _require_author(actor: User) -> None:
    """Agents and admins write articles; light agents read them."""
    if not actor.is_authenticated or not actor.can_reply:
        raise Forbidden("Only agents can write articles")


@dataclass
class ArticleText:
    """One language's text of an article as an author typed it."""

    language: str
    title: str
    body: str
    slug: str = ""
    summary: str = ""


def create_category(*, name: str, slug: str = "", parent: Category | None = None, position: int = 100) -> Category:
    if parent is not None and parent.parent_id is not None:
        raise InvalidInput("Categories nest one level only", field="parent")
    if not name.strip():
        raise InvalidInput("A category needs a name", field="name")
    slug = slugify(slug or name)[:80] or "category"
    if Category.objects.filter(slug=slug).exists():
        raise InvalidInput(f"The address {slug!r} is taken", field="slug")
    return Category.objects.create(name=name.strip()[:120], slug=slug, parent=parent, position=position)


def update_category(
    category: Category,
    *,
    name: str | None = None,
    names: dict[str, str] | None = None,
    parent: Category | None = None,
    clear_parent: bool = False,
    position: int | None = None,
) -> Category:
    """Rename a category (its fallback name, or its names per language), move it or reorder it."""
    if name is not None:
        if not name.strip():
            raise InvalidInput("A category needs a name", field="name")
        category.name = name.strip()[:120]
    if names is not None:
        unknown = sorted(set(names) - set(LANGUAGES))
        if unknown:
            raise InvalidInput(f"Category names are given in {', '.join(LANGUAGES)}", field="names")
        category.names = {language: value.strip()[:120] for language, value in names.items() if value.strip()}
    if parent is not None:
        if parent.pk == category.pk or parent.parent_id is not None or category.children.exists():
            raise InvalidInput("Categories nest one level only", field="parent")
        category.parent = parent
    elif clear_parent:
        category.parent = None
    if position is not None:
        category.position = position
    with transaction.atomic():
        category.save()
        mark_public_change()
    return category


def move_category(category: Category, *, up: bool) -> None:
    """Swap a category with its neighbour among its siblings (the help centre's order)."""
    with transaction.atomic():
        siblings = Category.objects.filter(parent_id=category.parent_id).order_by("position", "name", "pk")
        move_among(siblings, category, up=up)
        mark_public_change()


def delete_category(category: Category) -> None:
    """Delete an empty category; one holding articles or sub-categories is refused with the counts."""
    articles = category.articles.count()
    children = category.children.count()
    if articles or children:
        from django.utils.translation import gettext

        raise InvalidInput(
            gettext(
                "“%(name)s” cannot be deleted: it holds %(articles)d articles and %(children)d sub-categories. "
                "Move them to another category first."
            )
            % {"name": category.name, "articles": articles, "children": children}
        )
    with transaction.atomic():
        category.delete()
        mark_public_change()


def delete_article(actor: User, article: Article) -> None:
    """Remove an article with all its languages, revisions and files (admins only)."""
    if not actor.is_authenticated or not actor.is_admin:
        raise Forbidden("Only admins can delete articles")
    with transaction.atomic():
        for translation_id in article.translations.values_list("pk", flat=True):
            search.remove_translation(translation_id)
        stored = [(item.file.storage, item.file.name) for item in article.files.all() if item.file.name]
        article.delete()
        mark_public_change()

    def remove_files() -> None:
        for storage, name in stored:
            storage.delete(name)

    transaction.on_commit(remove_files)


def create_article(
    actor: User,
    *,
    category: Category,
    text: ArticleText,
    visibility: str = Visibility.PUBLIC,
    tags: list[str] | None = None,
    publish: bool = False,
) -> ArticleTranslation:
    """A new article with its first translation (a draft unless `publish`)."""
    _require_author(actor)
    if visibility not in Visibility.values:
        raise InvalidInput(f"Unknown visibility {visibility!r}", field="visibility")
    with transaction.atomic():
        article = Article.objects.create(category=category, visibility=visibility, created_by=actor)
        if tags:
            article.tags.set(_tags(tags))
        translation = save_translation(actor, article, text)
        if publish:
            translation = publish_translation(actor, translation)
    return translation


def update_article(actor: User, article: Article, *, category: Category, visibility: str, tags: list[str]) -> Article:
    """Change what all languages share; the search index follows (visibility is checked at query time)."""
    _require_author(actor)
    if visibility not in Visibility.values:
        raise InvalidInput(f"Unknown visibility {visibility!r}", field="visibility")
    with transaction.atomic():
        article.category = category
        article.visibility = visibility
        article.updated_at = timezone.now()
        article.save(update_fields=["category", "visibility", "updated_at"])
        article.tags.set(_tags(tags))
        search.reindex_article(article)
        mark_public_change()
    return article


def save_translation(actor: User | None, article: Article, text: ArticleText, *, note: str = "") -> ArticleTranslation:
    """Create or change one language of an article, keeping its state; leaves a revision."""
    if actor is not None:
        _require_author(actor)
    language, title, body = text.language, " ".join(text.title.split())[:MAX_TITLE], text.body or ""
    if language not in LANGUAGES:
        raise InvalidInput(f"Articles are written in {', '.join(LANGUAGES)}", field="language")
    if not title:
        raise InvalidInput("An article needs a title", field="title")
    if len(body) > MAX_BODY:
        raise InvalidInput("The article is too long", field="body")
    slug = slugify(text.slug or title, allow_unicode=True)[:200] or f"article-{article.pk}"
    now = timezone.now()
    with transaction.atomic():
        translation = ArticleTranslation.objects.select_for_update().filter(
            article=article, language=language
        ).first() or ArticleTranslation(article=article, language=language)
        if ArticleTranslation.objects.filter(language=language, slug=slug).exclude(pk=translation.pk).exists():
            raise InvalidInput(f"Another article in this language already uses the address {slug!r}", field="slug")
        translation.title = title
        translation.slug = slug
        translation.body = body
        translation.body_html = render_body(body)
        translation.summary = (text.summary or "").strip()[:300] or summary_of(plain_text(translation.body_html))
        translation.updated_at = now
        try:
            with transaction.atomic():
                translation.save()
        except IntegrityError as exc:  # a concurrent save took the slug
            raise InvalidInput(f"The address {slug!r} is taken", field="slug") from exc
        Revision.objects.create(
            translation=translation, author=actor, title=title, body=body, note=note, created_at=now
        )
        Article.objects.filter(pk=article.pk).update(updated_at=now)
        search.index_translation(translation)
        if translation.is_published:  # its address or its date in the sitemap may have changed
            mark_public_change()
    return translation


FROM_TICKETS_SLUG = "from-tickets"
REPLY_PREFIX = re.compile(r"^(?:(?:re|aw|r|fwd?)\s*:\s*)+", re.I)


def draft_article_from_entry(actor: User, entry: Entry) -> ArticleTranslation:
    """A draft article made from an agent's public reply, in the ticket's language ("turn this reply into an article").

    It goes into the "From tickets" category (made on first use), where authors find it to edit,
    move and publish; it stays a draft, so nothing of the reply is public until someone publishes it.
    """
    _require_author(actor)
    if entry.internal or entry.direction != Direction.OUTBOUND:
        raise InvalidInput("Only a public reply to the customer can become an article")
    body = (entry.body_text or "").strip()
    if not body:
        raise InvalidInput("The reply has no text")
    ticket = entry.ticket
    language = ticket.language if ticket.language in LANGUAGES else settings.LANGUAGE_CODE
    title = REPLY_PREFIX.sub("", ticket.subject).strip() or f"Ticket #{ticket.number}"
    slug = slugify(title, allow_unicode=True)[:180] or "article"
    if ArticleTranslation.objects.filter(language=language, slug=slug).exists():
        slug = f"{slug}-{entry.pk}"
    with transaction.atomic():
        category = Category.objects.filter(slug=FROM_TICKETS_SLUG).first() or create_category(
            name="From tickets", slug=FROM_TICKETS_SLUG, position=1000
        )
        article = Article.objects.create(category=category, visibility=Visibility.PUBLIC, created_by=actor)
        return save_translation(
            actor, article, ArticleText(language=language, title=title, body=body, slug=slug),
            note=f"From a reply on ticket #{ticket.number}",
        )  # fmt: skip


# Shown inline: the types a browser renders as a picture and nothing else (no SVG: it can hold script).
IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def image_type(head: bytes) -> str | None:
    """The image type the first bytes of a file prove, or None (only the allowed image types)."""
    for signature, content_type in IMAGE_SIGNATURES:
        if head.startswith(signature):
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def add_article_file(actor: User, article: Article, upload: UploadedFile) -> ArticleFile:
    """Store an image or attachment of an article; refused past KB_MAX_FILE_BYTES (413)."""
    _require_author(actor)
    name = (upload.name or "file").rsplit("/", 1)[-1].rsplit("\\", 1)[-1].strip() or "file"
    limit = settings.KB_MAX_FILE_BYTES
    if upload.size is None or upload.size > limit:
        raise TooLarge(
            f"“{name}” is too large ({filesizeformat(upload.size or 0)}); "
            f"the limit is {filesizeformat(limit)} per file."
        )
    if upload.size == 0:
        raise InvalidInput(f"“{name}” is empty", field="file")
    upload.seek(0)
    found = image_type(upload.read(16))
    upload.seek(0)
    claimed = (upload.content_type or "").lower()
    if found is None and claimed.startswith("image/") and claimed not in ("image/svg+xml",):
        claimed = "application/octet-stream"  # says image, is not one of ours: a download like any file
    content_type = found or (claimed if claimed and "/" in claimed else "application/octet-stream")[:100]
    with transaction.atomic():
        item = ArticleFile(
            article=article, filename=name[:255], content_type=content_type, size=upload.size,
            is_image=found is not None, uploaded_by=actor,
        )  # fmt: skip
        item.file.save(name, upload, save=False)
        item.save()
        Article.objects.filter(pk=article.pk).update(updated_at=timezone.now())
    return item


def remove_article_file(actor: User, item: ArticleFile) -> None:
    _require_author(actor)
    stored = item.file.name or ""
    storage = item.file.storage
    item.delete()
    if stored:
        transaction.on_commit(lambda: storage.delete(stored))


def publish_translation(actor: User, translation: ArticleTranslation) -> ArticleTranslation:
    return _set_state(actor, translation, PublishState.PUBLISHED)


def unpublish_translation(actor: User, translation: ArticleTranslation) -> ArticleTranslation:
    return _set_state(actor, translation, PublishState.DRAFT)


def _set_state(actor: User, translation: ArticleTranslation, state: str) -> ArticleTranslation:
    _require_author(actor)
    with transaction.atomic():
        translation.state = state
        if state == PublishState.PUBLISHED and translation.published_at is None:
            translation.published_at = timezone.now()
        translation.save(update_fields=["state", "published_at"])
        search.set_published(translation)
        mark_public_change()
        Revision.objects.create(
            translation=translation, author=actor, title=translation.title, body=translation.body,
            note="Published" if state == PublishState.PUBLISHED else "Unpublished",
        )  # fmt: skip
    return translation


def mark_public_change() -> None:
    """A new stamp for what the public help centre lists (see `PublicVersion`), in the caller's
    transaction: cached listings made before it are no longer used once it commits."""
    stamp = secrets.token_hex(16)
    if not PublicVersion.objects.filter(pk=1).update(stamp=stamp, changed_at=timezone.now()):
        PublicVersion.objects.update_or_create(pk=1, defaults={"stamp": stamp, "changed_at": timezone.now()})


def record_feedback(article: Article, *, session_key: str, helpful: bool, language: str = "") -> Feedback:
    """One vote per article and visitor session; voting again changes the vote."""
    if not session_key:
        raise InvalidInput("Feedback needs a visitor session")
    feedback, _created = Feedback.objects.update_or_create(
        article=article, session_key=session_key, defaults={"helpful": helpful, "language": language[:10]}
    )
    return feedback


@dataclass(frozen=True)
class FeedbackCounts:
    helpful: int
    not_helpful: int


def feedback_counts(article: Article) -> FeedbackCounts:
    counts = Feedback.objects.filter(article=article).aggregate(
        yes=Count("pk", filter=Q(helpful=True)), no=Count("pk", filter=Q(helpful=False))
    )
    return FeedbackCounts(helpful=counts["yes"], not_helpful=counts["no"])


def record_deflection(
    article: Article,
    *,
    session_key: str,
    source: str = DeflectionSource.WEBFORM,
    query: str = "",
    language: str = "",
    method: str = "",
) -> Deflection:
    """A customer's "this solved my problem": counted once per article and visitor session.
    `method` says how the suggestion was found ("text" or "meaning"; "" when not known)."""
    if article.visibility != Visibility.PUBLIC:
        raise InvalidInput("Only public articles deflect requests")
    if source not in DeflectionSource.values:
        raise InvalidInput(f"Unknown source {source!r}", field="source")
    if method not in ARTICLE_METHODS:
        raise InvalidInput(f"Unknown method {method[:20]!r}; one of text, meaning", field="method")
    if session_key:
        found = Deflection.objects.filter(article=article, session_key=session_key).first()
        if found is not None:
            return found
    return Deflection.objects.create(
        article=article,
        session_key=session_key,
        source=source,
        method=method,
        query=query[:255],
        language=language[:10],
    )


# The ways an article suggestion is found (kb.search.ArticleHit.method), and "" for not known.
ARTICLE_METHODS = ("", DeflectionMethod.TEXT, DeflectionMethod.MEANING)


def count_deflections(*, since: datetime | None = None, until: datetime | None = None) -> dict[str, int]:
    """Deflections per source in a period, and their total (for reports)."""
    rows: QuerySet[Deflection] = Deflection.objects.all()
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    counts = {row["source"]: row["n"] for row in rows.values("source").annotate(n=Count("pk")).order_by()}
    return {**counts, "total": sum(counts.values())}
