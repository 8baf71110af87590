"""Forum use cases. Every write to a topic, post, vote, follow, report or member is here.

Each checks who acts, writes in one transaction and schedules its mail in the same transaction
(the outbox), so nothing is sent for a write that rolled back. Posts are Markdown, rendered and
sanitized once when written, with the knowledge base's renderer (kb/render.py).

Moderation: a member's posts are held for approval until an agent approves one (the member is
then trusted); members past the rate limit are refused for a while (core/ratelimit.py); agents
hide posts and topics and ban members, who may then read but not write.
"""

from __future__ import annotations

import io
import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, Q, QuerySet
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.html import escape
from django.utils.text import slugify
from django.utils.translation import gettext as _

from sportello.accounts.models import Role, User
from sportello.core import outbox
from sportello.core.errors import Conflict, Forbidden, InvalidInput, NotFound, RateLimited, TooLarge
from sportello.core.ratelimit import count_request
from sportello.customers.models import Customer
from sportello.customers.services import Sender
from sportello.forum.access import is_forum_agent, require_forum_agent, require_forum_writer
from sportello.forum.models import (
    IMAGE_URL_PREFIX,
    Follow,
    ForumCategory,
    ForumSettings,
    Member,
    Post,
    PostImage,
    PostRevision,
    PostState,
    Report,
    Topic,
    TopicKind,
    Vote,
)
from sportello.forum.queries import forget_unanswered_count
from sportello.forum.search import index_topic
from sportello.kb.models import LANGUAGES, ArticleTranslation
from sportello.kb.render import render_body
from sportello.tickets.access import require_admin
from sportello.tickets.models import Channel, Ticket

log = logging.getLogger("sportello.forum")

MAX_TITLE = 200
MAX_BODY = 50_000  # characters of Markdown in one post
LINK_REL = "nofollow ugc noopener noreferrer"  # links written by visitors earn no search ranking
REPLY_MAIL = "forum.reply"  # the outbox kind of "a new reply in a topic you follow" (forum/tasks.py)
UNSUBSCRIBE_SALT = "sportello.forum.unsubscribe"
REPLIES_PER_PAGE = 50  # a topic's page: its question, then this many replies
# How long authors may edit their own posts: Discourse's default for new members
# (post_edit_time_limit, 86,400 minutes); moderators edit at any time. Each edit keeps a revision.
AUTHOR_EDIT_DAYS = 60


# --- Categories -----------------------------------------------------------------------------------


def create_category(
    *, language: str, name: str, slug: str = "", description: str = "", position: int = 100
) -> ForumCategory:
    if language not in LANGUAGES:
        raise InvalidInput(f"Unknown language {language!r}", field="language")
    name = " ".join(name.split())[:120]
    if not name:
        raise InvalidInput("A category needs a name", field="name")
    slug = slugify(slug or name, allow_unicode=True)[:80] or "category"
    try:
        with transaction.atomic():
            return ForumCategory.objects.create(
                language=language, name=name, slug=slug, description=description.strip()[:300], position=position
            )
    except IntegrityError as err:
        raise InvalidInput(f"The address {slug!r} is taken in this language", field="slug") from err


# --- Writing --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TopicText:
    kind: str
    title: str
    body: str


def _check_rate(user: User, client_ip: str) -> None:
    """Members' posts per account and client address in a fixed window; agents are not counted."""
    if is_forum_agent(user):
        return
    limit, window = settings.FORUM_POST_RATE_LIMIT, settings.FORUM_POST_RATE_WINDOW
    if not count_request("forum:post", client_ip=client_ip, email=f"user-{user.pk}", limit=limit, window=window):
        log.info("forum: post rate limit reached by user %s (ip %s)", user.pk, client_ip or "unknown")
        raise RateLimited(_("You are posting too fast. Please wait a few minutes and try again."), retry_after=window)


def _body(body: str, *, image: bool = False) -> tuple[str, str]:
    """The post's Markdown and its sanitized HTML; `image`: a picture comes with it (the text may
    then be empty)."""
    source = (body or "").replace("\x00", "").strip()
    if not source and not image:
        raise InvalidInput(_("Write something first."), field="body")
    if len(source) > MAX_BODY:
        raise InvalidInput(_("A post may hold at most %(n)d characters.") % {"n": MAX_BODY}, field="body")
    html = _our_images_only(render_body(source, link_rel=LINK_REL))
    if not html.strip() and not image:
        raise InvalidInput(_("Write something first."), field="body")
    return source, html


def _our_images_only(html: str) -> str:
    """Drop the address of every picture not uploaded into the forum: a picture from elsewhere
    would tell its server who reads the topic (a tracking pixel), and could change after approval."""
    import nh3

    from sportello.core.html import ALLOWED_TAGS
    from sportello.kb.render import ATTRIBUTES, URL_SCHEMES

    def keep(tag: str, attribute: str, value: str) -> str | None:
        if tag == "img" and attribute == "src" and not value.startswith(IMAGE_URL_PREFIX):
            return None
        return value

    if "<img" not in html:
        return html
    return nh3.clean(
        html, tags=ALLOWED_TAGS, attributes=ATTRIBUTES, url_schemes=URL_SCHEMES, link_rel=LINK_REL,
        attribute_filter=keep,
    )  # fmt: skip


# --- Images ---------------------------------------------------------------------------------------

MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_IMAGE_PIXELS = 25_000_000  # 5000 by 5000: more is a decompression bomb, not a screenshot
IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}


@dataclass(frozen=True)
class CheckedImage:
    name: str
    content_type: str
    width: int
    height: int
    data: bytes  # the picture re-encoded without its metadata (_without_metadata): what is stored


def check_image(upload: UploadedFile) -> CheckedImage:
    """A picture for a post, proven by decoding it with Pillow, never by its name or the browser's
    word: PNG, JPEG, GIF or WebP, at most MAX_IMAGE_BYTES and MAX_IMAGE_PIXELS. SVG (it can hold
    script), HTML or anything else renamed .png, and decompression bombs are refused, saying why."""
    from PIL import Image, UnidentifiedImageError

    name = (upload.name or "image").rsplit("/", 1)[-1].rsplit("\\", 1)[-1].strip()[:150] or "image"
    if not upload.size:
        raise InvalidInput(_("“%(name)s” is empty.") % {"name": name}, field="image")
    if upload.size > MAX_IMAGE_BYTES:
        raise TooLarge(
            _("“%(name)s” is too large (%(size)s); a picture may have %(limit)s at most.")
            % {"name": name, "size": filesizeformat(upload.size), "limit": filesizeformat(MAX_IMAGE_BYTES)},
            field="image",
        )
    upload.seek(0)
    data = upload.read()
    upload.seek(0)
    too_many = _("“%(name)s” has too many pixels; a picture may have %(n)s million at most.") % {
        "name": name, "n": MAX_IMAGE_PIXELS // 1_000_000,
    }  # fmt: skip
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                kind, (width, height) = image.format or "", image.size
                if kind in IMAGE_TYPES and width * height > MAX_IMAGE_PIXELS:
                    raise TooLarge(too_many, field="image")
                image.verify()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise TooLarge(too_many, field="image") from err
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        kind = ""
    if kind not in IMAGE_TYPES:
        raise InvalidInput(_("“%(name)s” is not a PNG, JPEG, GIF or WebP picture.") % {"name": name}, field="image")
    clean, width, height = _without_metadata(data, kind)
    return CheckedImage(name=name, content_type=IMAGE_TYPES[kind], width=width, height=height, data=clean)


def _without_metadata(data: bytes, kind: str) -> tuple[bytes, int, int]:
    """The picture re-encoded with none of what a camera or an editor wrote beside the pixels:
    EXIF (a phone's GPS position, the device, the time), XMP, comments, PNG text chunks. Only the
    colour profile stays (without it colours shift). Re-encoding rather than deleting known
    blocks: what Pillow does not write cannot leak, whatever block it came in.

    A JPEG is turned upright first as its EXIF orientation said (that tag goes with the rest)
    and otherwise keeps its own quantization tables (`quality="keep"`), so it loses no more
    detail than a re-save must; an animated GIF or WebP keeps its frames and their timing.
    Returns the bytes, the width and the height (swapped when turned)."""
    from PIL import Image, ImageOps

    blank: dict[str, Any] = {"exif": b"", "xmp": b"", "comment": b""}
    out = io.BytesIO()
    with Image.open(io.BytesIO(data)) as image:
        profile = image.info.get("icc_profile")
        if profile:
            blank["icc_profile"] = profile
        if getattr(image, "n_frames", 1) > 1:
            image.save(out, kind, save_all=True, **blank)
            width, height = image.size
        else:
            turned = image.getexif().get(0x0112, 1) != 1
            if kind == "JPEG" and not turned:
                image.save(out, "JPEG", quality="keep", subsampling="keep", **blank)
                width, height = image.size
            else:
                # A copy only when turning: a 25-million-pixel picture is 75 MB decoded.
                upright = ImageOps.exif_transpose(image) if turned else image
                if "transparency" in image.info:
                    blank["transparency"] = image.info["transparency"]
                upright.info = {}
                extra = {"quality": 90} if kind in ("JPEG", "WEBP") else {}
                upright.save(out, kind, **blank, **extra)
                width, height = upright.size
    return out.getvalue(), width, height


def _attach_image(post: Post, image: CheckedImage, uploader: User, stored: list[str]) -> None:
    """Keep the picture and show it under the post's text (inside the post's transaction). The
    file's name goes into `stored`, for `_files_removed_on_failure` to delete if the post's
    transaction does not commit."""
    from django.core.files.base import ContentFile

    item = PostImage(
        post=post, filename=image.name, content_type=image.content_type, size=len(image.data),
        width=image.width, height=image.height, uploaded_by=uploader,
    )  # fmt: skip
    item.file.save(image.name, ContentFile(image.data), save=False)
    stored.append(str(item.file.name))
    item.save()
    alt = " ".join(image.name.rsplit(".", 1)[0].replace("[", " ").replace("]", " ").split())[:100] or "image"
    post.body = (post.body + "\n\n" if post.body else "") + f"![{alt}]({item.url()})"
    post.body_html = _body(post.body, image=True)[1]
    Post.objects.filter(pk=post.pk).update(body=post.body, body_html=post.body_html)


@contextmanager
def _files_removed_on_failure() -> Iterator[list[str]]:
    """Around a post's transaction: the names of the files written inside it are deleted when it
    raises (a rollback), so no picture outlives the post that failed to save. A file is written
    before the row that names it, so a commit never leaves a row without its file either."""
    stored: list[str] = []
    try:
        yield stored
    except BaseException:
        for name in stored:
            try:
                PostImage.file.field.storage.delete(name)
            except OSError:
                log.warning("forum: could not delete %s after a rollback", name)
        raise


def _delete_files_on_commit(names: list[str]) -> None:
    """Delete replaced or removed pictures' files once the change is committed (a rollback keeps them)."""
    storage = PostImage.file.field.storage

    def delete() -> None:
        for name in names:
            storage.delete(name)

    if names:
        transaction.on_commit(delete)


def _first_state(user: User) -> str:
    """Published for agents and trusted members; held for approval for everyone else."""
    if is_forum_agent(user) or Member.objects.filter(user=user, trusted=True).exists():
        return PostState.PUBLISHED
    return PostState.HELD


def start_topic(
    user: User, category: ForumCategory, text: TopicText, *, client_ip: str = "", image: UploadedFile | None = None
) -> Topic:
    """A new topic with its opening post (and its picture, shown under the text); held for approval
    when the author is a new member."""
    require_forum_writer(user)
    if text.kind not in TopicKind.values:
        raise InvalidInput(f"Unknown kind {text.kind!r}", field="kind")
    title = " ".join((text.title or "").replace("\x00", "").split())[:MAX_TITLE]
    if not title:
        raise InvalidInput(_("A topic needs a title."), field="title")
    picture = check_image(image) if image is not None else None
    source, html = _body(text.body, image=picture is not None)
    _check_rate(user, client_ip)
    now = timezone.now()
    state = _first_state(user)
    with _files_removed_on_failure() as stored, transaction.atomic():
        topic = Topic.objects.create(
            category=category, kind=text.kind, title=title, author=user, created_at=now, last_activity_at=now,
            slug=slugify(title, allow_unicode=True)[:200] or "topic", public=state == PostState.PUBLISHED,
        )  # fmt: skip
        opening = Post.objects.create(
            topic=topic, author=user, opening=True, body=source, body_html=html, by_agent=is_forum_agent(user),
            state=state, created_at=now,
        )  # fmt: skip
        if picture is not None:
            _attach_image(opening, picture, user, stored)
        Follow.objects.create(topic=topic, user=user, created_at=now)
        index_topic(topic.pk)
    return topic


def reply_to_topic(
    user: User, topic: Topic, body: str, *, client_ip: str = "", image: UploadedFile | None = None
) -> Post:
    """A reply; followers are mailed once it is published (at once, or when an agent approves it)."""
    require_forum_writer(user)
    agent = is_forum_agent(user)
    if topic.locked and not agent:
        raise Forbidden(_("This topic is locked: it takes no more replies."))
    if topic.hidden and not agent:
        raise NotFound("No such topic")
    picture = check_image(image) if image is not None else None
    source, html = _body(body, image=picture is not None)
    _check_rate(user, client_ip)
    now = timezone.now()
    with _files_removed_on_failure() as stored, transaction.atomic():
        post = Post.objects.create(
            topic=topic, author=user, body=source, body_html=html, by_agent=agent, state=_first_state(user),
            created_at=now,
        )  # fmt: skip
        if picture is not None:
            _attach_image(post, picture, user, stored)
        Follow.objects.get_or_create(topic=topic, user=user, defaults={"created_at": now})
        if post.is_published:
            _published(post, now)
    return post


def _refresh_public(topic_id: int) -> None:
    """Keep `Topic.public` true to what the public may see: not hidden, the opening post published."""
    opening = Post.objects.filter(topic=topic_id, opening=True, state=PostState.PUBLISHED)
    forget_unanswered_count()
    Topic.objects.filter(pk=topic_id).update(public=False)
    Topic.objects.filter(pk=topic_id, hidden=False).filter(Exists(opening)).update(public=True)
    index_topic(topic_id)


def _published(post: Post, now: object) -> None:
    """A reply became visible: count it, bump the topic, mail its followers (not its author)."""
    if post.opening:
        _refresh_public(post.topic_id)
        return
    Topic.objects.filter(pk=post.topic_id).update(reply_count=F("reply_count") + 1, last_activity_at=now)
    index_topic(post.topic_id)
    forget_unanswered_count()  # an answer takes the topic off the inbox's "Unanswered forum topics"
    followers = list(
        Follow.objects.filter(topic=post.topic_id).exclude(user=post.author_id).values_list("user", flat=True)
    )
    if followers:
        outbox.put_keyed(
            REPLY_MAIL,
            {f"{REPLY_MAIL}:{post.pk}:{user_id}": {"post": post.pk, "user": user_id} for user_id in followers},
        )


# --- Editing -----------------------------------------------------------------------------------------


def may_edit(user: User, post: Post, *, now: datetime | None = None) -> bool:
    """Agents edit any post; a member their own, unless hidden, in a locked topic or too old."""
    if is_forum_agent(user):
        return True
    return (
        user.is_authenticated
        and post.author_id == user.pk
        and post.state != PostState.HIDDEN
        and not post.topic.locked
        and (now or timezone.now()) - post.created_at <= timedelta(days=AUTHOR_EDIT_DAYS)
    )


def require_may_edit(user: User, post: Post) -> None:
    """`may_edit`, refusing with the reason."""
    if is_forum_agent(user):
        return
    require_forum_writer(user)
    if post.author_id != user.pk or post.state == PostState.HIDDEN:
        raise Forbidden(_("You can only edit your own posts."))
    if post.topic.locked:
        raise Forbidden(_("This topic is locked: it takes no more replies."))
    if not may_edit(user, post):
        raise Forbidden(_("Posts can be edited for %(n)d days after they were written.") % {"n": AUTHOR_EDIT_DAYS})


def text_without_pictures(post: Post, body: str | None = None) -> str:
    """The post's text (or `body`) without the lines that show its uploaded pictures: what the
    edit form shows, the pictures being replaced or removed with their own fields."""
    ids = "|".join(str(pk) for pk in post.images.values_list("pk", flat=True))
    text = post.body if body is None else body
    if not ids:
        return text
    shown = re.compile(r"\n*!\[[^\]\n]*\]\(" + re.escape(IMAGE_URL_PREFIX) + rf"(?:{ids})/[^)\s]*\)")
    return shown.sub("", text).strip()


def edit_post(
    user: User,
    post: Post,
    body: str | None,
    *,
    client_ip: str = "",
    image: UploadedFile | None = None,
    remove_image: bool = False,
) -> Post:
    """Replace a post's text, sanitized exactly as a new post's; the text it had is kept as a
    revision naming who edited it and when. An edit that changes nothing keeps no revision.

    The post's picture is kept unless `image` replaces it or `remove_image` takes it away; the
    old file is deleted once the edit is committed. `body` None keeps the text (the API may
    change only the picture); the lines showing the post's pictures are managed here, so a body
    given with or without them gives the same post."""
    require_may_edit(user, post)
    picture = check_image(image) if image is not None else None
    now = timezone.now()
    with _files_removed_on_failure() as stored, transaction.atomic():
        locked = Post.objects.select_for_update().get(pk=post.pk)
        old_images = list(PostImage.objects.filter(post=locked)) if picture is not None or remove_image else []
        replacing = picture is not None or bool(old_images)
        kept = [] if replacing else [f"![{alt}]({url})" for alt, url in _picture_lines(locked)]
        text = "\n\n".join(part for part in (text_without_pictures(locked, body).strip(), *kept) if part)
        source, html = _body(text, image=picture is not None)
        if locked.body == source and not replacing:
            return post
        _check_rate(user, client_ip)
        PostRevision.objects.create(
            post=locked, body=locked.body, body_html=locked.body_html, edited_by=user, edited_at=now
        )
        PostImage.objects.filter(pk__in=[item.pk for item in old_images]).delete()
        _delete_files_on_commit([item.file.name for item in old_images if item.file.name])
        Post.objects.filter(pk=post.pk).update(body=source, body_html=html, edited_at=now)
        locked.body, locked.body_html = source, html
        if picture is not None:
            _attach_image(locked, picture, user, stored)
        if locked.is_published:
            index_topic(post.topic_id)  # search reads the text as it is now
    post.body, post.body_html, post.edited_at = locked.body, locked.body_html, now
    return post


def _picture_lines(post: Post) -> list[tuple[str, str]]:
    """The (alt text, address) of each picture line in the post's text, in its order."""
    found = re.findall(r"!\[([^\]\n]*)\]\((" + re.escape(IMAGE_URL_PREFIX) + r"(\d+)/[^)\s]*)\)", post.body)
    ids = set(post.images.values_list("pk", flat=True))
    return [(alt, url) for alt, url, pk in found if int(pk) in ids]


# --- Votes, follows, solutions, reports --------------------------------------------------------------


def vote_for_post(user: User, post: Post, *, up: bool = True) -> Post:
    """Add (or with `up=False` take back) one's vote for a post; one vote per member and post."""
    require_forum_writer(user)
    if post.author_id == user.pk:
        raise Forbidden(_("You cannot vote for your own post."))
    if not post.is_published:
        raise InvalidInput(_("Only published posts take votes."))
    with transaction.atomic():
        if up:
            change = 1 if Vote.objects.get_or_create(post=post, user=user)[1] else 0
        else:
            change = -Vote.objects.filter(post=post, user=user).delete()[0]
        if change:
            Post.objects.filter(pk=post.pk).update(votes=F("votes") + change)
    post.refresh_from_db(fields=["votes"])
    return post


def has_voted(user: User, post_ids: list[int]) -> set[int]:
    if not user.is_authenticated:
        return set()
    return set(Vote.objects.filter(user=user, post__in=post_ids).values_list("post", flat=True))


def follow_topic(user: User, topic: Topic) -> None:
    require_forum_writer(user)
    Follow.objects.get_or_create(topic=topic, user=user)


def unfollow_topic(user: User, topic: Topic) -> None:
    Follow.objects.filter(topic=topic, user=user).delete()


def unsubscribe_token(follow: Follow) -> str:
    """The signed token of a reply mail's unsubscribe link: names the topic and the follower."""
    return signing.dumps({"t": follow.topic_id, "u": follow.user_id}, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe(token: str) -> Topic | None:
    """Stop the mails the token's link came with; the topic, or None for a token that is not ours."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
        topic_id, user_id = int(data["t"]), int(data["u"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    Follow.objects.filter(topic=topic_id, user=user_id).delete()
    return Topic.objects.filter(pk=topic_id).first()


def mark_solution(user: User, post: Post) -> Topic:
    """The topic's author (or an agent) says this reply solved it; another mark replaces it."""
    topic = post.topic
    if topic.author_id != user.pk and not is_forum_agent(user):
        raise Forbidden(_("Only the person who asked can mark the answer."))
    if post.opening or not post.is_published:
        raise InvalidInput(_("Only a published reply can be the answer."))
    Topic.objects.filter(pk=topic.pk).update(solution=post)
    forget_unanswered_count()
    topic.solution = post
    return topic


def unmark_solution(user: User, topic: Topic) -> Topic:
    if topic.author_id != user.pk and not is_forum_agent(user):
        raise Forbidden(_("Only the person who asked can mark the answer."))
    Topic.objects.filter(pk=topic.pk).update(solution=None)
    forget_unanswered_count()
    topic.solution = None
    return topic


def report_post(user: User, post: Post, reason: str = "") -> Report:
    """A signed-in member flags a post for the moderators; a second report by them changes nothing."""
    require_forum_writer(user)
    report, _new = Report.objects.get_or_create(
        post=post, reporter=user, defaults={"reason": " ".join(reason.split())[:300]}
    )
    return report


# --- Moderation (agents) ------------------------------------------------------------------------------


def _moderated(post: Post, agent: User, state: str) -> None:
    now = timezone.now()
    Post.objects.filter(pk=post.pk).update(state=state, moderated_by=agent, moderated_at=now)
    forget_unanswered_count()
    post.state, post.moderated_by, post.moderated_at = state, agent, now


def approve_post(agent: User, post: Post) -> Post:
    """Publish a held post; its author is trusted from now on (their next posts appear at once)."""
    require_forum_agent(agent)
    with transaction.atomic():
        locked = Post.objects.select_for_update().get(pk=post.pk)
        if locked.state != PostState.HELD:
            raise Conflict(_("This post is not waiting for approval."))
        _moderated(post, agent, PostState.PUBLISHED)
        Member.objects.update_or_create(user=post.author, defaults={"trusted": True})
        _published(post, timezone.now())
    return post


def hide_post(agent: User, post: Post) -> Post:
    """Take a post off the forum (the opening post hides its topic); its open reports are resolved."""
    require_forum_agent(agent)
    with transaction.atomic():
        locked = Post.objects.select_for_update().get(pk=post.pk)
        if locked.state == PostState.PUBLISHED and not post.opening:
            Topic.objects.filter(pk=post.topic_id).update(reply_count=F("reply_count") - 1)
        _moderated(post, agent, PostState.HIDDEN)
        if post.opening:
            Topic.objects.filter(pk=post.topic_id).update(hidden=True, public=False)
        Topic.objects.filter(pk=post.topic_id, solution=post).update(solution=None)
        Report.objects.filter(post=post, resolved_at__isnull=True).update(resolved_at=timezone.now())
        index_topic(post.topic_id)
    return post


def show_post(agent: User, post: Post) -> Post:
    """Put a hidden post back."""
    require_forum_agent(agent)
    with transaction.atomic():
        locked = Post.objects.select_for_update().get(pk=post.pk)
        if locked.state != PostState.HIDDEN:
            raise Conflict(_("This post is not hidden."))
        _moderated(post, agent, PostState.PUBLISHED)
        if post.opening:
            Topic.objects.filter(pk=post.topic_id).update(hidden=False)
            _refresh_public(post.topic_id)
        else:
            Topic.objects.filter(pk=post.topic_id).update(reply_count=F("reply_count") + 1)
            index_topic(post.topic_id)
    return post


def dismiss_reports(agent: User, post: Post) -> int:
    require_forum_agent(agent)
    return Report.objects.filter(post=post, resolved_at__isnull=True).update(resolved_at=timezone.now())


def ban_member(agent: User, user: User, reason: str = "") -> Member:
    """The member may read but no longer write; their posts waiting for approval are hidden."""
    require_forum_agent(agent)
    if user.role != Role.CUSTOMER:
        raise InvalidInput(_("Only customers can be banned from the forum."))
    now = timezone.now()
    with transaction.atomic():
        member, _new = Member.objects.update_or_create(
            user=user, defaults={"banned_at": now, "banned_by": agent, "ban_reason": reason[:300], "trusted": False}
        )
        Post.objects.filter(author=user, state=PostState.HELD).update(
            state=PostState.HIDDEN, moderated_by=agent, moderated_at=now
        )
        forget_unanswered_count()
    return member


def unban_member(agent: User, user: User) -> None:
    require_forum_agent(agent)
    for member in Member.objects.filter(user=user):  # saved, not updated: the audit trail records it
        member.banned_at, member.banned_by, member.ban_reason = None, None, ""
        member.save(update_fields=["banned_at", "banned_by", "ban_reason"])


def pin_topic(agent: User, topic: Topic, *, pinned: bool = True) -> Topic:
    require_forum_agent(agent)
    Topic.objects.filter(pk=topic.pk).update(pinned=pinned)
    topic.pinned = pinned
    return topic


def lock_topic(agent: User, topic: Topic, *, locked: bool = True) -> Topic:
    require_forum_agent(agent)
    Topic.objects.filter(pk=topic.pk).update(locked=locked)
    forget_unanswered_count()
    topic.locked = locked
    return topic


def move_topic(agent: User, topic: Topic, category: ForumCategory) -> Topic:
    """Into another category (of any language: the topic's address follows its category's)."""
    require_forum_agent(agent)
    with transaction.atomic():
        Topic.objects.filter(pk=topic.pk).update(category=category)
        index_topic(topic.pk)  # its language may be another
    topic.category = category
    return topic


def merge_topics(agent: User, source: Topic, target: Topic) -> Topic:
    """Move every post of `source` into `target` (its question becomes a reply there), with its
    followers; `source` is hidden and its address redirects to `target`.

    1. Lock both topics (in id order, so two merges cannot deadlock) and refuse a merge into
       itself, into a merged topic, or of a merged one.
    2. Move the posts and the follows (a follower of both keeps one follow).
    3. Recount the target's published replies and take the later last activity.
    """
    require_forum_agent(agent)
    if source.pk == target.pk:
        raise InvalidInput(_("A topic cannot be merged into itself."))
    with transaction.atomic():
        locked = {t.pk: t for t in Topic.objects.select_for_update().filter(pk__in=sorted([source.pk, target.pk]))}
        if len(locked) != 2 or any(t.merged_into_id for t in locked.values()):
            raise Conflict(_("One of these topics was merged already."))
        source_posts = Post.objects.filter(topic=source.pk)
        source_posts.update(topic=target.pk, opening=False)
        followers = Follow.objects.filter(topic=target.pk).values_list("user", flat=True)
        Follow.objects.filter(topic=source.pk).exclude(user__in=followers).update(topic=target.pk)
        Follow.objects.filter(topic=source.pk).delete()
        replies = Post.objects.filter(topic=target.pk, opening=False, state=PostState.PUBLISHED).count()
        last = max(locked[source.pk].last_activity_at, locked[target.pk].last_activity_at)
        Topic.objects.filter(pk=target.pk).update(reply_count=replies, last_activity_at=last)
        Topic.objects.filter(pk=source.pk).update(
            merged_into=target.pk, hidden=True, public=False, solution=None, reply_count=0
        )
        index_topic(source.pk)
        index_topic(target.pk)
        forget_unanswered_count()
    target.refresh_from_db()
    return target


# --- Tied to the desk -------------------------------------------------------------------------------


def turn_post_into_ticket(agent: User, post: Post) -> Ticket:
    """A ticket from a member's post: the author is its customer, the post its first entry.

    The ticket comes through the one intake path (channel "portal", taken down by the agent, so the
    entry says who recorded it), its entry's metadata and an internal note link to the post, and
    the post keeps the ticket (agents see its number, the author a link to it in the portal).
    """
    from sportello.tickets.intake import Inbound, ingest
    from sportello.tickets.services import add_note

    require_forum_agent(agent)
    if post.by_agent or post.author.role != Role.CUSTOMER:
        raise InvalidInput(_("Only a customer's post can become a ticket."))
    customer = Customer.objects.filter(user=post.author_id).first()
    email = customer.primary_email if customer else ""
    if customer is None or not email:
        raise InvalidInput(_("The author has no customer file with an email address."))
    url = settings.SITE_URL + post_path(post)
    with transaction.atomic():
        locked = Post.objects.select_for_update().get(pk=post.pk)
        if locked.ticket_id:
            raise Conflict(_("This post is a ticket already."), ticket=locked.ticket.number if locked.ticket else None)
        result = ingest(
            Inbound(
                channel=Channel.PORTAL, sender=Sender(name=customer.name, email=email), subject=post.topic.title,
                body_text=post.body, body_html=post.body_html, language=post.topic.category.language,
                recorded_by=agent, metadata={"origin": "forum", "forum_post": post.pk, "forum_url": url},
            )
        )  # fmt: skip
        Post.objects.filter(pk=post.pk).update(ticket=result.ticket)
        post.ticket = result.ticket
        add_note(
            result.ticket, agent,
            body_text=_("From the forum: %(url)s") % {"url": url},
            body_html=f'<p>{escape(_("From the forum:"))} <a href="{escape(url)}">{escape(post.topic.title)}</a></p>',
        )  # fmt: skip
    return result.ticket


def page_of(post: Post, posts: QuerySet[Post] | None = None) -> int:
    """The page of its topic a post is on: the question and page 1's replies are on page 1.
    `posts` are the posts the reader sees (access.readable_posts); by default the public's."""
    if post.opening:
        return 1
    if posts is None:
        posts = Post.objects.filter(topic=post.topic_id, state=PostState.PUBLISHED)
    before = (
        posts.filter(opening=False)
        .filter(Q(created_at__lt=post.created_at) | Q(created_at=post.created_at, id__lt=post.pk))
        .count()
    )
    return before // REPLIES_PER_PAGE + 1


def post_path(post: Post, posts: QuerySet[Post] | None = None, *, done: str = "") -> str:
    """A post's address: its topic's page that shows it (`?page=n` past the first), and its anchor."""
    page = page_of(post, posts)
    query = "&".join(q for q in (f"page={page}" if page > 1 else "", f"done={done}" if done else "") if q)
    return f"{post.topic.public_path()}{'?' + query if query else ''}#post-{post.pk}"


FROM_FORUM_SLUG = "from-the-forum"


def draft_article_from_topic(agent: User, topic: Topic) -> ArticleTranslation:
    """A knowledge-base draft from a topic: its question, and the answer that solved it (or else
    the team's replies), in the topic's language, in the "From the forum" category (made on
    first use). It stays a draft: nothing new is public until an author publishes it. Once.
    """
    from sportello.kb import services as kb
    from sportello.kb.models import Category

    require_forum_agent(agent)
    posts = list(topic.posts.filter(state=PostState.PUBLISHED).order_by("created_at", "id"))
    question = next((p for p in posts if p.opening), None)
    answers = [p for p in posts if p.pk == topic.solution_id] or [p for p in posts if p.by_agent and not p.opening]
    if question is None or not answers:
        raise InvalidInput(_("A topic needs a published question and an answer to become an article."))
    language = topic.category.language
    slug = slugify(topic.title, allow_unicode=True)[:180] or "article"
    if ArticleTranslation.objects.filter(language=language, slug=slug).exists():
        slug = f"{slug}-{topic.pk}"
    body = "\n\n".join([question.body, *(answer.body for answer in answers)])
    with transaction.atomic():
        locked = Topic.objects.select_for_update().get(pk=topic.pk)
        if locked.article_id:
            raise Conflict(_("An article was drafted from this topic already."), article=locked.article_id)
        category = Category.objects.filter(slug=FROM_FORUM_SLUG).first() or kb.create_category(
            name="From the forum", slug=FROM_FORUM_SLUG, position=1000
        )
        draft = kb.create_article(
            agent, category=category, text=kb.ArticleText(language=language, title=topic.title, body=body, slug=slug)
        )
        Topic.objects.filter(pk=topic.pk).update(article=draft.article_id)
        topic.article_id = draft.article_id
    return draft


# --- Deflection: a forum topic answered a customer who was about to send a request -----------------


def record_deflection(topic: Topic, *, source: str, query: str = "", session_key: str = "") -> None:
    """A customer opened a suggested topic from the web form or the portal's new-request form and
    said it solved their problem: counted in the knowledge base's deflections (kb.Deflection,
    `count_deflections`, the reports), naming the topic instead of an article. Once per topic and
    visitor session (the view keeps the topics already counted in the session)."""
    from sportello.kb.models import Deflection, DeflectionMethod, DeflectionSource

    if not topic.public:
        raise NotFound("No such topic")
    if source not in (DeflectionSource.WEBFORM, DeflectionSource.PORTAL):
        raise InvalidInput(f"Unknown source {source!r}", field="source")
    Deflection.objects.create(
        article=None, topic=topic, source=source, method=DeflectionMethod.FORUM, query=" ".join(query.split())[:255],
        language=topic.category.language, session_key=session_key[:64],
    )  # fmt: skip


# --- Privacy (privacy/erasure.py and privacy/exporting.py call these) ------------------------------

ERASED_TEXT = "[erased]"


def forget_members(user_ids: list[int]) -> dict[str, int]:
    """Erase what the forum holds of these people (GDPR art. 17), keeping every count.

    Their posts' text is replaced by "[erased]" (the posts stay, with their state and votes, so
    the topics' reply counts and the threads others wrote in stay whole) and their posts' earlier
    texts (revisions) are deleted; the titles of topics
    they opened go the same way; their votes, follows, reports' reasons and waiting reply mails
    go; their member record keeps no ban reason. Their account itself is emptied by the caller,
    so the forum then names them "Member n".
    """
    from sportello.core.models import OutboxMessage

    if not user_ids:
        return {"forum_posts": 0, "forum_topics": 0, "forum_images": 0}
    posts = Post.objects.filter(author__in=user_ids)
    touched = set(posts.values_list("topic", flat=True)) | set(
        Topic.objects.filter(author__in=user_ids).values_list("pk", flat=True)
    )
    counts = {"forum_posts": posts.update(body=ERASED_TEXT, body_html=f"<p>{ERASED_TEXT}</p>")}
    PostRevision.objects.filter(post__author__in=user_ids).delete()  # their earlier texts go too
    images = PostImage.objects.filter(Q(uploaded_by__in=user_ids) | Q(post__author__in=user_ids))
    stored = [(item.file.storage, item.file.name) for item in images if item.file.name]
    counts["forum_images"] = images.delete()[0]
    transaction.on_commit(lambda: _delete_files(stored))
    counts["forum_topics"] = Topic.objects.filter(author__in=user_ids).update(title=ERASED_TEXT, slug="erased")
    for topic_id in sorted(touched):  # search finds nothing of theirs any more
        index_topic(topic_id)
    Vote.objects.filter(user__in=user_ids).delete()
    Follow.objects.filter(user__in=user_ids).delete()
    Report.objects.filter(reporter__in=user_ids).update(reason="")
    Member.objects.filter(user__in=user_ids).update(ban_reason="")
    OutboxMessage.objects.filter(kind=REPLY_MAIL, payload__user__in=user_ids).delete()
    return counts


def member_images(user: User) -> QuerySet[PostImage]:
    """The pictures a person put into posts (the export archive holds the files, privacy/exporting.py)."""
    return PostImage.objects.filter(uploaded_by=user).select_related("post__topic__category").order_by("id")


def export_image_name(item: PostImage) -> str:
    """The file's name inside the export archive."""
    return f"forum/{item.pk}-{item.filename}"


def member_document(user: User) -> dict[str, list[dict[str, object]]]:
    """What the forum holds of one person, for their export archive (GDPR art. 15 and 20)."""
    posts = (
        Post.objects.filter(author=user)
        .select_related("topic__category")
        .prefetch_related("revisions")
        .order_by("created_at", "id")
    )
    return {
        "posts": [
            {
                "topic": post.topic.title,
                "url": settings.SITE_URL + post_path(post),
                "language": post.topic.category.language,
                "opening": post.opening,
                "state": post.state,
                "votes": post.votes,
                "created_at": post.created_at,
                "edited_at": post.edited_at,
                "body": post.body,
                "earlier_texts": [{"replaced_at": r.edited_at, "body": r.body} for r in post.revisions.all()],
            }
            for post in posts
        ],
        "images": [
            {
                "file": export_image_name(item),
                "filename": item.filename,
                "post_url": settings.SITE_URL + post_path(item.post),
                "content_type": item.content_type,
                "size": item.size,
                "created_at": item.created_at,
            }
            for item in member_images(user)
        ],
        "follows": [
            {"topic": f.topic.title, "created_at": f.created_at}
            for f in Follow.objects.filter(user=user).select_related("topic").order_by("created_at")
        ],
        "votes": [
            {"post_url": settings.SITE_URL + post_path(v.post), "created_at": v.created_at}
            for v in Vote.objects.filter(user=user).select_related("post__topic__category").order_by("created_at")
        ],
    }


# --- Settings (admins) -------------------------------------------------------------------------------

MAX_UNANSWERED_HOURS = 24 * 90


def save_forum_settings(admin: User, *, unanswered_after_hours: int) -> ForumSettings:
    """Change the forum's policy; saved (not updated) so that the audit trail records the change."""
    require_admin(admin)
    if not 1 <= unanswered_after_hours <= MAX_UNANSWERED_HOURS:
        raise InvalidInput(
            _("Between 1 and %(n)d hours.") % {"n": MAX_UNANSWERED_HOURS}, field="unanswered_after_hours"
        )
    with transaction.atomic():
        row = ForumSettings.objects.select_for_update().filter(pk=1).first() or ForumSettings(pk=1)
        row.unanswered_after_hours = unanswered_after_hours
        row.updated_at = timezone.now()
        row.save()
        forget_unanswered_count()
    return row


def _delete_files(stored: list[tuple[Any, str]]) -> None:
    """Remove stored files (after the rows pointing to them are gone, on commit)."""
    for storage, name in stored:
        storage.delete(name)
