"""Self-service and satisfaction in the report frame: the figures of `services` as a `ReportResult`.

They live here, not in `services`, because `frame` imports `services.Period`: registering them
there would make the two modules import each other. The views import this module (it registers
the two reports); the data behind them stays in `services` (also used by their API operations).

Self-service counts deflections and votes, which belong to no ticket: no filter applies to it, and
the filters set are listed in `extra["ignored_filters"]`. Satisfaction narrows the surveys by
every filter (the agent and group that held the ticket when it was solved, the ticket's channel,
priority, tag, category and organization).
"""

from __future__ import annotations

from dataclasses import fields
from datetime import date

from django.utils.translation import gettext as _

from sportello.accounts.models import User
from sportello.csat import services as csat
from sportello.kb.models import DeflectionSource
from sportello.reports import services
from sportello.reports.frame import (
    Figure,
    Filters,
    ReportQuery,
    ReportResult,
    Series,
    Table,
    bucket_start,
    buckets,
    report,
)


def set_filters(filters: Filters) -> list[str]:
    """The names of the filters that narrow anything (custom fields as `custom:key`)."""
    names = [f.name for f in fields(filters) if f.name != "custom" and getattr(filters, f.name) not in (None, "")]
    return names + [f"custom:{key}" for key, _value in filters.custom]


def ignored(names: list[str]) -> Table:
    return Table([("filter", _("Filter"))], [{"filter": name} for name in names])


# --- Self-service ---------------------------------------------------------------------------------------


@report("self-service", "Self-service")
def self_service(query: ReportQuery, reader: User) -> ReportResult:
    """Requests the knowledge base answered (deflections) by channel, the articles and forum topics
    that did it, and the requests the same channels still brought."""
    now = services.self_service(query.period, reader)
    before = services.self_service(query.previous, reader)
    sources = [source for source, _name in now.sources]
    names = dict(DeflectionSource.choices)
    starts = buckets(query.period, query.granularity)
    totals: dict[date, dict[str, int]] = {start: dict.fromkeys(sources, 0) for start in starts}
    for day in now.days:
        bucket = totals[bucket_start(day.day, query.granularity, query.period)]
        for source in sources:
            bucket[source] += day.by_source.get(source, 0)
    rows = [
        {
            "day": start.isoformat(),
            **{f"deflected_{s}": counts[s] for s in sources},
            "deflected_total": sum(counts.values()),
        }
        for start, counts in totals.items()
    ]
    result = ReportResult(
        slug="self-service",
        title=_("Self-service"),
        figures=[
            Figure("deflected", _("Requests deflected"), now.deflected, before.deflected),
            Figure("requested", _("Requests sent on the same channels"), now.requested, before.requested),
            Figure("deflection_rate", _("Deflection rate"), now.rate, before.rate, unit="percent"),
            Figure("forum_deflected", _("Deflected by forum topics"), now.forum_deflections, before.forum_deflections),
            Figure("helpful", _("Articles rated helpful"), now.helpful, before.helpful),
            Figure("not_helpful", _("Articles rated not helpful"), now.not_helpful, before.not_helpful),
        ],
        axis=[start.isoformat() for start in starts],
        series=[Series(s, str(names[s]), [counts[s] for counts in totals.values()]) for s in sources],
        chart="stacked-bar",
        table=Table(
            [("day", _("Day")), *((f"deflected_{s}", str(names[s])) for s in sources), ("deflected_total", _("Total"))],
            rows,
        ),
        extra={
            "by_channel": Table(
                [("channel", _("Channel")), ("deflected", _("Deflected")), ("requests", _("Requests"))],
                [
                    {
                        "channel": str(names[s]),
                        "deflected": now.deflections.get(s, 0),
                        "requests": now.requests.get(s, 0),
                    }
                    for s in sources
                ],
            ),
            "articles": Table(
                [
                    ("title", _("Article")),
                    ("url", _("Link")),
                    ("deflections", _("Deflections")),
                    ("helpful", _("Helpful")),
                    ("not_helpful", _("Not helpful")),
                ],
                [
                    {
                        "title": row.title,
                        "url": row.path,
                        "deflections": row.deflections,
                        "helpful": row.helpful,
                        "not_helpful": row.not_helpful,
                    }
                    for row in now.articles
                ],
            ),
            "topics": Table(
                [("title", _("Topic")), ("url", _("Link")), ("deflections", _("Deflections"))],
                [{"title": row.title, "url": row.path, "deflections": row.deflections} for row in now.topics],
            ),
        },
    )
    if names_set := set_filters(query.filters):
        result.extra["ignored_filters"] = ignored(names_set)
    return result


# --- Satisfaction ---------------------------------------------------------------------------------------


SCORE_COLUMNS = ["kind", "id", "name", "offered", "good", "bad", "score_percent", "response_rate_percent"]


@report("satisfaction", "Satisfaction")
def satisfaction(query: ReportQuery, reader: User) -> ReportResult:
    """Survey answers of solved tickets: share of good answers, response rate, per day, agent and group."""
    now = services.satisfaction(query.period, query.filters)
    before = services.satisfaction(query.previous, query.filters)
    starts = buckets(query.period, query.granularity)
    answers = {start: [0, 0] for start in starts}
    for day, good, bad in now.days:
        bucket = answers[bucket_start(day, query.granularity, query.period)]
        bucket[0] += good
        bucket[1] += bad
    rows = [
        _score_row(kind, score, nobody)
        for kind, scores, nobody in (
            ("all", [now.overall], _("All")),
            ("agent", now.agents, _("Nobody assigned")),
            ("group", now.groups, _("No group")),
        )
        for score in scores
    ]
    overall, previous = now.overall, before.overall
    return ReportResult(
        slug="satisfaction",
        title=_("Satisfaction"),
        figures=[
            Figure("score", _("Good answers"), overall.score, previous.score, unit="percent"),
            Figure("good", _("Good"), overall.good, previous.good),
            Figure("bad", _("Bad"), overall.bad, previous.bad),
            Figure(
                "response_rate", _("Surveys answered"), overall.response_rate, previous.response_rate, unit="percent"
            ),
            Figure("offered", _("Surveys offered"), overall.offered, previous.offered),
        ],
        axis=[start.isoformat() for start in starts],
        series=[
            Series("good", _("Good"), [good for good, _bad in answers.values()]),
            Series("bad", _("Bad"), [bad for _good, bad in answers.values()]),
        ],
        chart="stacked-bar",
        table=Table(
            [
                ("kind", _("Kind")),
                ("id", _("Id")),
                ("name", _("Name")),
                ("offered", _("Surveys")),
                ("good", _("Good")),
                ("bad", _("Bad")),
                ("score_percent", _("Score %")),
                ("response_rate_percent", _("Answered %")),
            ],
            rows,
        ),
    )


def _score_row(kind: str, score: csat.Score, nobody: str) -> dict[str, object]:
    # The "all" row's name stays "All" in every language (the CSV has always said so).
    name = "All" if kind == "all" else (score.name or nobody)
    return dict(zip(SCORE_COLUMNS, [kind, score.key, name, score.offered, score.good, score.bad,
                                    score.score, score.response_rate], strict=True))  # fmt: skip
