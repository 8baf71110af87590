"""Auto-triage on the installation's own tickets: train, predict, suggest, apply, and record.

- Training (`train_models`, a task: the settings page's button and the schedule) learns each
  target from the tickets' subject and first message, measures it on the most recent tickets
  held back (learning.py), and stores the model's bytes in the database, so every process
  loads the same model; a target with too little history gets a refusal row saying why.
- New tickets (`on_ticket_created`, a worker's event listener subscribed before the triggers)
  get one Suggestion per target that is not off: shown to agents on the ticket page, or, in
  apply mode and sure enough, set on the ticket by the "Triage" system user, which the history
  shows. An agent accepts (`accept_suggestion`) or dismisses a shown one; every suggestion
  keeps its outcome for the acceptance rate.
- Triggers read predictions through `prediction_for` (automation/conditions.py).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from sportello.accounts.models import Group, Role, User
from sportello.core import events
from sportello.core.errors import Conflict, InvalidInput
from sportello.tickets.models import Category, Change, Entry, EntryKind, Priority, Ticket
from sportello.tickets.services import TicketChanges, set_ticket_language, update_ticket
from sportello.triage import learning
from sportello.triage.models import Mode, Suggestion, SuggestionState, Target, TrainedModel, TriageSettings

log = logging.getLogger("sportello.triage")

# The most recent tickets a training reads (older history teaches little about today's teams).
MAX_TICKETS = 20_000
NOUNS = {"group": "group", "category": "ticket type", "priority": "priority", "language": "language", "tags": "tags"}


# --- Training -----------------------------------------------------------------------------------------


def examples(target: str, limit: int = MAX_TICKETS) -> list[learning.Example]:
    """The `limit` most recent tickets with a value for `target`, oldest first, as examples:
    subject and first message, and the value agents left on the ticket (the truth)."""
    first_message = Entry.objects.filter(ticket=OuterRef("pk"), kind=EntryKind.MESSAGE).order_by("id")
    tickets = Ticket.objects.filter(merged_into__isnull=True).annotate(
        first_text=Subquery(first_message.values("body_text")[:1])
    )
    if target in ("group", "category"):
        tickets = tickets.filter(**{f"{target}__isnull": False})
    column = {"group": "group_id", "category": "category_id", "priority": "priority"}.get(target, "id")
    ordered = tickets.order_by("-created_at", "-id")
    rows = list(ordered.values_list("id", "subject", "first_text", column, "language")[:limit])
    rows.reverse()
    tags: dict[int, tuple[str, ...]] = {}
    if target == "tags":
        through = Ticket.tags.through
        for ticket_id, name in through.objects.filter(ticket_id__in=[r[0] for r in rows]).values_list(
            "ticket_id", "tag__name"
        ):
            tags[ticket_id] = (*tags.get(ticket_id, ()), name)
    found = []
    for pk, subject, body, value, language in rows:
        text = learning.text_of(subject, body or "")
        if target == "tags":
            label: str | tuple[str, ...] = tuple(sorted(tags.get(pk, ())))
        elif target == "language":
            label = language
        else:
            label = str(value)
        found.append(learning.Example(text, label))
    return found


def train_target(target: str) -> TrainedModel:
    """Train and measure one target; store the model (or the refusal) as its newest row."""
    started = time.perf_counter()
    found = examples(target)
    row = TrainedModel(target=target, library=learning.LIBRARY_VERSION)
    try:
        evaluation = learning.evaluate(found, NOUNS[target])
    except learning.TooLittleHistory as refused:
        row.refused = str(refused)
        row.trained_on = len(found)
    else:
        fitted = learning.fit(found)
        row.blob = learning.dump(fitted)
        row.trained_on = evaluation.trained_on
        row.evaluated_on = evaluation.evaluated_on
        row.accuracy = evaluation.accuracy
        row.baseline = evaluation.baseline
        row.macro_f1 = evaluation.macro_f1
        row.baseline_macro_f1 = evaluation.baseline_macro_f1
        row.classes = fitted.classes
    row.seconds = time.perf_counter() - started
    with transaction.atomic():
        previous = TrainedModel.objects.filter(target=target).order_by("-version").values_list("version", flat=True)
        row.version = (previous.first() or 0) + 1
        row.trained_at = timezone.now()
        row.save()
        # Only the newest training is used: the older ones keep their figures, not their bytes.
        TrainedModel.objects.filter(target=target).exclude(pk=row.pk).exclude(blob=b"").update(blob=b"")
    log.info("triage %s v%s: %s", target, row.version, row.refused or f"accuracy {row.accuracy:.3f}")
    return row


def train_models() -> list[TrainedModel]:
    return [train_target(target) for target in Target.values]


def latest_models() -> dict[str, TrainedModel]:
    """Each target's newest training (without the bytes), for the settings page."""
    latest: dict[str, TrainedModel] = {}
    for row in TrainedModel.objects.defer("blob").order_by("target", "-trained_at", "-id"):
        latest.setdefault(row.target, row)
    return latest


def request_training() -> None:
    """Train in the background (the settings page's button and the schedule)."""
    from sportello.triage.tasks import train_triage

    train_triage.enqueue()


def scheduled_retrain() -> bool:
    """The scheduler's hourly look: retrain when the newest training is older than the settings
    ask. Nothing happens before an admin first trains (or turns a target on); True if enqueued."""
    policy = TriageSettings.current()
    if not policy.retrain_days:
        return False
    newest = TrainedModel.objects.order_by("-trained_at").values_list("trained_at", flat=True).first()
    if newest is None and not policy.any_on():
        return False
    if newest is not None and newest > timezone.now() - timedelta(days=policy.retrain_days):
        return False
    request_training()
    return True


# --- Predicting ---------------------------------------------------------------------------------------

# Each process keeps the models it loaded: target -> (the row's id, the model).
_loaded: dict[str, tuple[int, learning.Fitted]] = {}


@dataclass(frozen=True)
class Prediction:
    target: str
    value: str
    label: str
    confidence: float
    model_id: int


def _current_models(targets: list[str]) -> dict[str, tuple[int, learning.Fitted]]:
    """The usable newest model of each target (one query, and the bytes of a model this
    process has not loaded yet)."""
    newest: dict[str, tuple[int, bool]] = {}
    rows = TrainedModel.objects.filter(target__in=targets).order_by("target", "-trained_at", "-id")
    for pk, target, reason in rows.values_list("id", "target", "refused"):
        newest.setdefault(target, (pk, bool(reason)))
    models: dict[str, tuple[int, learning.Fitted]] = {}
    for target, (pk, refused) in newest.items():
        if refused:
            continue
        cached = _loaded.get(target)
        if cached is None or cached[0] != pk:
            blob = TrainedModel.objects.filter(pk=pk).values_list("blob", flat=True).first()
            if not blob:
                continue
            try:
                cached = (pk, learning.load(bytes(blob)))
            except Exception:  # a model pickled by another scikit-learn: retraining fixes it
                log.exception("triage: cannot load the %s model %s", target, pk)
                continue
            _loaded[target] = cached
        models[target] = cached
    return models


def text_of_ticket(ticket: Ticket) -> str:
    first = ticket.entries.filter(kind=EntryKind.MESSAGE).order_by("id").values_list("body_text", flat=True).first()
    return learning.text_of(ticket.subject, first or "")


def label_of(target: str, value: str) -> str:
    """A predicted value as agents read it; "" for a group or type that no longer exists."""
    if target == "group":
        return Group.objects.filter(pk=_int(value)).values_list("name", flat=True).first() or ""
    if target == "category":
        return Category.objects.filter(pk=_int(value)).values_list("name", flat=True).first() or ""
    if target == "priority":
        number = _int(value)
        return str(Priority(number).label) if number in Priority.values else ""
    if target == "language":
        return str(dict(settings.LANGUAGES).get(value, value))
    return value


def _int(value: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def predict_ticket(ticket: Ticket, targets: list[str] | None = None) -> dict[str, Prediction]:
    """The prediction of each target that has a usable model (whatever its mode)."""
    models = _current_models(list(targets or Target.values))
    if not models:
        return {}
    text = text_of_ticket(ticket)
    policy = TriageSettings.current()
    found = {}
    for target, (pk, fitted) in models.items():
        guess = learning.predict(fitted, text, threshold=policy.threshold(target))
        if guess is None:
            continue
        label = label_of(target, guess.value)
        if label:
            found[target] = Prediction(target, guess.value, label, guess.confidence, pk)
    return found


def prediction_for(ticket: Ticket, target: str) -> Prediction | None:
    """The ticket's prediction: the suggestion made when it came in, else one made now."""
    made = Suggestion.objects.filter(ticket=ticket, target=target).first()
    if made is not None:
        return Prediction(target, made.value, made.label, made.confidence, made.model_id or 0)
    return predict_ticket(ticket, [target]).get(target)


# --- Suggesting and applying --------------------------------------------------------------------------


def system_user() -> User:
    """The actor of triage's changes in history ("Triage"): never signs in, never in agent lists."""
    user, _created = User.objects.get_or_create(
        username="sportello-triage", defaults={"role": Role.SYSTEM, "first_name": "Triage", "is_active": True}
    )
    if user.has_usable_password():
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def current_value(ticket: Ticket, target: str) -> str:
    if target in ("group", "category"):
        value = getattr(ticket, f"{target}_id")
        return "" if value is None else str(value)
    if target == "priority":
        return str(ticket.priority)
    if target == "language":
        return ticket.language
    return ", ".join(sorted(ticket.tags.values_list("name", flat=True)))


def _agrees(ticket: Ticket, prediction: Prediction) -> bool:
    if prediction.target == "tags":
        present = set(ticket.tags.values_list("name", flat=True))
        return set(prediction.value.split(", ")) <= present
    return current_value(ticket, prediction.target) == prediction.value


def _free(ticket: Ticket, target: str) -> bool:
    """Apply mode sets only what nobody set: an empty group or type, a priority or language
    nobody has changed since the ticket came in; tags are only ever added."""
    if target in ("group", "category"):
        return getattr(ticket, f"{target}_id") is None
    if target in ("priority", "language"):
        return not Change.objects.filter(ticket=ticket, field=target).exists()
    return True


def on_ticket_created(event: events.Event) -> None:
    """The event listener; history published quietly (imports, demo data) is left alone."""
    if event.quiet:
        return
    suggest_for_ticket(event.ticket_id)


def suggest_for_ticket(ticket_id: int) -> list[Suggestion]:
    """Predict the targets that are not off, record one Suggestion each, and apply those that
    apply mode lets through (all in one change by Triage). A second call finds them made."""
    policy = TriageSettings.current()
    targets = [target for target in Target.values if policy.mode(target) != Mode.OFF]
    ticket = Ticket.objects.filter(pk=ticket_id, merged_into__isnull=True).first()
    if not targets or ticket is None or Suggestion.objects.filter(ticket=ticket).exists():
        return []
    made, to_apply = [], []
    for target, prediction in predict_ticket(ticket, targets).items():
        mode = policy.mode(target)
        if _agrees(ticket, prediction):
            state = SuggestionState.AGREED
        elif prediction.confidence < policy.threshold(target):
            state = SuggestionState.BELOW
        elif mode == Mode.APPLY and _free(ticket, target):
            state = SuggestionState.APPLIED
            to_apply.append(prediction)
        else:
            state = SuggestionState.SHOWN
        made.append(
            Suggestion(
                ticket=ticket,
                target=target,
                value=prediction.value,
                label=prediction.label,
                confidence=prediction.confidence,
                model_id=prediction.model_id,
                mode=mode,
                state=state,
            )
        )
    try:
        with transaction.atomic():
            Suggestion.objects.bulk_create(made)
            if to_apply:
                _set_fields(ticket, system_user(), to_apply)
    except IntegrityError:  # another delivery of the same event made them first
        return []
    return made


def _set_fields(ticket: Ticket, actor: User, predictions: list[Prediction]) -> None:
    """Set the predicted values through the ticket services (history, search, events)."""
    changes = TicketChanges()
    for prediction in predictions:
        value = prediction.value
        if prediction.target == "group":
            changes.group = Group.objects.filter(pk=_int(value)).first()
            if changes.group is None:
                raise InvalidInput("That group no longer exists", field="group")
        elif prediction.target == "category":
            changes.category = Category.objects.filter(pk=_int(value), active=True).first()
            if changes.category is None:
                raise InvalidInput("That ticket type no longer exists", field="category")
        elif prediction.target == "priority":
            changes.priority = _int(value)
        elif prediction.target == "tags":
            present = list(ticket.tags.values_list("name", flat=True))
            changes.tags = present + [tag for tag in value.split(", ") if tag not in present]
    if any(prediction.target != "language" for prediction in predictions):
        update_ticket(ticket, actor, changes)
    language = next((p.value for p in predictions if p.target == "language"), None)
    if language is not None:
        set_ticket_language(ticket, actor, language)


def shown_suggestions(ticket: Ticket) -> list[Suggestion]:
    """What the ticket page offers: shown suggestions the ticket does not already agree with."""
    rows = list(Suggestion.objects.filter(ticket=ticket, state=SuggestionState.SHOWN))
    return [row for row in rows if not _agrees(ticket, _as_prediction(row))]


def _as_prediction(row: Suggestion) -> Prediction:
    return Prediction(row.target, row.value, row.label, row.confidence, row.model_id or 0)


def _decide(suggestion: Suggestion, actor: User, state: str) -> Suggestion:
    taken = Suggestion.objects.filter(pk=suggestion.pk, state=SuggestionState.SHOWN).update(
        state=state, decided_by=actor, decided_at=timezone.now()
    )
    if not taken:
        raise Conflict("This suggestion was already accepted or dismissed")
    suggestion.refresh_from_db()
    return suggestion


def accept_suggestion(suggestion: Suggestion, actor: User) -> Suggestion:
    """An agent's click: set the suggested value as theirs, and record the acceptance."""
    with transaction.atomic():
        suggestion = _decide(suggestion, actor, SuggestionState.ACCEPTED)
        _set_fields(suggestion.ticket, actor, [_as_prediction(suggestion)])
    return suggestion


def dismiss_suggestion(suggestion: Suggestion, actor: User) -> Suggestion:
    return _decide(suggestion, actor, SuggestionState.DISMISSED)


def acceptance(since: Any = None) -> dict[str, dict[str, int]]:
    """Per target, how many suggestions ended in each state (for reports: the acceptance rate
    is accepted / (accepted + dismissed + still shown))."""
    rows = Suggestion.objects.all()
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    counts: dict[str, dict[str, int]] = {}
    for target, state in rows.values_list("target", "state"):
        counts.setdefault(target, {}).setdefault(state, 0)
        counts[target][state] += 1
    return counts
