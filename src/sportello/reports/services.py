"""Reports: read-only figures over a period, the same for the pages, their CSV files and the API.

Each report is a function of a `Period` (dates in the reader's time zone, both ends included) and
the reader, returning plain dataclasses; views render them as tables and charts, `csv_rows`
flattens them. Ticket counts go through the reader's ticket visibility; deflections and surveys
belong to no group and are counted whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone, translation

from sportello.accounts.models import Group, User
from sportello.core.errors import InvalidInput
from sportello.csat import services as csat
from sportello.csat.models import Survey
from sportello.kb.models import ArticleTranslation, Deflection, DeflectionSource, Feedback
from sportello.tickets.access import tickets_visible_to
from sportello.tickets.models import Channel, Ticket

DEFAULT_DAYS = 30
# Periods are whole days in these years: far enough for any imported history, and never near the
# ends of what dates and time zones can represent.
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(9998, 12, 31)
MAX_DAYS = 732
TOP_ARTICLES = 10
# The channels on which a customer could have found an article instead of writing (the web form,
# the portal and the chat widget all suggest articles while the customer types).
SELF_SERVICE_CHANNELS: dict[str, str] = {
    DeflectionSource.WEBFORM: Channel.WEB,
    DeflectionSource.PORTAL: Channel.PORTAL,
    DeflectionSource.CHAT: Channel.CHAT,
}


@dataclass(frozen=True)
class Period:
    """Whole days in the current time zone, `first` to `last` included."""

    first: date
    last: date

    @classmethod
    def ending_today(cls, days: int = DEFAULT_DAYS) -> Period:
        today = timezone.localdate()
        return cls(today - timedelta(days=days - 1), today)

    @classmethod
    def parse(cls, since: str | date | None, until: str | date | None) -> Period:
        """From the `since`/`until` of a query (YYYY-MM-DD, either may be missing); bad input is refused."""
        last = _day(until, "until") or timezone.localdate()
        first = _day(since, "since") or last - timedelta(days=DEFAULT_DAYS - 1)
        if first > last:
            raise InvalidInput("The period starts after it ends", since=str(first), until=str(last))
        if (last - first).days >= MAX_DAYS:
            raise InvalidInput(f"A report covers at most {MAX_DAYS} days")
        return cls(first, last)

    @property
    def since(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.first, time.min))

    @property
    def until(self) -> datetime:
        """The first instant after the period."""
        return timezone.make_aware(datetime.combine(self.last + timedelta(days=1), time.min))

    def days(self) -> Iterator[date]:
        day = self.first
        while day <= self.last:
            yield day
            day += timedelta(days=1)


def _day(value: str | date | None, name: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return _in_range(value, name)
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"'{name}' is not a date (YYYY-MM-DD)", **{name: str(value)[:40]}) from None
    return _in_range(day, name)


def _in_range(day: date, name: str) -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidInput(f"'{name}' must be between {FIRST_DAY} and {LAST_DAY}", **{name: str(day)})
    return day


# --- Self-service ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayCount:
    day: date
    by_source: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_source.values())


@dataclass(frozen=True)
class ArticleCount:
    article: int | None
    title: str
    path: str
    deflections: int
    helpful: int
    not_helpful: int


@dataclass(frozen=True)
class TopicCount:
    topic: int
    title: str
    path: str  # "" once the public no longer reads the topic
    deflections: int


@dataclass(frozen=True)
class SelfService:
    period: Period
    deflections: dict[str, int]
    requests: dict[str, int]
    days: list[DayCount]
    articles: list[ArticleCount]
    helpful: int
    not_helpful: int
    sources: list[tuple[str, object]] = field(default_factory=lambda: list(DeflectionSource.choices))
    # Of `deflections`, those through a forum topic suggested beside the articles, and the topics.
    forum_deflections: int = 0
    topics: list[TopicCount] = field(default_factory=list)

    @property
    def deflected(self) -> int:
        return sum(self.deflections.values())

    @property
    def requested(self) -> int:
        return sum(self.requests.values())

    @property
    def rate(self) -> float | None:
        """Deflections in percent of all self-service attempts (deflected or sent as a request)."""
        attempts = self.deflected + self.requested
        return round(100 * self.deflected / attempts, 1) if attempts else None

    @property
    def busiest_day(self) -> int:
        return max((day.total for day in self.days), default=0)


def self_service(period: Period, reader: User) -> SelfService:
    """Deflections per source and day, the requests the same channels still brought, top articles."""
    deflections = Deflection.objects.filter(created_at__gte=period.since, created_at__lt=period.until)
    by_source = {source: 0 for source in DeflectionSource.values}
    per_day: dict[date, dict[str, int]] = {day: dict.fromkeys(DeflectionSource.values, 0) for day in period.days()}
    rows = (
        deflections.annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day", "source")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in rows:
        by_source[row["source"]] = by_source.get(row["source"], 0) + row["n"]
        if row["day"] in per_day:
            per_day[row["day"]][row["source"]] = row["n"]

    tickets = tickets_visible_to(reader).filter(created_at__gte=period.since, created_at__lt=period.until)
    counted = dict(
        tickets.filter(channel__in=SELF_SERVICE_CHANNELS.values())
        .values_list("channel")
        .annotate(n=Count("pk"))
        .order_by()
    )
    requests = {source: counted.get(channel, 0) for source, channel in SELF_SERVICE_CHANNELS.items()}

    feedback = Feedback.objects.filter(created_at__gte=period.since, created_at__lt=period.until)
    votes = feedback.aggregate(yes=Count("pk", filter=Q(helpful=True)), no=Count("pk", filter=Q(helpful=False)))
    return SelfService(
        period=period,
        deflections=by_source,
        requests=requests,
        days=[DayCount(day, counts) for day, counts in per_day.items()],
        articles=_top_articles(deflections.filter(topic__isnull=True), feedback),
        helpful=votes["yes"],
        not_helpful=votes["no"],
        forum_deflections=deflections.filter(topic__isnull=False).count(),
        topics=top_topics(deflections),
    )


def top_topics(deflections: QuerySet[Deflection], limit: int = TOP_ARTICLES) -> list[TopicCount]:
    """The forum topics that deflected the most of these requests, most first."""
    from sportello.forum.models import Topic

    top = list(
        deflections.filter(topic__isnull=False)
        .values_list("topic")
        .annotate(n=Count("pk"))
        .order_by("-n", "topic")[:limit]
    )
    topics = Topic.objects.select_related("category").in_bulk([pk for pk, _n in top])
    return [
        TopicCount(pk, topics[pk].title, topics[pk].public_path() if topics[pk].public else "", n)
        for pk, n in top
        if pk in topics
    ]


def _top_articles(deflections: QuerySet[Deflection], feedback: QuerySet[Feedback]) -> list[ArticleCount]:
    top = list(deflections.values("article").annotate(n=Count("pk")).order_by("-n", "article")[:TOP_ARTICLES])
    ids = [row["article"] for row in top if row["article"] is not None]
    votes: dict[int, dict[str, int]] = {
        row["article"]: {"yes": row["yes"], "no": row["no"]}
        for row in feedback.filter(article__in=ids)
        .values("article")
        .annotate(yes=Count("pk", filter=Q(helpful=True)), no=Count("pk", filter=Q(helpful=False)))
        .order_by()
    }
    # One title per article: in the reader's language when there is one, else the site's, else any.
    preferred = [translation.get_language() or "", settings.LANGUAGE_CODE]
    titles: dict[int, ArticleTranslation] = {}
    rows = ArticleTranslation.objects.filter(article__in=ids).select_related("article__category").order_by("id")
    for found in rows:
        current = titles.get(found.article_id)
        if current is None or _rank(found.language, preferred) < _rank(current.language, preferred):
            titles[found.article_id] = found
    result = []
    for row in top:
        article = row["article"]
        shown = titles.get(article) if article is not None else None
        vote = votes.get(article, {}) if article is not None else {}
        result.append(
            ArticleCount(
                article=article,
                title=shown.title if shown else "(deleted article)",
                path=shown.public_path() if shown else "",
                deflections=row["n"],
                helpful=vote.get("yes", 0),
                not_helpful=vote.get("no", 0),
            )
        )
    return result


def _rank(language: str, preferred: list[str]) -> int:
    return preferred.index(language) if language in preferred else len(preferred)


def self_service_csv(report: SelfService) -> Iterator[list[object]]:
    sources = [source for source, _ in report.sources]
    yield ["day", *(f"deflected_{source}" for source in sources), "deflected_total"]
    for day in report.days:
        yield [day.day.isoformat(), *(day.by_source.get(source, 0) for source in sources), day.total]


# --- Satisfaction ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Satisfaction:
    period: Period
    overall: csat.Score
    agents: list[csat.Score]
    groups: list[csat.Score]
    days: list[tuple[date, int, int]]  # day, good, bad

    @property
    def busiest_day(self) -> int:
        return max((good + bad for _, good, bad in self.days), default=0)


def satisfaction(period: Period, filters: Any = None) -> Satisfaction:
    """Survey answers of tickets solved in the period: overall, per agent and group, per day.

    `filters` (a `frame.Filters`, or None for all) narrows the surveys: the agent and group that held
    the ticket when it was solved, and the ticket's channel, priority, tag, category, organization.
    """
    surveys = narrow_surveys(csat.surveys_between(period.since, period.until), filters)
    totals = surveys.aggregate(
        good=Count("pk", filter=Q(rating="good")), bad=Count("pk", filter=Q(rating="bad")), offered=Count("pk")
    )
    per_day = {day: [0, 0] for day in period.days()}
    rows = (
        surveys.exclude(rating="")
        .annotate(day=TruncDate("offered_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(good=Count("pk", filter=Q(rating="good")), bad=Count("pk", filter=Q(rating="bad")))
        .order_by()
    )
    for row in rows:
        if row["day"] in per_day:
            per_day[row["day"]] = [row["good"], row["bad"]]
    return Satisfaction(
        period=period,
        overall=csat.Score(None, "All", totals["good"], totals["bad"], totals["offered"]),
        agents=sorted(_scores(surveys, "agent_id", User), key=_by_answers),
        groups=sorted(_scores(surveys, "group_id", Group), key=_by_answers),
        days=[(day, good, bad) for day, (good, bad) in per_day.items()],
    )


# Filters (frame.Filters) -> the survey column each narrows.
SURVEY_FILTERS = {
    "group": "group_id",
    "agent": "agent_id",
    "channel": "ticket__channel",
    "priority": "ticket__priority",
    "category": "ticket__category_id",
    "organization": "ticket__customer__organization_id",
}


def narrow_surveys(surveys: QuerySet[Survey], filters: Any) -> QuerySet[Survey]:
    if filters is None:
        return surveys
    for name, column in SURVEY_FILTERS.items():
        value = getattr(filters, name, None)
        if value is not None and value != "":
            surveys = surveys.filter(**{column: value})
    if getattr(filters, "tag", None):
        surveys = surveys.filter(ticket__tags__name=filters.tag)
    if custom := getattr(filters, "custom", ()):
        from sportello.fields.models import FieldTarget
        from sportello.fields.services import filter_by

        surveys = surveys.filter(ticket__in=filter_by(Ticket.objects.all(), FieldTarget.TICKET, dict(custom)))
    return surveys


def _scores(surveys: QuerySet[Survey], key: str, model: type[User] | type[Group]) -> list[csat.Score]:
    """Per agent or group that held the ticket when it was solved (key None: nobody, no group)."""
    counted = list(
        surveys.values(key)
        .annotate(
            good=Count("pk", filter=Q(rating="good")), bad=Count("pk", filter=Q(rating="bad")), offered=Count("pk")
        )
        .order_by(key)
    )
    ids = [row[key] for row in counted if row[key] is not None]
    found = model.objects.filter(pk__in=ids)
    names = {item.pk: item.display_name if isinstance(item, User) else item.name for item in found}
    return [csat.Score(row[key], names.get(row[key], "") if row[key] else "", row["good"], row["bad"],
                       row["offered"]) for row in counted]  # fmt: skip


def _by_answers(score: csat.Score) -> tuple[int, str]:
    return (-score.answered, score.name)


def satisfaction_csv(report: Satisfaction) -> Iterator[list[object]]:
    yield ["kind", "id", "name", "offered", "good", "bad", "score_percent", "response_rate_percent"]
    for kind, scores in (("all", [report.overall]), ("agent", report.agents), ("group", report.groups)):
        for score in scores:
            yield [kind, score.key or "", score.name, score.offered, score.good, score.bad,
                   _blank(score.score), _blank(score.response_rate)]  # fmt: skip


def _blank(value: float | None) -> object:
    return "" if value is None else value
