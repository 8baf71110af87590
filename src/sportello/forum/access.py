"""The gates to the forum: who may read a topic, who may write, who may moderate.

The public reads published posts of topics that are not hidden; the author of a post held for
approval sees it too (marked as waiting); agents see everything. Whatever a reader may not see is
not found (404), so a hidden topic's address tells a stranger nothing. Writing needs a portal
customer (a customer account with a customer file) who is not banned, or an agent.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from sportello.accounts.models import Role, User
from sportello.core.errors import Forbidden, NotFound
from sportello.customers.models import Customer
from sportello.forum.models import ForumCategory, Member, Post, PostState, Topic


def is_forum_agent(user: User | None) -> bool:
    """Agents and admins moderate and reply with a badge; light agents read only."""
    return user is not None and user.is_authenticated and user.is_staff_member and user.can_reply


def require_forum_agent(user: User) -> None:
    if not user.is_authenticated or not user.is_staff_member:
        raise Forbidden("Agents only")
    if not user.can_reply:
        raise Forbidden("Light agents cannot moderate the forum")


def require_forum_writer(user: User) -> None:
    """A signed-in portal customer who is not banned, or an agent who may reply."""
    if is_forum_agent(user):
        return
    if not user.is_authenticated or user.role != Role.CUSTOMER or not user.is_active:
        raise Forbidden(_("Sign in to the portal to write in the forum."))
    if not Customer.objects.filter(user=user).exists():
        raise Forbidden(_("Sign in to the portal to write in the forum."))
    if Member.objects.filter(user=user, banned_at__isnull=False).exists():
        raise Forbidden(_("You can no longer write in the forum."))


def readable_topics(user: User | None, language: str = "") -> QuerySet[Topic]:
    """Topics the reader may open: for the public, not hidden and with a published opening post
    (`Topic.public`); a member's own topic held for approval too; every topic for agents."""
    topics = Topic.objects.all()
    if language:
        topics = topics.filter(category__language=language)
    if user is not None and user.is_authenticated and user.is_staff_member:
        return topics
    if user is not None and user.is_authenticated:
        return topics.filter(Q(public=True) | Q(author=user, hidden=False))  # one's own, held ones too
    return topics.filter(public=True)


def readable_posts(user: User | None, topic: Topic) -> QuerySet[Post]:
    """A topic's posts the reader may see, in order: published ones, one's own held ones; all for agents."""
    posts = topic.posts.all()
    if user is not None and user.is_authenticated and user.is_staff_member:
        return posts
    if user is not None and user.is_authenticated:
        return posts.filter(Q(state=PostState.PUBLISHED) | Q(state=PostState.HELD, author=user))
    return posts.filter(state=PostState.PUBLISHED)


def topic_for_reader(user: User | None, topic_id: int) -> Topic:
    topic = readable_topics(user).select_related("category", "author").filter(pk=topic_id).first()
    if topic is None:
        raise NotFound("No such topic")
    return topic


def post_for_reader(user: User | None, post_id: int) -> Post:
    """A post the reader may see and act on (vote, report, mark as the solution)."""
    post = Post.objects.select_related("topic__category", "author").filter(pk=post_id).first()
    if post is None:
        raise NotFound("No such post")
    topic_for_reader(user, post.topic_id)
    if not readable_posts(user, post.topic).filter(pk=post.pk).exists():
        raise NotFound("No such post")
    return post


def topic_for_agent(user: User, topic_id: int) -> Topic:
    require_forum_agent(user)
    topic = Topic.objects.select_related("category", "author").filter(pk=topic_id).first()
    if topic is None:
        raise NotFound(f"No topic {topic_id}")
    return topic


def post_for_agent(user: User, post_id: int) -> Post:
    require_forum_agent(user)
    post = Post.objects.select_related("topic__category", "author").filter(pk=post_id).first()
    if post is None:
        raise NotFound(f"No post {post_id}")
    return post


def category_in(language: str, slug: str) -> ForumCategory:
    found = ForumCategory.objects.filter(language=language, slug=slug).first()
    if found is None:
        raise NotFound("No such category")
    return found
