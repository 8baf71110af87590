"""`sportello demo` loads a realistic help desk once, through the real services, and quickly."""

from __future__ import annotations

import io

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import models

from sportello.accounts.models import Availability, Group, Role, User
from sportello.automation.models import Macro, Trigger
from sportello.automation.services import macros_for
from sportello.chat.models import ChatChannel
from sportello.core.management.commands import demo
from sportello.core.models import OutboxMessage
from sportello.csat.models import Rating, Survey
from sportello.csat.services import scores_by_agent
from sportello.customers.models import Customer, CustomerNote, Identity, IdentityKind
from sportello.inbox.models import SavedView
from sportello.inbox.services import saved_filters, views_for
from sportello.kb.models import Article, ArticleTranslation, PublishState, Visibility
from sportello.mail.outbound import SURVEY
from sportello.tickets.models import (
    Change,
    Channel,
    DeliveryState,
    Direction,
    Entry,
    EntryKind,
    StatusCategory,
    Ticket,
)
from sportello.tickets.queries import filtered

pytestmark = pytest.mark.django_db


def run_demo() -> str:
    out = io.StringIO()
    call_command("demo", stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {
        "groups": Group.objects.count(),
        "users": User.objects.count(),
        "customers": Customer.objects.count(),
        "tickets": Ticket.objects.count(),
        "entries": Entry.objects.count(),
        "changes": Change.objects.count(),
        "articles": ArticleTranslation.objects.count(),
        "macros": Macro.objects.count(),
        "triggers": Trigger.objects.count(),
        "views": SavedView.objects.count(),
        "surveys": Survey.objects.count(),
        "customer notes": CustomerNote.objects.count(),
    }


def test_demo_loads_a_realistic_help_desk_once(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        output = run_demo()
    # Whatever ran after commit (immediate task backend) sent nothing.
    assert callbacks
    assert mail.outbox == []

    groups = {g.name: g for g in Group.objects.all()}
    assert {(name, g.tier) for name, g in groups.items()} == {("First level", 1), ("Second level", 2)}
    staff = User.objects.filter(role__in=[Role.ADMIN, Role.AGENT])
    assert staff.count() == 5
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.role == Role.ADMIN and admin.check_password("admin")
    for name in ("anna", "marco", "petar", "lena"):
        agent = User.objects.get(username=name)
        assert agent.role == Role.AGENT and agent.check_password("demo")
        assert agent.support_groups.count() == 1
    assert all(g.members.count() == 2 for g in groups.values())
    assert User.objects.filter(role=Role.AGENT, availability=Availability.ONLINE).exists()

    assert Customer.objects.count() == 30
    assert Customer.objects.filter(organization__isnull=False).exists()
    assert Identity.objects.filter(kind=IdentityKind.PHONE).exists()
    # Customers who wrote by mail are known by their address (no "unverified" badge on their tickets).
    mailed = Customer.objects.filter(tickets__channel=Channel.EMAIL).distinct()
    assert mailed.exists()
    assert not Identity.objects.filter(customer__in=mailed, kind=IdentityKind.EMAIL, verified=False).exists()
    assert {c.language for c in Customer.objects.all()} == {"it", "de", "bg", "en"}

    tickets = Ticket.objects.all()
    assert 180 <= tickets.count() <= 220
    assert set(tickets.values_list("channel", flat=True)) >= {Channel.EMAIL, Channel.WEB, Channel.CHAT, Channel.PHONE}
    assert set(tickets.values_list("state", flat=True)) == set(StatusCategory.values) - {StatusCategory.SPAM}
    assert tickets.filter(assignee__isnull=False).exists() and tickets.filter(assignee__isnull=True).exists()
    assert tickets.filter(category__isnull=False).exists() and tickets.filter(tags__isnull=False).exists()
    assert len(set(tickets.values_list("priority", flat=True))) == 4
    assert tickets.filter(group=groups["Second level"]).exists()

    entries = Entry.objects.all()
    assert entries.filter(internal=True, kind=EntryKind.NOTE).exists()
    assert entries.filter(kind=EntryKind.CALL).exists()
    assert entries.filter(direction=Direction.OUTBOUND).exists()
    per_ticket = [t.entries.count() for t in tickets]
    assert min(per_ticket) >= 1 and max(per_ticket) <= 6
    # Demo replies are history answered elsewhere: none is queued for delivery, none claims to be sent.
    replies = entries.filter(direction=Direction.OUTBOUND)
    assert replies.exists() and not replies.exclude(delivery=DeliveryState.NONE).exists()

    # Spread over the last 60 days, each thread in order and no later than its ticket's last change.
    oldest = min(tickets.values_list("created_at", flat=True))
    newest = max(entries.values_list("created_at", flat=True))
    assert (newest - oldest).days >= 45
    for ticket in tickets.filter(state=StatusCategory.SOLVED)[:20]:
        times = list(ticket.entries.values_list("created_at", flat=True))
        assert times == sorted(times) and times[0] == ticket.created_at and times[-1] <= ticket.updated_at
        assert ticket.solved_at is not None and ticket.first_response_at is not None

    # A chat channel for the website, answered by the first level, tried at /chat/try.
    chat = ChatChannel.objects.get(key="website")
    assert chat.enabled and chat.group == groups["First level"]
    assert "/chat/try" in output and "/chat/console" in output

    assert "admin / admin" in output and "anna / demo" in output and "/support/new" in output
    assert "200 tickets" in output

    assert "6 help-centre articles" in output

    # The help centre: public articles in every language, all published, in their categories.
    articles = Article.objects.all()
    assert articles.count() == 6
    assert set(articles.values_list("visibility", flat=True)) == {Visibility.PUBLIC}
    assert articles.values("category").distinct().count() == 3
    for article in articles:
        translations = article.translations.all()
        assert {t.language for t in translations} == {"en", "it", "de", "bg"}
        assert all(t.state == PublishState.PUBLISHED and t.body_html for t in translations)

    # Shared macros an agent can pick, with field changes; two active triggers.
    anna = User.objects.get(username="anna")
    picked = {m.name: m for m in macros_for(anna, limit=50)}
    assert {"Ask for the order number", "Password reset steps", "Close as solved"} <= set(picked)
    assert {"type": "set_status", "status": "solved"} in picked["Close as solved"].actions
    assert Trigger.objects.filter(active=True).count() == 2

    # The shared view and Anna's personal one, each with tickets to show.
    views = {v.name: v for v in views_for(anna)}
    assert {"Urgent and open", "My waiting on customer"} <= set(views)
    assert "My waiting on customer" not in {v.name for v in views_for(User.objects.get(username="marco"))}
    for name, flt in saved_filters(views.values()):
        assert filtered(anna, flt).exists(), name

    # Satisfaction answers on part of the solved tickets: mostly good, the bad ones say why.
    surveys = Survey.objects.all()
    solved = tickets.filter(state__in=[StatusCategory.SOLVED, StatusCategory.CLOSED])
    assert 0 < surveys.count() < solved.count()
    assert not surveys.exclude(ticket__in=solved).exists()
    good, bad = surveys.filter(rating=Rating.GOOD).count(), surveys.filter(rating=Rating.BAD).count()
    assert good > bad > 0
    assert not surveys.filter(rating=Rating.BAD, comment="").exists()
    assert not surveys.filter(answered_at__lt=models.F("offered_at")).exists()
    assert any(score.score is not None for score in scores_by_agent())
    assert not OutboxMessage.objects.filter(kind=SURVEY).exists()  # and no survey mail waits to go out

    # Notes on customers' files, and time logged on replies (summed on their tickets).
    assert CustomerNote.objects.count() == 4
    assert replies.filter(time_spent__gt=0).exists() and replies.filter(time_spent__isnull=True).exists()
    assert tickets.filter(time_spent__gt=0).exists()

    before = counts()
    again = run_demo()
    assert counts() == before
    assert "already" in again and "anna / demo" in again


def test_demo_data_is_the_same_every_time(monkeypatch):
    monkeypatch.setattr(demo, "TICKETS", 25)  # the same code path, a tenth of the time
    run_demo()
    first = list(Ticket.objects.order_by("number").values_list("subject", "channel", "state", "priority"))
    Entry.objects.all().delete()
    Ticket.objects.all().delete()
    Customer.objects.all().delete()
    User.objects.all().delete()
    run_demo()
    assert list(Ticket.objects.order_by("number").values_list("subject", "channel", "state", "priority")) == first


def test_demo_tickets_are_found_by_every_line_of_their_threads(monkeypatch):
    """Search holds each demo ticket's whole thread, in the order the ticket page shows it: what
    rebuilding the index would write (the load indexes each ticket once, after the last write)."""
    from django.db import connection

    from sportello.search import backend as search

    monkeypatch.setattr(demo, "TICKETS", 25)
    run_demo()
    if search.is_postgres():
        query = "SELECT ticket_id, body FROM search_ticketdocument"
    else:
        query = "SELECT rowid, body FROM search_fts"
    with connection.cursor() as cursor:
        cursor.execute(query)
        stored = dict(cursor.fetchall())
    tickets = list(Ticket.objects.order_by("number"))
    assert set(stored) == {t.pk for t in tickets}
    for ticket in tickets:
        assert stored[ticket.pk] == search.build_document(ticket.pk), f"ticket #{ticket.number}"
    # A follow-up, an agent's reply and a note: each finds its ticket.
    for direction in (Direction.INBOUND, Direction.OUTBOUND, Direction.INTERNAL):
        entry = Entry.objects.filter(direction=direction).order_by("-id").first()
        assert entry is not None
        words = " ".join(entry.body_text.split()[:3])
        assert entry.ticket in search.search_tickets(words, Ticket.objects.all(), limit=200)


def test_demo_help_centre_and_triggers_work_for_new_visitors(monkeypatch, client, django_capture_on_commit_callbacks):
    """The articles are on the public help centre in each language; the triggers act on new tickets."""
    from sportello.customers.services import Sender
    from sportello.tickets.intake import Inbound, ingest
    from sportello.tickets.models import Priority

    monkeypatch.setattr(demo, "TICKETS", 25)
    run_demo()
    for lang, category, title in [
        ("en", "Account and sign-in", "Reset your password"),
        ("it", "Account e accesso", "Reimpostare la password"),
        ("de", "Konto und Anmeldung", "Passwort zurücksetzen"),
        ("bg", "Профил и вход", "Смяна на забравена парола"),
    ]:
        page = client.get(f"/help/{lang}/").content.decode()
        assert category in page and title in page, lang

    def write(subject: str, tags: list[str]) -> Ticket:
        with django_capture_on_commit_callbacks(execute=True):
            ticket = ingest(
                Inbound(
                    channel=Channel.WEB,
                    sender=Sender(name="Nora Visitor", email="nora@visitor.example"),
                    subject=subject,
                    body_text="Please help.",
                    tags=tags,
                    acknowledge=False,
                )
            ).ticket
        ticket.refresh_from_db()
        return ticket

    billing = write("A copy of my invoice, please", [])
    assert billing.group is not None and billing.group.name == "First level"
    assert "billing" in set(billing.tags.values_list("name", flat=True))
    urgent = write("The till is down", ["urgent"])
    assert urgent.priority == Priority.HIGH
