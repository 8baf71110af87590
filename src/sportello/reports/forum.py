"""The community forum in the report frame: topics, answers, who answered and how soon, deflections.

What is counted (docs/reports.md says the same):

- A **topic** counts from when it was opened, while the public reads it (`Topic.public`: not
  hidden, its question published) and it was not merged into another (its posts are counted in
  the topic it was merged into). Topics held for approval or hidden as spam are not counted.
- An **answer** is a published reply (not the question) in such a topic, counted when written; by
  agents when it carries the agent badge (`Post.by_agent`), else by the community.
- A topic opened in the period was **answered by the community** when its marked solution is a
  community post, **by agents** when the solution is an agent's; without a marked solution, by
  whoever wrote its first published reply from someone other than its author (the author's own
  follow-ups answer nothing: forum/queries.py's rule for unanswered topics). The shares are in
  percent of the topics opened in the period, so with the unanswered they make 100.
- **Time to first answer**: from a topic's opening to that first reply, for the topics opened in
  the period that have one; the median, exact (`metrics.percentile`), rounded to 0.1 s.
- **Deflections**: `kb.Deflection` rows that name a topic (a customer about to send a request on
  the web form or the portal opened a suggested topic and said it solved their problem), by when
  they were recorded. Rows written before the topic was kept (kb migration 0006) name none.

Topics and posts belong to no ticket: no filter of the frame applies, and the filters set are
listed in `extra["ignored_filters"]`, as on the self-service report. The answers and deflections
are grouped by day in SQL; the topics opened in the period come back one row each (a few thousand
a month on a busy forum), so the median is computed the same way on PostgreSQL and SQLite.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db.models import Count, DurationField, ExpressionWrapper, F, OuterRef, Subquery
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from sportello.accounts.models import User
from sportello.forum.models import ForumCategory, Post, PostState, Topic
from sportello.kb.models import Deflection, DeflectionSource
from sportello.reports import services
from sportello.reports.classic import ignored, set_filters
from sportello.reports.frame import Figure, ReportQuery, ReportResult, Series, Table, bucket_start, buckets, report
from sportello.reports.metrics import percentile
from sportello.reports.services import Period, TopicCount

COMMUNITY, AGENTS, UNANSWERED = "community", "agents", "unanswered"
# The request forms that suggest forum topics (forum/views.py FORM_SOURCES).
FORUM_SOURCES = (DeflectionSource.WEBFORM, DeflectionSource.PORTAL)
TOP_TOPICS = 10
SLUG = "forum"


@dataclass(frozen=True)
class OpenedTopic:
    """A topic opened in the period, and who answered it (COMMUNITY, AGENTS or UNANSWERED)."""

    pk: int
    day: date
    category: int
    answered_by: str
    first_answer_seconds: float | None


@dataclass
class ForumFigures:
    """The forum's numbers over one period."""

    topics: list[OpenedTopic]
    # day -> {"community": n, "agents": n} of answers written that day
    answers: dict[date, dict[str, int]] = field(default_factory=dict)
    # day -> {source: n} of deflections through a topic
    deflections: dict[date, dict[str, int]] = field(default_factory=dict)

    def answered(self, by: str) -> int:
        return sum(1 for topic in self.topics if topic.answered_by == by)

    def share(self, by: str) -> float | None:
        return _percent(self.answered(by), len(self.topics))

    @property
    def answer_count(self) -> int:
        return sum(sum(day.values()) for day in self.answers.values())

    @property
    def deflection_count(self) -> int:
        return sum(sum(day.values()) for day in self.deflections.values())

    @property
    def median_first_answer(self) -> float | None:
        return _median([t.first_answer_seconds for t in self.topics])


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _median(values: list[float | None]) -> float | None:
    found = percentile([v for v in values if v is not None], 0.5)
    return None if found is None else round(found, 1)


def counted_topics() -> Any:
    """The topics the forum's figures count: public, not merged into another."""
    return Topic.objects.filter(public=True, merged_into__isnull=True)


def opened_topics(period: Period) -> list[OpenedTopic]:
    """Each topic opened in the period, with its first answer from someone other than its author
    (two subqueries on the posts' thread index) and its marked solution (read by key afterwards:
    joined, PostgreSQL hashed every post of the forum to find a few hundred)."""
    answers = (
        Post.objects.filter(topic=OuterRef("pk"), opening=False, state=PostState.PUBLISHED)
        .exclude(author=OuterRef("author"))
        .order_by("created_at", "id")
    )
    # The day and the wait come computed: thousands of timestamps read and moved to the reader's
    # zone in Python cost more than the statement.
    rows = list(
        counted_topics()
        .filter(created_at__gte=period.since, created_at__lt=period.until)
        .annotate(
            day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()),
            wait=ExpressionWrapper(
                Subquery(answers.values("created_at")[:1]) - F("created_at"), output_field=DurationField()
            ),
            first_by_agent=Subquery(answers.values("by_agent")[:1]),
        )
        .values_list("pk", "day", "category_id", "wait", "first_by_agent", "solution_id")
        .order_by("created_at", "pk")
    )
    wanted = [row[5] for row in rows if row[5] is not None]
    solutions = {
        pk: by_agent
        for pk, by_agent in Post.objects.filter(pk__in=wanted, state=PostState.PUBLISHED, opening=False).values_list(
            "pk", "by_agent"
        )
    }
    found = []
    for pk, day, category, wait, first_by_agent, solution in rows:
        if solution in solutions:
            by = AGENTS if solutions[solution] else COMMUNITY
        elif wait is not None:
            by = AGENTS if first_by_agent else COMMUNITY
        else:
            by = UNANSWERED
        found.append(OpenedTopic(pk, day, category, by, wait.total_seconds() if wait is not None else None))
    return found


def forum_figures(period: Period) -> ForumFigures:
    zone = timezone.get_current_timezone()
    figures = ForumFigures(opened_topics(period))
    answers = (
        Post.objects.filter(
            opening=False,
            state=PostState.PUBLISHED,
            created_at__gte=period.since,
            created_at__lt=period.until,
            topic__in=counted_topics(),
        )
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .values_list("day", "by_agent")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for day, by_agent, n in answers:
        figures.answers.setdefault(day, {COMMUNITY: 0, AGENTS: 0})[AGENTS if by_agent else COMMUNITY] += n
    for day, source, n in (
        topic_deflections(period)
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .values_list("day", "source")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        figures.deflections.setdefault(day, {})[source] = n
    return figures


def topic_deflections(period: Period) -> Any:
    """Deflections through a forum topic recorded in the period (also the self-service report's)."""
    return Deflection.objects.filter(topic__isnull=False, created_at__gte=period.since, created_at__lt=period.until)


def top_topics(period: Period) -> list[TopicCount]:
    """The topics that deflected the most requests in the period, most first."""
    return services.top_topics(topic_deflections(period), TOP_TOPICS)


COLUMNS = [
    ("day", "Day"),
    ("topics", "Topics opened"),
    ("answered_community", "Answered by the community"),
    ("answered_agents", "Answered by agents"),
    ("unanswered", "Unanswered"),
    ("community_percent", "Community %"),
    ("agents_percent", "Agents %"),
    ("first_answer_median_seconds", "Median time to first answer (s)"),
    ("answers", "Answers"),
    ("answers_community", "Answers by the community"),
    ("answers_agents", "Answers by agents"),
    ("deflections", "Deflections"),
]


@report(SLUG, "Forum")
def forum(query: ReportQuery, reader: User) -> ReportResult:
    """Topics opened in the community forum, answers, the share answered by the community and by
    agents, the median time to a first answer, and the requests forum topics deflected."""
    period, granularity = query.period, query.granularity
    now, before = forum_figures(period), forum_figures(query.previous)
    starts = buckets(period, granularity)
    opened: dict[date, list[OpenedTopic]] = defaultdict(list)
    for topic in now.topics:
        opened[bucket_start(topic.day, granularity, period)].append(topic)
    answers: dict[date, dict[str, int]] = defaultdict(lambda: {COMMUNITY: 0, AGENTS: 0})
    for day, counts in now.answers.items():
        for by, n in counts.items():
            answers[bucket_start(day, granularity, period)][by] += n
    deflections: dict[date, int] = defaultdict(int)
    for day, counts in now.deflections.items():
        deflections[bucket_start(day, granularity, period)] += sum(counts.values())
    rows: list[dict[str, Any]] = []
    for start in starts:
        bucket = ForumFigures(opened.get(start, []))
        rows.append(
            {
                "day": start.isoformat(),
                "topics": len(bucket.topics),
                "answered_community": bucket.answered(COMMUNITY),
                "answered_agents": bucket.answered(AGENTS),
                "unanswered": bucket.answered(UNANSWERED),
                "community_percent": bucket.share(COMMUNITY),
                "agents_percent": bucket.share(AGENTS),
                "first_answer_median_seconds": bucket.median_first_answer,
                "answers": sum(answers[start].values()),
                "answers_community": answers[start][COMMUNITY],
                "answers_agents": answers[start][AGENTS],
                "deflections": deflections[start],
            }
        )
    result = ReportResult(
        slug=SLUG,
        title=_("Forum"),
        figures=[
            Figure("topics", _("Topics opened"), len(now.topics), len(before.topics)),
            Figure("answers", _("Answers"), now.answer_count, before.answer_count),
            Figure(
                "community_percent",
                _("Answered by the community"),
                now.share(COMMUNITY),
                before.share(COMMUNITY),
                unit="percent",
            ),
            Figure("agents_percent", _("Answered by agents"), now.share(AGENTS), before.share(AGENTS), unit="percent"),
            Figure(
                "first_answer_median",
                _("Median time to first answer"),
                now.median_first_answer,
                before.median_first_answer,
                unit="seconds",
            ),
            Figure("deflections", _("Requests deflected by topics"), now.deflection_count, before.deflection_count),
        ],
        axis=[start.isoformat() for start in starts],
        series=[
            Series("topics", _("Topics opened"), [row["topics"] for row in rows]),
            Series("answers", _("Answers"), [row["answers"] for row in rows]),
            Series("deflections", _("Deflections"), [row["deflections"] for row in rows]),
        ],
        chart="line",
        table=Table([(key, _(label)) for key, label in COLUMNS], rows),
        extra={
            "forum_categories": _categories(now),
            "topics": _topics(top_topics(period)),
        },
    )
    if names := set_filters(query.filters):
        result.extra["ignored_filters"] = ignored(names)
    return result


def _categories(figures: ForumFigures) -> Table:
    """The topics opened in the period per forum category, and who answered them."""
    per: dict[int, list[OpenedTopic]] = defaultdict(list)
    for topic in figures.topics:
        per[topic.category].append(topic)
    names = {c.pk: c for c in ForumCategory.objects.filter(pk__in=list(per))}
    rows: list[dict[str, Any]] = []
    for pk, topics in per.items():
        counted = ForumFigures(topics)
        rows.append(
            {
                "category": names[pk].name if pk in names else str(pk),
                "language": names[pk].language if pk in names else "",
                "topics": len(topics),
                "answered_community": counted.answered(COMMUNITY),
                "answered_agents": counted.answered(AGENTS),
                "unanswered": counted.answered(UNANSWERED),
                "first_answer_median_seconds": counted.median_first_answer,
            }
        )
    rows.sort(key=lambda row: (-row["topics"], row["language"], row["category"]))
    return Table(
        [
            ("category", _("Forum category")),
            ("language", _("Language")),
            ("topics", _("Topics opened")),
            ("answered_community", _("Answered by the community")),
            ("answered_agents", _("Answered by agents")),
            ("unanswered", _("Unanswered")),
            ("first_answer_median_seconds", _("Median time to first answer (s)")),
        ],
        rows,
    )


def _topics(found: list[TopicCount]) -> Table:
    return Table(
        [("title", _("Topic")), ("url", _("Link")), ("deflections", _("Deflections"))],
        [{"title": row.title, "url": row.path, "deflections": row.deflections} for row in found],
    )
