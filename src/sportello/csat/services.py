"""Satisfaction survey use cases: offer a survey when a ticket is solved, record the answer, count.

A survey is offered once per ticket, when it is first solved, to a person: a ticket opened by a
machine (an auto-reply, a bounce, a mailing list, our own mail) gets none. The mail goes to the
customer's deliverable address only; the portal shows the survey either way. The email's links
carry a signed token naming one ticket and its customer, so a link answers for that ticket only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from sportello.accounts.models import Group, User
from sportello.core import events, outbox
from sportello.core.errors import Forbidden, InvalidInput, NotFound, ServiceError
from sportello.core.models import OutboxMessage
from sportello.csat.models import Rating, Source, Survey
from sportello.tickets.models import Change, Direction, Entry, StatusCategory, Ticket

log = logging.getLogger("sportello.csat")

# An answer can be changed for this long after the first one.
CHANGE_WINDOW = timedelta(days=3)
# The email's links work for this long after the survey was sent.
TOKEN_MAX_AGE = timedelta(days=30)
TOKEN_SALT = "sportello.csat.survey"
MAX_COMMENT = 2000
MACHINE_FLAGS = ("auto_reply", "mailing_list", "bounce", "from_us")


class AnswerClosed(ServiceError):
    status = 409


class LinkExpired(ServiceError):
    status = 410


# --- Offering a survey ------------------------------------------------------------------------------


def on_ticket_event(event: events.Event) -> None:
    """The listener: a ticket that is now solved is offered its survey (once); not for history."""
    if event.quiet:
        return
    if event.name == events.TICKET_UPDATED and "status" not in event.data.get("fields", ()):
        return
    if event.name == events.ENTRY_ADDED and event.data.get("direction") != Direction.OUTBOUND:
        return
    offer_survey(event.ticket_id)


def opened_by_machine(ticket: Ticket) -> bool:
    """The ticket's first message came from a machine (the mail pipeline's flags)."""
    first = Entry.objects.filter(ticket=ticket).order_by("created_at", "id").values_list("metadata", flat=True).first()
    flags = (first or {}).get("flags") or {}
    return any(flags.get(name) for name in MACHINE_FLAGS)


def offer_survey(ticket_id: int) -> Survey | None:
    """Make the ticket's survey if it is solved and has none, and its mail in the same transaction.

    Returns the survey (a new or an existing one), or None when the ticket gets no survey.
    """
    ticket = Ticket.objects.select_related("customer").filter(pk=ticket_id).first()
    if ticket is None or ticket.state != StatusCategory.SOLVED or ticket.merged_into_id:
        return None
    existing = Survey.objects.filter(ticket=ticket).first()
    if existing is not None:
        return existing
    if opened_by_machine(ticket):
        log.info("no survey for #%s: the ticket was opened by a machine", ticket.number)
        return None
    try:
        with transaction.atomic():
            survey = Survey.objects.create(
                ticket=ticket, customer=ticket.customer, agent_id=ticket.assignee_id, group_id=ticket.group_id
            )
            Change.objects.create(
                ticket=ticket, field="csat", new_value="offered", note="Satisfaction survey offered",
                ticket_version=ticket.version,
            )  # fmt: skip
            _put_mail(survey.pk)
    except IntegrityError:  # another listener made it at the same moment
        return Survey.objects.filter(ticket=ticket).first()
    return survey


def _put_mail(survey_id: int) -> OutboxMessage:
    """The survey's mail, written to the outbox (core/outbox.py) once per survey."""
    from sportello.mail.outbound import SURVEY

    return outbox.put(SURVEY, {"survey": survey_id}, key=f"{SURVEY}:{survey_id}")


def handle_survey_mail(message: OutboxMessage) -> None:
    """The outbox handler: mail the survey unless it was mailed or answered already."""
    from sportello.mail.outbound import outbox_message_id

    survey = Survey.objects.select_related("ticket__customer").filter(pk=message.payload.get("survey")).first()
    if survey is None or survey.mailed_to or survey.answered:
        return
    mail_survey(survey, message_id=outbox_message_id(message, "csat", survey.ticket))


def mail_survey(survey: Survey, *, message_id: str | None = None) -> str | None:
    """Send the survey mail (the outbox handler calls this); the address it went to, or None."""
    from sportello.mail.outbound import send_satisfaction_survey

    ticket = survey.ticket
    token = survey_token(survey)
    good, bad = (
        settings.SITE_URL.rstrip("/") + reverse("csat:answer", args=[ticket.number, token, rating])
        for rating in (Rating.GOOD, Rating.BAD)
    )
    sent_to = send_satisfaction_survey(ticket, good_url=good, bad_url=bad, message_id=message_id)
    if sent_to:
        Survey.objects.filter(pk=survey.pk).update(mailed_to=sent_to)
    return sent_to


# --- Tokens ------------------------------------------------------------------------------------------


def survey_token(survey: Survey) -> str:
    """The secret of the email's links: the ticket and its customer, signed with the site's key."""
    return signing.dumps({"t": survey.ticket_id, "c": survey.customer_id}, salt=TOKEN_SALT)


def survey_for_token(number: int, token: str) -> Survey:
    """The survey a link names. A forged token, or a token of another ticket, is not found."""
    try:
        payload = signing.loads(token, salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise LinkExpired(_("This survey link has expired.")) from exc
    except signing.BadSignature as exc:
        raise NotFound("No such survey") from exc
    ticket_id, customer_id = (payload.get("t"), payload.get("c")) if isinstance(payload, dict) else (None, None)
    if not isinstance(ticket_id, int) or not isinstance(customer_id, int):
        raise NotFound("No such survey")
    survey = (
        Survey.objects.select_related("ticket__customer")
        .filter(ticket__number=number, ticket_id=ticket_id, customer_id=customer_id)
        .first()
    )
    if survey is None:
        raise NotFound("No such survey")
    return survey


# --- Answering ---------------------------------------------------------------------------------------


def can_change(survey: Survey, now: datetime | None = None) -> bool:
    """Not answered yet, or answered less than CHANGE_WINDOW ago."""
    return survey.answered_at is None or (now or timezone.now()) < survey.answered_at + CHANGE_WINDOW


def rate_ticket(survey: Survey, *, rating: str, comment: str = "", actor: User | None, source: str) -> Survey:
    """Record the customer's answer (good or bad, and a comment); a second answer replaces it.

    `actor` is whoever is signed in (None through an email link): agents never answer for a
    customer. Past CHANGE_WINDOW after the first answer, the answer stays as it is.
    """
    if actor is not None and actor.is_authenticated and actor.is_staff_member:
        raise Forbidden("Agents cannot answer a customer's survey")
    if rating not in Rating.values:
        raise InvalidInput(_("Choose good or bad."), field="rating")
    if source not in Source.values:
        raise InvalidInput(f"Unknown source {source!r}", field="source")
    comment = (comment or "").replace("\x00", "").strip()
    if len(comment) > MAX_COMMENT:
        raise InvalidInput(
            _("The comment is too long (at most %(max)d characters).") % {"max": MAX_COMMENT}, field="comment"
        )
    now = timezone.now()
    with transaction.atomic():
        survey = Survey.objects.select_for_update().select_related("ticket").get(pk=survey.pk)
        if not can_change(survey, now):
            raise AnswerClosed(_("This survey was answered more than three days ago and can no longer be changed."))
        previous = survey.rating
        survey.rating = rating
        survey.comment = comment
        survey.source = source
        survey.answered_at = survey.answered_at or now
        survey.updated_at = now
        survey.save(update_fields=["rating", "comment", "source", "answered_at", "updated_at"])
        Change.objects.create(
            ticket=survey.ticket, field="csat", old_value=previous, new_value=rating,
            note="Satisfaction survey answered" if not previous else "Satisfaction survey answer changed",
            ticket_version=survey.ticket.version,
        )  # fmt: skip
        events.publish(
            events.Event(
                events.CSAT_RATED,
                survey.ticket_id,
                actor_id=actor.pk if actor is not None and actor.is_authenticated else None,
                data={"rating": rating, "previous": previous, "at": now.isoformat()},
            )
        )
    return survey


# --- Results ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    """Answers of a set of surveys; `score` is the share of good answers in percent (None: no answers)."""

    key: int | None
    name: str
    good: int
    bad: int
    offered: int

    @property
    def answered(self) -> int:
        return self.good + self.bad

    @property
    def score(self) -> float | None:
        return round(100 * self.good / self.answered, 1) if self.answered else None

    @property
    def response_rate(self) -> float | None:
        return round(100 * self.answered / self.offered, 1) if self.offered else None


def surveys_between(since: datetime | None = None, until: datetime | None = None) -> QuerySet[Survey]:
    """Surveys offered in a period (when the ticket was solved)."""
    rows = Survey.objects.all()
    if since is not None:
        rows = rows.filter(offered_at__gte=since)
    if until is not None:
        rows = rows.filter(offered_at__lt=until)
    return rows


def _scores(rows: QuerySet[Survey], key: str, names: dict[int, str]) -> list[Score]:
    counted = (
        rows.values(key)
        .annotate(
            good=Count("pk", filter=Q(rating=Rating.GOOD)),
            bad=Count("pk", filter=Q(rating=Rating.BAD)),
            offered=Count("pk"),
        )
        .order_by(key)
    )
    return [
        Score(row[key], names.get(row[key], "") if row[key] else "", row["good"], row["bad"], row["offered"])
        for row in counted
    ]


def scores_by_agent(since: datetime | None = None, until: datetime | None = None) -> list[Score]:
    """Per agent who held the ticket when it was solved (key None: nobody was assigned)."""
    rows = surveys_between(since, until)
    agents = User.objects.filter(pk__in=rows.exclude(agent=None).values("agent_id"))
    return _scores(rows, "agent_id", {user.pk: user.display_name for user in agents})


def scores_by_group(since: datetime | None = None, until: datetime | None = None) -> list[Score]:
    """Per group that held the ticket when it was solved (key None: no group)."""
    rows = surveys_between(since, until)
    groups = Group.objects.filter(pk__in=rows.exclude(group=None).values("group_id"))
    return _scores(rows, "group_id", {group.pk: group.name for group in groups})


def _register() -> None:
    from sportello.mail.outbound import SURVEY
    from sportello.mail.tasks import describe, is_transient

    outbox.register(SURVEY, handle_survey_mail, transient=is_transient, describe=describe)


# Registered when the app's ready() imports this module (csat/apps.py).
_register()
