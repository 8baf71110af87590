"""The on-machine intelligence in the report frame: deflection by method, triage accuracy over
time, and how often agents accepted a suggestion (issue #17, item 6).

What is counted (docs/reports.md says the same):

- **Deflection by method**: `kb.Deflection` rows recorded in the period (a customer said a
  suggestion solved their problem), by how the suggestion was found (`Deflection.method`: full
  text, by meaning, a forum topic) and by the form it was made on. Rows written before the method
  was kept (kb migration 0007) that name a forum topic are the forum's; the others are "unknown".
  The deflection rate is the self-service report's: deflections in percent of deflections plus
  the requests the same channels (web form, portal, chat) brought as tickets the reader sees.
- **Triage accuracy**: `triage.Suggestion` rows made in the period and decided: *right* when the
  ticket already had the value (AGREED), an agent accepted it (ACCEPTED), or triage applied it
  and no agent changed that field afterwards (APPLIED; for tags, no agent's later change left
  out a suggested tag); *wrong* when an agent dismissed it (DISMISSED) or changed the applied
  field. Suggestions still shown or below the threshold are not decided and not counted. The
  accuracy at training is that of the models which made the decided suggestions
  (`TrainedModel.accuracy` on held-back recent tickets), weighted by how many each made.
- **Suggestions accepted**: triage suggestions shown to agents (SHOWN, ACCEPTED, DISMISSED) made
  in the period and what agents did with them, the acceptance being accepted in percent of shown
  (triage.services.acceptance's rule); reply assistance (`assist.AssistUse`) that answered, and
  whether the agent used the answer in the reply ("Put in the reply", "Replace my text": inserted)
  or discarded it, per action. Summaries and translations of the customer's message are only read
  (their one button closes them, recorded as discarded): they are listed per action but left out
  of the share used in a reply.
  Merges of a likely duplicate from the similar-tickets panel go through the ordinary merge and
  are not told apart from other merges: no figure is given for them.

Deflections belong to no ticket: the ticket filters do not apply to that report and are listed as
ignored. Triage suggestions and assistance uses belong to a ticket: the filters narrow them by
their ticket as the metric reports do (reports/metrics.py `facts`), and a reader restricted to
some groups counts only their tickets.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, OuterRef, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from sportello.accounts.models import Role, User
from sportello.assist.models import Action, AssistUse, Outcome
from sportello.kb.models import Deflection, DeflectionMethod, DeflectionSource
from sportello.reports.classic import ignored, set_filters
from sportello.reports.frame import Figure, Filters, ReportQuery, ReportResult, Series, Table, bucket_start, buckets
from sportello.reports.frame import report as register
from sportello.reports.metrics import facts, visible_groups
from sportello.reports.models import TicketFact
from sportello.reports.services import SELF_SERVICE_CHANNELS, Period
from sportello.tickets.access import tickets_visible_to
from sportello.tickets.models import Change
from sportello.triage.models import Suggestion, SuggestionState, Target, TrainedModel

DEFLECTION_SLUG, ACCURACY_SLUG, ACCEPTANCE_SLUG = "deflection-methods", "triage-accuracy", "suggestions-accepted"
SLUGS = (DEFLECTION_SLUG, ACCURACY_SLUG, ACCEPTANCE_SLUG)
UNKNOWN = "unknown"
METHODS = (DeflectionMethod.TEXT, DeflectionMethod.MEANING, DeflectionMethod.FORUM, UNKNOWN)
# The people whose later change of an applied field says triage was wrong (not a trigger, not Triage).
PEOPLE = (Role.ADMIN, Role.AGENT, Role.LIGHT_AGENT)


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _method_names() -> dict[str, str]:
    return {**{key: _(str(label)) for key, label in DeflectionMethod.choices}, UNKNOWN: _("Unknown")}


def _per_bucket(days: dict[date, Any], query: ReportQuery, empty: Any) -> dict[date, Any]:
    """Per-day counters (dicts of counts) added up into the query's buckets, every bucket present."""
    found = {start: empty() for start in buckets(query.period, query.granularity)}
    for day, counts in days.items():
        if query.period.first <= day <= query.period.last:
            bucket = found[bucket_start(day, query.granularity, query.period)]
            for key, n in counts.items():
                bucket[key] = bucket.get(key, 0) + n
    return found


# --- Deflection by method --------------------------------------------------------------------------------


@dataclass
class DeflectionFigures:
    # day -> {method: n}, day -> {source: n}, day -> {source: tickets}
    methods: dict[date, dict[str, int]] = field(default_factory=dict)
    sources: dict[date, dict[str, int]] = field(default_factory=dict)
    requests: dict[date, int] = field(default_factory=dict)
    # (source, method) -> n
    pairs: dict[tuple[str, str], int] = field(default_factory=dict)

    def count(self, method: str | None = None) -> int:
        return sum(n for counts in self.methods.values() for key, n in counts.items() if method in (None, key))

    @property
    def request_count(self) -> int:
        return sum(self.requests.values())

    @property
    def rate(self) -> float | None:
        return _percent(self.count(), self.count() + self.request_count)


def method_of(method: str, topic: int | None) -> str:
    """A row's method as the report shows it: as recorded, a forum topic's, or "unknown"."""
    if method in DeflectionMethod.values:
        return method
    return DeflectionMethod.FORUM if topic is not None else UNKNOWN


def deflection_figures(period: Period, reader: User) -> DeflectionFigures:
    zone = timezone.get_current_timezone()
    figures = DeflectionFigures()
    rows = (
        Deflection.objects.filter(created_at__gte=period.since, created_at__lt=period.until)
        .annotate(
            day=TruncDate("created_at", tzinfo=zone),
            named_topic=ExpressionWrapper(Q(topic__isnull=False), output_field=BooleanField()),
        )
        .values_list("day", "source", "method", "named_topic")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for day, source, method, named_topic, n in rows:
        shown = method_of(method, 1 if named_topic else None)
        per_method = figures.methods.setdefault(day, {})
        per_method[shown] = per_method.get(shown, 0) + n
        per_source = figures.sources.setdefault(day, {})
        per_source[source] = per_source.get(source, 0) + n
        figures.pairs[source, shown] = figures.pairs.get((source, shown), 0) + n
    tickets = (
        tickets_visible_to(reader)
        .filter(created_at__gte=period.since, created_at__lt=period.until, channel__in=SELF_SERVICE_CHANNELS.values())
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .values_list("day")
        .annotate(n=Count("pk"))
        .order_by()
    )
    figures.requests = dict(tickets)
    return figures


@register(DEFLECTION_SLUG, "Deflection by method")
def deflection_methods(query: ReportQuery, reader: User) -> ReportResult:
    """Requests customers did not send because a suggestion solved them, by how the suggestion was
    found (full text, by meaning, a forum topic) and by form, with the deflection rate."""
    now, before = deflection_figures(query.period, reader), deflection_figures(query.previous, reader)
    names = _method_names()
    sources = list(DeflectionSource.values)
    methods = _per_bucket(now.methods, query, dict)
    by_source = _per_bucket(now.sources, query, dict)
    requests = _per_bucket({day: {"n": n} for day, n in now.requests.items()}, query, dict)
    rows: list[dict[str, Any]] = []
    for start in methods:
        total = sum(methods[start].values())
        asked = requests[start].get("n", 0)
        rows.append(
            {
                "day": start.isoformat(),
                **{method: methods[start].get(method, 0) for method in METHODS},
                **{f"source_{source}": by_source[start].get(source, 0) for source in sources},
                "deflections": total,
                "requests": asked,
                "deflection_rate": _percent(total, total + asked),
            }
        )
    source_names = dict(DeflectionSource.choices)
    result = ReportResult(
        slug=DEFLECTION_SLUG,
        title=_("Deflection by method"),
        figures=[
            Figure("deflections", _("Requests deflected"), now.count(), before.count()),
            *(Figure(method, names[method], now.count(method), before.count(method)) for method in METHODS),
            Figure("deflection_rate", _("Deflection rate"), now.rate, before.rate, unit="percent"),
        ],
        axis=[row["day"] for row in rows],
        series=[Series(method, names[method], [row[method] for row in rows]) for method in METHODS],
        chart="stacked-bar",
        table=Table(
            [
                ("day", _("Day")),
                *((method, names[method]) for method in METHODS),
                *((f"source_{s}", _(str(source_names[s]))) for s in sources),
                ("deflections", _("Deflections")),
                ("requests", _("Requests sent on the same channels")),
                ("deflection_rate", _("Deflection rate (%)")),
            ],
            rows,
        ),
        extra={
            "by_source": Table(
                [("source", _("Form")), *((method, names[method]) for method in METHODS), ("total", _("Total"))],
                [
                    {
                        "source": _(str(source_names[s])),
                        **{method: now.pairs.get((s, method), 0) for method in METHODS},
                        "total": sum(now.pairs.get((s, method), 0) for method in METHODS),
                    }
                    for s in sources
                ],
            )
        },
    )
    if names_set := set_filters(query.filters):
        result.extra["ignored_filters"] = ignored(names_set)
    return result


# --- Triage and assistance: rows of tickets the reader sees under the filters ----------------------------


def on_tickets(rows: QuerySet[Any], query: ReportQuery, reader: User) -> QuerySet[Any]:
    """`rows` (with a `ticket`) narrowed to the tickets this reader sees and the filters keep."""
    if query.filters != Filters():
        return rows.filter(ticket_id__in=TicketFact.objects.filter(facts(query, reader)).values("ticket_id"))
    if visible_groups(reader) is not None:
        return rows.filter(ticket__in=tickets_visible_to(reader))
    return rows


# --- Triage accuracy -----------------------------------------------------------------------------------------

RIGHT, WRONG = "right", "wrong"
DECIDED = (SuggestionState.AGREED, SuggestionState.ACCEPTED, SuggestionState.DISMISSED, SuggestionState.APPLIED)


@dataclass(frozen=True)
class Decided:
    """A decided suggestion: when it was made, for which target, whether it was right, its model."""

    day: date
    target: str
    right: bool
    model: int | None


def decided_suggestions(query: ReportQuery, reader: User, period: Period) -> list[Decided]:
    """The decided suggestions made in `period` (one row each: a few per new ticket).

    1. The suggestions made in the period in a decided state, with whether an agent changed the
       field after them (an EXISTS on the ticket's history: a later change of the same field by
       a person, not by Triage or a trigger).
    2. An applied tag suggestion is only wrong when such a change left out one of its tags (an
       agent adding a tag of their own does not make triage's wrong): those changes are read.
    """
    zone = timezone.get_current_timezone()
    later = Change.objects.filter(
        ticket=OuterRef("ticket"),
        field=OuterRef("target"),
        created_at__gte=OuterRef("created_at"),
        actor__role__in=PEOPLE,
    )
    rows = list(
        on_tickets(Suggestion.objects.all(), query, reader)
        .filter(created_at__gte=period.since, created_at__lt=period.until, state__in=DECIDED)
        .annotate(day=TruncDate("created_at", tzinfo=zone), changed=Exists(later))
        .values_list("pk", "day", "target", "state", "model_id", "changed", "ticket_id", "value", "created_at")
        .order_by("created_at", "pk")
    )
    tagged = [row for row in rows if row[3] == SuggestionState.APPLIED and row[2] == Target.TAGS and row[5]]
    dropped = _dropped_tags(tagged)
    found = []
    for pk, day, target, state, model, changed, _ticket, _value, _made in rows:
        if state == SuggestionState.APPLIED:
            right = not (pk in dropped if target == Target.TAGS else changed)
        else:
            right = state != SuggestionState.DISMISSED
        found.append(Decided(day, target, right, model))
    return found


def _dropped_tags(rows: list[tuple[Any, ...]]) -> set[int]:
    """The applied tag suggestions (pk) that a person's later tag change left a tag of out."""
    if not rows:
        return set()
    changes: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    for ticket, made, value in (
        Change.objects.filter(ticket_id__in=[row[6] for row in rows], field="tags", actor__role__in=PEOPLE)
        .values_list("ticket_id", "created_at", "new_value")
        .order_by()
    ):
        changes[ticket].append((made, value))
    dropped = set()
    for pk, _day, _target, _state, _model, _changed, ticket, value, made in rows:
        wanted = {tag for tag in value.split(", ") if tag}
        for when, new_value in changes[ticket]:
            if when >= made and not wanted <= set(new_value.split(", ")):
                dropped.add(pk)
    return dropped


def _accuracy(rows: list[Decided]) -> float | None:
    return _percent(sum(row.right for row in rows), len(rows))


def _trained(rows: list[Decided], models: dict[int, TrainedModel]) -> float | None:
    """The accuracy at training of the models that made these suggestions, weighted by their count."""
    measured = [models[row.model].accuracy for row in rows if row.model in models]
    values = [value for value in measured if value is not None]
    return round(100 * sum(values) / len(values), 1) if values else None


@register(ACCURACY_SLUG, "Triage accuracy")
def triage_accuracy(query: ReportQuery, reader: User) -> ReportResult:
    """How often auto-triage's decided suggestions were right, per target over time, against the
    accuracy its models measured at training."""
    now = decided_suggestions(query, reader, query.period)
    before = decided_suggestions(query, reader, query.previous)
    targets = list(Target.values)
    names = dict(Target.choices)
    models = TrainedModel.objects.in_bulk({row.model for row in now if row.model is not None})
    per: dict[date, list[Decided]] = {start: [] for start in buckets(query.period, query.granularity)}
    for row in now:
        per[bucket_start(row.day, query.granularity, query.period)].append(row)
    rows: list[dict[str, Any]] = []
    for start, decided in per.items():
        right = sum(row.right for row in decided)
        line: dict[str, Any] = {
            "day": start.isoformat(),
            "decided": len(decided),
            "right": right,
            "wrong": len(decided) - right,
            "accuracy": _accuracy(decided),
        }
        for target in targets:
            line[f"{target}_accuracy"] = _accuracy([row for row in decided if row.target == target])
        rows.append(line)
    by_target = []
    for target in targets:
        mine = [row for row in now if row.target == target]
        right = sum(row.right for row in mine)
        by_target.append(
            {
                "target": _(str(names[target])),
                "decided": len(mine),
                "right": right,
                "wrong": len(mine) - right,
                "accuracy": _accuracy(mine),
                "trained_accuracy": _trained(mine, models),
            }
        )
    trained_now = _trained(now, models)
    before_models = TrainedModel.objects.in_bulk({row.model for row in before if row.model is not None})
    result = ReportResult(
        slug=ACCURACY_SLUG,
        title=_("Triage accuracy"),
        figures=[
            Figure("accuracy", _("Right"), _accuracy(now), _accuracy(before), unit="percent"),
            Figure(
                "trained_accuracy",
                _("Accuracy at training"),
                trained_now,
                _trained(before, before_models),
                unit="percent",
            ),
            Figure("decided", _("Suggestions decided"), len(now), len(before)),
            Figure("wrong", _("Wrong"), sum(not row.right for row in now), sum(not row.right for row in before)),
        ],
        axis=[row["day"] for row in rows],
        series=[
            Series("accuracy", _("All targets"), [row["accuracy"] for row in rows]),
            *(
                Series(f"{target}_accuracy", _(str(names[target])), [row[f"{target}_accuracy"] for row in rows])
                for target in targets
            ),
        ],
        chart="line",
        table=Table(
            [
                ("day", _("Day")),
                ("decided", _("Decided")),
                ("right", _("Right")),
                ("wrong", _("Wrong")),
                ("accuracy", _("Right (%)")),
                *(
                    (f"{target}_accuracy", _("%(target)s right (%%)") % {"target": _(str(names[target]))})
                    for target in targets
                ),
            ],
            rows,
        ),
        extra={
            "by_target": Table(
                [
                    ("target", _("Predicted field")),
                    ("decided", _("Decided")),
                    ("right", _("Right")),
                    ("wrong", _("Wrong")),
                    ("accuracy", _("Right (%)")),
                    ("trained_accuracy", _("Accuracy at training (%)")),
                ],
                by_target,
            )
        },
    )
    return result


# --- Suggestions accepted ---------------------------------------------------------------------------------

OFFERED = (SuggestionState.SHOWN, SuggestionState.ACCEPTED, SuggestionState.DISMISSED)
# The assistance whose answer an agent can put into the reply (assist/_answer.html's buttons).
INSERTABLE = (Action.DRAFT, Action.TONE, Action.TRANSLATE_OUT)


@dataclass
class AcceptanceFigures:
    # day -> {state: n} of triage suggestions shown to agents; target -> {state: n}
    triage: dict[date, dict[str, int]] = field(default_factory=dict)
    targets: dict[str, dict[str, int]] = field(default_factory=dict)
    # day -> {"inserted"/"discarded"/"unsaid": n} of answers that can go into a reply; action -> the same
    assist: dict[date, dict[str, int]] = field(default_factory=dict)
    actions: dict[str, dict[str, int]] = field(default_factory=dict)

    def triage_count(self, state: str | None = None) -> int:
        return sum(n for counts in self.triage.values() for key, n in counts.items() if state in (None, key))

    def assist_count(self, said: str | None = None) -> int:
        return sum(n for counts in self.assist.values() for key, n in counts.items() if said in (None, key))


def _said(accepted: bool | None) -> str:
    return "unsaid" if accepted is None else "inserted" if accepted else "discarded"


def acceptance_figures(query: ReportQuery, reader: User, period: Period) -> AcceptanceFigures:
    zone = timezone.get_current_timezone()
    figures = AcceptanceFigures()
    for day, target, state, n in (
        on_tickets(Suggestion.objects.all(), query, reader)
        .filter(created_at__gte=period.since, created_at__lt=period.until, state__in=OFFERED)
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .values_list("day", "target", "state")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        for counts in (figures.triage.setdefault(day, {}), figures.targets.setdefault(target, {})):
            counts[state] = counts.get(state, 0) + n
    for day, action, accepted, n in (
        on_tickets(AssistUse.objects.all(), query, reader)
        .filter(created_at__gte=period.since, created_at__lt=period.until, outcome=Outcome.ANSWERED)
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .values_list("day", "action", "accepted")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        said = _said(accepted)
        counters = [figures.actions.setdefault(action, {})]
        if action in INSERTABLE:
            counters.append(figures.assist.setdefault(day, {}))
        for counts in counters:
            counts[said] = counts.get(said, 0) + n
    return figures


@register(ACCEPTANCE_SLUG, "Suggestions accepted")
def suggestions_accepted(query: ReportQuery, reader: User) -> ReportResult:
    """How often agents accepted what was suggested to them: triage's suggestions shown on tickets,
    and the drafts, tone changes and translations of reply assistance used in a reply."""
    now = acceptance_figures(query, reader, query.period)
    before = acceptance_figures(query, reader, query.previous)
    triage = _per_bucket(now.triage, query, dict)
    assist = _per_bucket(now.assist, query, dict)
    rows: list[dict[str, Any]] = []
    for start in triage:
        shown, used = sum(triage[start].values()), sum(assist[start].values())
        accepted, inserted = triage[start].get(SuggestionState.ACCEPTED, 0), assist[start].get("inserted", 0)
        rows.append(
            {
                "day": start.isoformat(),
                "triage_shown": shown,
                "triage_accepted": accepted,
                "triage_dismissed": triage[start].get(SuggestionState.DISMISSED, 0),
                "triage_pending": triage[start].get(SuggestionState.SHOWN, 0),
                "triage_accepted_percent": _percent(accepted, shown),
                "assist_answers": used,
                "assist_inserted": inserted,
                "assist_discarded": assist[start].get("discarded", 0),
                "assist_unsaid": assist[start].get("unsaid", 0),
                "assist_inserted_percent": _percent(inserted, used),
            }
        )

    def triage_rate(figures: AcceptanceFigures) -> float | None:
        return _percent(figures.triage_count(SuggestionState.ACCEPTED), figures.triage_count())

    def assist_rate(figures: AcceptanceFigures) -> float | None:
        return _percent(figures.assist_count("inserted"), figures.assist_count())

    target_names, action_names = dict(Target.choices), dict(Action.choices)
    result = ReportResult(
        slug=ACCEPTANCE_SLUG,
        title=_("Suggestions accepted"),
        figures=[
            Figure(
                "triage_accepted_percent",
                _("Triage suggestions accepted"),
                triage_rate(now),
                triage_rate(before),
                unit="percent",
            ),
            Figure(
                "assist_inserted_percent",
                _("Assistance used in a reply"),
                assist_rate(now),
                assist_rate(before),
                unit="percent",
            ),
            Figure("triage_shown", _("Triage suggestions shown"), now.triage_count(), before.triage_count()),
            Figure("assist_answers", _("Assistance answers to use"), now.assist_count(), before.assist_count()),
        ],
        axis=[row["day"] for row in rows],
        series=[
            Series(
                "triage_accepted_percent",
                _("Triage suggestions accepted"),
                [row["triage_accepted_percent"] for row in rows],
            ),
            Series(
                "assist_inserted_percent",
                _("Assistance used in a reply"),
                [row["assist_inserted_percent"] for row in rows],
            ),
        ],
        chart="line",
        table=Table(
            [
                ("day", _("Day")),
                ("triage_shown", _("Triage suggestions shown")),
                ("triage_accepted", _("Accepted")),
                ("triage_dismissed", _("Dismissed")),
                ("triage_pending", _("Not decided yet")),
                ("triage_accepted_percent", _("Accepted (%)")),
                ("assist_answers", _("Assistance answers to use")),
                ("assist_inserted", _("Used in a reply")),
                ("assist_discarded", _("Discarded")),
                ("assist_unsaid", _("Neither")),
                ("assist_inserted_percent", _("Used in a reply (%)")),
            ],
            rows,
        ),
        extra={
            "triage_by_target": Table(
                [
                    ("target", _("Predicted field")),
                    ("shown", _("Shown")),
                    ("accepted", _("Accepted")),
                    ("dismissed", _("Dismissed")),
                    ("pending", _("Not decided yet")),
                    ("accepted_percent", _("Accepted (%)")),
                ],
                [
                    {
                        "target": _(str(target_names[target])),
                        "shown": sum(counts.values()),
                        "accepted": counts.get(SuggestionState.ACCEPTED, 0),
                        "dismissed": counts.get(SuggestionState.DISMISSED, 0),
                        "pending": counts.get(SuggestionState.SHOWN, 0),
                        "accepted_percent": _percent(counts.get(SuggestionState.ACCEPTED, 0), sum(counts.values())),
                    }
                    for target in Target.values
                    for counts in [now.targets.get(target, {})]
                ],
            ),
            "assist_by_action": Table(
                [
                    ("action", _("Assistance")),
                    ("answers", _("Answers")),
                    ("inserted", _("Used in a reply")),
                    ("discarded", _("Discarded")),
                    ("unsaid", _("Neither")),
                    ("inserted_percent", _("Used in a reply (%)")),
                ],
                [
                    {
                        "action": _(str(action_names[action])),
                        "answers": sum(counts.values()),
                        "inserted": counts.get("inserted", 0),
                        "discarded": counts.get("discarded", 0),
                        "unsaid": counts.get("unsaid", 0),
                        "inserted_percent": _percent(counts.get("inserted", 0), sum(counts.values()))
                        if action in INSERTABLE
                        else None,
                    }
                    for action in Action.values
                    for counts in [now.actions.get(action, {})]
                ],
            ),
        },
    )
    return result
