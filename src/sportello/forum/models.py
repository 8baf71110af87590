"""Community forum data: categories per language, topics, posts, votes, follows, reports, members.

A `Topic` is opened by its first `Post` (`opening=True`); every answer is a further post. A post's
Markdown is rendered and sanitized once, when it is written (`body_html`), with the knowledge
base's renderer, and never rendered from the source at read time. What the public sees is decided
by `Post.state` and `Topic.hidden` through the gates in `forum/access.py`, never in templates.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TopicKind(models.TextChoices):
    QUESTION = "question", _("Question")
    IDEA = "idea", _("Idea")
    PROBLEM = "problem", _("Problem")


class PostState(models.TextChoices):
    PUBLISHED = "published", _("Published")
    HELD = "held", _("Awaiting approval")
    HIDDEN = "hidden", _("Hidden")


class ForumCategory(models.Model):
    """A section of the forum in one language; the same slug may be used in each language."""

    language = models.CharField(max_length=10, choices=settings.LANGUAGES)
    slug = models.SlugField(max_length=80, allow_unicode=True)
    name = models.CharField(max_length=120)
    description = models.CharField(max_length=300, blank=True)
    position = models.PositiveSmallIntegerField(default=100)

    class Meta:
        ordering = ["language", "position", "name"]
        verbose_name_plural = "forum categories"
        constraints = [models.UniqueConstraint(fields=["language", "slug"], name="forum_category_slug")]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"

    def public_path(self) -> str:
        return f"/help/forum/{self.language}/{self.slug}/"


class Topic(models.Model):
    category = models.ForeignKey(ForumCategory, on_delete=models.PROTECT, related_name="topics")
    kind = models.CharField(max_length=10, choices=TopicKind.choices, default=TopicKind.QUESTION)
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, allow_unicode=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="forum_topics")
    # Pinned topics head their category; a locked one takes no more replies; a hidden one is seen by
    # agents only. Its opening post's state says whether it is held for approval.
    pinned = models.BooleanField(default=False)
    locked = models.BooleanField(default=False)
    hidden = models.BooleanField(default=False)
    # What the public sees, kept by the services: not hidden, and the opening post published. Lists
    # filter on it (index below) instead of joining every topic to its opening post.
    public = models.BooleanField(default=False)
    # The answer the author (or an agent) marked as the one that solved it.
    solution = models.ForeignKey("Post", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Set when an agent merged this topic into another: its posts moved there, its address redirects.
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The knowledge-base article an agent drafted from this topic (question and answer).
    article = models.ForeignKey("kb.Article", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reply_count = models.PositiveIntegerField(default=0)  # published replies, the opening post not counted
    created_at = models.DateTimeField(default=timezone.now)
    last_activity_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-pinned", "-last_activity_at", "-id"]
        indexes = [
            models.Index(fields=["category", "-pinned", "-last_activity_at", "-id"], name="forum_topic_listing"),
            models.Index(
                fields=["category", "-pinned", "-last_activity_at", "-id"],
                name="forum_topic_public_listing",
                condition=models.Q(public=True),
            ),
            # The forum report: the topics opened in a period (reports/forum.py).
            models.Index(
                fields=["created_at"],
                name="forum_topic_opened",
                condition=models.Q(public=True, merged_into__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def public_path(self) -> str:
        return f"/help/forum/{self.category.language}/t/{self.pk}/{self.slug}"


class Post(models.Model):
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="posts")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="forum_posts")
    opening = models.BooleanField(default=False)  # the topic's first post, which asks the question
    body = models.TextField(help_text="Markdown; HTML is allowed and sanitized.")
    # `body` rendered and sanitized (kb.render) when written.
    body_html = models.TextField(editable=False)
    # Written by an agent: shown with a badge. Kept on the post, so it stays true to when it was written.
    by_agent = models.BooleanField(default=False)
    state = models.CharField(max_length=10, choices=PostState.choices, default=PostState.PUBLISHED)
    votes = models.PositiveIntegerField(default=0)
    # The ticket an agent turned this post into; the ticket's first entry links back (metadata).
    ticket = models.ForeignKey("tickets.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    moderated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    moderated_at = models.DateTimeField(null=True, blank=True)
    # Set by the latest edit; the text before each edit is a `PostRevision`.
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["topic", "created_at", "id"], name="forum_post_thread"),
            models.Index(fields=["state", "created_at"], name="forum_post_state"),
        ]

    def __str__(self) -> str:
        return f"post {self.pk} in topic {self.topic_id}"

    @property
    def is_published(self) -> bool:
        return self.state == PostState.PUBLISHED


IMAGE_URL_PREFIX = "/help/forum/images/"


def post_image_path(instance: PostImage, filename: str) -> str:
    # A random folder per upload, as the knowledge base's files: names never collide and one
    # address cannot be guessed from another.
    import secrets

    from django.utils.text import get_valid_filename

    return f"forum/{secrets.token_hex(8)}/{get_valid_filename(filename)[:150]}"


class PostImage(models.Model):
    """A picture a member put into a post, kept in Django's storage like the knowledge base's files.

    Only PNG, JPEG, GIF and WebP that Pillow decodes are kept (services.check_image), and it is
    served (views.image) only to who may read its post: an image of a held or hidden post is not
    seen by anybody else, whoever has its address.
    """

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="images")
    file = models.FileField(upload_to=post_image_path, max_length=300)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField(default=0)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.filename

    def url(self) -> str:
        from urllib.parse import quote

        return f"{IMAGE_URL_PREFIX}{self.pk}/{quote(self.filename)}"


class PostRevision(models.Model):
    """A post's text as it was before an edit (by its author or a moderator), kept for the
    moderators: `edited_by` and `edited_at` say who replaced it, and when."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="revisions")
    body = models.TextField()
    body_html = models.TextField()
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    edited_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-edited_at", "-id"]

    def __str__(self) -> str:
        return f"revision of post {self.post_id} replaced at {self.edited_at:%Y-%m-%d %H:%M}"


class Vote(models.Model):
    """One member's vote for a post (the opening post's votes are the topic's)."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post", "user"], name="forum_vote_once")]

    def __str__(self) -> str:
        return f"vote of user {self.user_id} for post {self.post_id}"


class Follow(models.Model):
    """A member mailed about new replies to a topic, until they unsubscribe."""

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="follows")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="forum_follows")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["topic", "user"], name="forum_follow_once")]

    def __str__(self) -> str:
        return f"user {self.user_id} follows topic {self.topic_id}"


class Report(models.Model):
    """A reader's report of a post to the moderators; one per post and reader."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post", "reporter"], name="forum_report_once")]
        indexes = [models.Index(fields=["resolved_at", "created_at"], name="forum_report_open")]

    def __str__(self) -> str:
        return f"report of post {self.post_id}"


class Member(models.Model):
    """What moderation knows of a forum member: trusted once a post of theirs was approved (their
    posts are then published at once), or banned (they may read but not write)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="forum_member")
    trusted = models.BooleanField(default=False)
    banned_at = models.DateTimeField(null=True, blank=True)
    banned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ban_reason = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return f"forum member {self.user_id}"

    @property
    def banned(self) -> bool:
        return self.banned_at is not None


class ForumSettings(models.Model):
    """The forum's policy, one row (pk 1), edited by admins in the settings area (/settings/forum/)."""

    unanswered_after_hours = models.PositiveSmallIntegerField(
        _("unanswered after (hours)"),
        default=24,
        help_text=_(
            "A public topic with no reply from anyone but its author for this long is listed in the "
            "agents' inbox under “Unanswered forum topics”"
        ),
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "forum settings"

    def __str__(self) -> str:
        return "forum settings"

    @classmethod
    def current(cls) -> ForumSettings:
        found, _created = cls.objects.get_or_create(pk=1)
        return found


class TopicDocument(models.Model):
    """The searchable text of one topic: its title, its question and its published replies
    (forum/search.py keeps it). PostgreSQL ranks `vector`; SQLite keeps the text in the FTS5 table
    forum_fts (rowid = topic id). `public` and `language` copy the topic's, so the match is cut
    to what the public reads in one language before anything is ranked."""

    topic = models.OneToOneField(Topic, primary_key=True, on_delete=models.CASCADE, related_name="+")
    language = models.CharField(max_length=10, default="")
    public = models.BooleanField(default=False)
    vector = SearchVectorField(null=True)

    def __str__(self) -> str:
        return f"search document of topic {self.topic_id}"
