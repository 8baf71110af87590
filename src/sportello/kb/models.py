"""Knowledge-base data: categories, articles with one translation per language, revisions, feedback.

An `Article` holds what all its languages share (category, visibility, tags, feedback); each
`ArticleTranslation` holds one language's title, slug, Markdown source and its rendered,
sanitized HTML, and whether that language is published. Every save of a translation leaves a
`Revision` (who, when, the text).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sportello.tickets.models import Tag

# The languages articles are written in; the public pages answer in these only.
LANGUAGES = [code for code, _name in settings.LANGUAGES]


class Visibility(models.TextChoices):
    PUBLIC = "public", "Public"
    INTERNAL = "internal", "Internal (agents only)"


class PublishState(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"


class Category(models.Model):
    """A section of the knowledge base; nested one level (a top category holds sub-categories)."""

    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        limit_choices_to={"parent": None},
    )
    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=120)
    # The name in other languages, {"it": "Fatture", …}; `name` is the fallback.
    names = models.JSONField(default=dict, blank=True)
    position = models.PositiveSmallIntegerField(default=100)

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return f"{self.parent} / {self.name}" if self.parent_id else self.name

    def name_in(self, language: str) -> str:
        return str(self.names.get(language) or self.name)


class Article(models.Model):
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="articles")
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC)
    tags = models.ManyToManyField(Tag, blank=True, related_name="articles")
    position = models.PositiveSmallIntegerField(default=100)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        first = self.translations.first()
        return first.title if first else f"Article {self.pk}"


class ArticleTranslation(models.Model):
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="translations")
    language = models.CharField(max_length=10, choices=settings.LANGUAGES)
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, allow_unicode=True)
    # The meta description and the line under the title in lists; the body's start when empty.
    summary = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True, help_text="Markdown; HTML is allowed and sanitized.")
    # `body` rendered and sanitized with nh3 when saved; never rendered from the source at read time.
    body_html = models.TextField(blank=True, editable=False)
    state = models.CharField(max_length=10, choices=PublishState.choices, default=PublishState.DRAFT)
    published_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["article_id", "language"]
        constraints = [
            models.UniqueConstraint(fields=["article", "language"], name="kb_translation_language"),
            models.UniqueConstraint(fields=["language", "slug"], name="kb_translation_slug"),
        ]
        indexes = [models.Index(fields=["language", "state"], name="kb_translation_state")]

    def __str__(self) -> str:
        return f"{self.title} ({self.language})"

    @property
    def is_published(self) -> bool:
        return self.state == PublishState.PUBLISHED

    def public_path(self) -> str:
        return public_path(self.language, self.article.category.slug, self.slug)


def public_path(language: str, category_slug: str, slug: str) -> str:
    """The clean address of a translation on the public help centre (`kb:article`)."""
    return f"/help/{language}/{category_slug}/{slug}"


class Revision(models.Model):
    """One saved version of a translation: who, when, the text."""

    translation = models.ForeignKey(ArticleTranslation, on_delete=models.CASCADE, related_name="revisions")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.translation} at {self.created_at:%Y-%m-%d %H:%M}"


class Feedback(models.Model):
    """A reader's "was this helpful?"; one per article and visitor session (a new click changes it)."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="feedback")
    session_key = models.CharField(max_length=64)
    helpful = models.BooleanField()
    language = models.CharField(max_length=10, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["article", "session_key"], name="kb_feedback_once")]

    def __str__(self) -> str:
        return f"{'helpful' if self.helpful else 'not helpful'}: article {self.article_id}"


class DeflectionSource(models.TextChoices):
    WEBFORM = "webform", _("Web form")
    PORTAL = "portal", _("Portal")
    CHAT = "chat", _("Chat")


class DeflectionMethod(models.TextChoices):
    """How the suggestion that solved it was found (kb.search.suggest_articles; forum topics)."""

    TEXT = "text", _("Full text")
    MEANING = "meaning", _("By meaning")
    FORUM = "forum", _("Forum topic")


class Deflection(models.Model):
    """A customer said an article (or a forum topic) solved their problem instead of sending a request."""

    article = models.ForeignKey(Article, null=True, on_delete=models.SET_NULL, related_name="deflections")
    # A forum topic suggested beside the articles answered instead (then there is no article): the
    # reports count the forum's deflections by it. Null on rows written before it was kept.
    topic = models.ForeignKey("forum.Topic", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    source = models.CharField(max_length=10, choices=DeflectionSource.choices, default=DeflectionSource.WEBFORM)
    # How the suggestion was found; blank on rows written before it was kept (kb migration 0007)
    # and when the suggestion's page was opened without it: the reports show those as "unknown".
    method = models.CharField(max_length=10, choices=DeflectionMethod.choices, blank=True)
    language = models.CharField(max_length=10, blank=True)
    query = models.CharField(max_length=255, blank=True)
    session_key = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["created_at"], name="kb_deflection_created")]
        constraints = [
            models.UniqueConstraint(
                fields=["article", "session_key"], name="kb_deflection_once", condition=~models.Q(session_key="")
            )
        ]

    def __str__(self) -> str:
        return f"deflection by article {self.article_id} at {self.created_at:%Y-%m-%d %H:%M}"


class ArticleDocument(models.Model):
    """The searchable text of one translation (PostgreSQL; SQLite keeps it in the FTS5 table kb_fts).

    `language`, `visibility` and `published` copy the translation's and its article's, so that a
    search ranks the matches of one language without joining every match to two other tables, and
    through a GIN index per language that holds published documents only (migration 0004). They are
    a copy for speed, not the gate: the search checks the translation and article themselves for
    the page of results it returns, so a stale copy can hide a hit but never show one it should not.
    """

    translation = models.OneToOneField(ArticleTranslation, primary_key=True, on_delete=models.CASCADE, related_name="+")
    config = models.CharField(max_length=20, default="simple")
    language = models.CharField(max_length=10, default="")
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC)
    published = models.BooleanField(default=False)
    title = models.TextField()
    body = models.TextField()
    vector = SearchVectorField(null=True)

    def __str__(self) -> str:
        return f"document of translation {self.translation_id}"


def article_file_path(instance: ArticleFile, filename: str) -> str:
    # A random folder per upload: names never collide and an address cannot be guessed from another.
    import secrets

    from django.utils.text import get_valid_filename

    return f"kb/{instance.article_id}/{secrets.token_hex(8)}/{get_valid_filename(filename)[:150]}"


class ArticleFile(models.Model):
    """An image or attachment of an article, kept in Django's storage; served by `views.article_file`.

    `is_image` is decided from the file's first bytes (PNG, JPEG, GIF, WebP), never from the name or
    the browser's word: only those are shown inline, everything else is a download.
    """

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="files")
    file = models.FileField(upload_to=article_file_path, max_length=300)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100, default="application/octet-stream")
    size = models.PositiveBigIntegerField(default=0)
    is_image = models.BooleanField(default=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.filename

    def url(self) -> str:
        from urllib.parse import quote

        return f"/help/files/{self.pk}/{quote(self.filename)}"


class PublicVersion(models.Model):
    """A stamp that changes whenever what the public help centre lists changes.

    A language published or unpublished, an article's visibility or category, a published
    translation's address or text, a category's address: each sets a new random stamp in the same
    transaction. Cached public listings (the sitemap) carry the stamp in their cache keys, so every
    process sees the change at its next request, whatever the cache backend, and a copy cached
    before a database restore can never pass for the current one. One row (pk 1).
    """

    stamp = models.CharField(max_length=32)
    changed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"public version {self.stamp}"
