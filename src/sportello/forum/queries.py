"""Forum lists for the agents' inbox: public topics nobody has answered yet.

A topic is *unanswered* while it is public (not hidden, not merged, its question published), not
locked, not marked solved, and has no published reply from anyone but its author: a member's
answer counts as much as the team's (the forum exists so customers answer each other), while the
author's own follow-ups ("any news?") do not. It is listed once it is older than the admins' setting
(`ForumSettings.unanswered_after_hours`, 24 by default). A reply held for approval is not an answer
yet; approving it is.

The inbox shows the count on every page, so it is cached (`unanswered_count`): the services forget
it after every write that can change it (`forget_unanswered_count`), and it expires after
UNANSWERED_COUNT_TTL for topics that merely grew old enough.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.cache import cache
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from sportello.forum.models import ForumSettings, Post, PostState, Topic

UNANSWERED_COUNT_KEY = "sportello:forum-unanswered-count"
UNANSWERED_COUNT_TTL = 60  # seconds: topics crossing the age limit show within a minute


def unanswered_topics(hours: int | None = None) -> QuerySet[Topic]:
    """Unanswered public topics older than `hours` (the setting by default), longest waiting first."""
    if hours is None:
        hours = ForumSettings.current().unanswered_after_hours
    answers = Post.objects.filter(topic=OuterRef("pk"), opening=False, state=PostState.PUBLISHED).exclude(
        author=OuterRef("author")
    )
    return (
        Topic.objects.filter(public=True, merged_into__isnull=True, locked=False, solution__isnull=True)
        .filter(created_at__lte=timezone.now() - timedelta(hours=hours))
        .exclude(Exists(answers))
        .order_by("created_at", "id")
    )


def unanswered_count() -> int:
    """How many topics `unanswered_topics` lists, cached (no query on a warm cache)."""
    found: int | None = cache.get(UNANSWERED_COUNT_KEY)
    if found is None:
        found = unanswered_topics().count()
        cache.set(UNANSWERED_COUNT_KEY, found, UNANSWERED_COUNT_TTL)
    return found


def forget_unanswered_count() -> None:
    """Recount on the next inbox page, once the current transaction (if any) has committed."""
    transaction.on_commit(lambda: cache.delete(UNANSWERED_COUNT_KEY))
