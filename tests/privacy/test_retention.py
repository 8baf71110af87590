"""Retention rules: the dry run counts what a run removes, batch by batch; the settings page and
the command show it; only admins reach the page."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone

from sportello.customers.models import Customer
from sportello.privacy import retention
from sportello.privacy.models import Erasure, RetentionPolicy
from sportello.search.backend import search_tickets
from sportello.tickets.attachments import AttachmentIn
from sportello.tickets.models import Attachment, Status, StatusCategory, Ticket
from tests.conftest import client_for
from tests.customers.conftest import new_ticket

pytestmark = pytest.mark.django_db


def _age(ticket: Ticket, days: int, *, closed: bool) -> None:
    """Make a ticket (and its customer) `days` old; closed or left open."""
    then = timezone.now() - timedelta(days=days)
    fields = {"created_at": then, "updated_at": then}
    if closed:
        status = Status.objects.filter(category=StatusCategory.CLOSED).first()
        fields |= {"status": status, "state": StatusCategory.CLOSED}
    Ticket.objects.filter(pk=ticket.pk).update(**fields)
    Customer.objects.filter(pk=ticket.customer_id).update(created_at=then)


@pytest.fixture
def aged(db):  # type: ignore[no-untyped-def]
    """Five old customers with old closed tickets (each with a file), one recent customer with an old
    closed ticket and a fresh one, and an old open ticket."""
    from sportello.customers.services import Sender
    from sportello.tickets.intake import Inbound, ingest

    old = []
    for n in range(5):
        ticket = ingest(
            Inbound(
                channel="web",
                sender=Sender(name=f"Old {n}", email=f"old{n}@example.com"),
                subject=f"Ancient walrus {n}",
                body_text="Walrus trouble",
                attachments=[AttachmentIn(filename="a.txt", content=b"walrus", content_type="text/plain")],
                acknowledge=False,
            )
        ).ticket
        _age(ticket, 4 * 365, closed=True)
        old.append(ticket)
    recent_old = new_ticket("Old but mine", email="recent@example.com")
    _age(recent_old, 400, closed=True)
    new_ticket("Fresh", email="recent@example.com")
    still_open = new_ticket("Still open", email="open@example.com")
    _age(still_open, 400, closed=False)
    Customer.objects.filter(pk=still_open.customer_id).update(created_at=timezone.now())
    return old, recent_old, still_open


def _policy(**values: int) -> RetentionPolicy:
    policy = RetentionPolicy.current()
    for name, value in values.items():
        setattr(policy, name, value)
    policy.save()
    return policy


def test_the_dry_run_counts_what_the_batches_remove(aged, django_capture_on_commit_callbacks):
    old, recent_old, _still_open = aged
    policy = _policy(anonymise_inactive_years=3, delete_closed_months=12, batch_size=2)
    names = list(Attachment.objects.values_list("file", flat=True))
    dry = retention.dry_run(policy)
    assert (dry.customers, dry.tickets, dry.files) == (5, 6, 5)
    assert Erasure.objects.count() == 0 and Ticket.objects.count() == 8  # the dry run changed nothing

    with django_capture_on_commit_callbacks(execute=True):
        first = retention.run(policy, max_batches=1)
    assert (first.customers, first.tickets, first.batches) == (2, 2, 2)
    with django_capture_on_commit_callbacks(execute=True):
        rest = retention.run(policy)
    assert (first.customers + rest.customers, first.tickets + rest.tickets) == (dry.customers, dry.tickets)
    assert first.files + rest.files == dry.files
    assert Erasure.objects.count() == 5
    assert not Ticket.objects.filter(pk__in=[t.pk for t in [*old, recent_old]]).exists()
    assert set(Ticket.objects.values_list("subject", flat=True)) == {"Fresh", "Still open"}
    assert not any(default_storage.exists(name) for name in names)
    assert search_tickets("walrus", Ticket.objects.all()) == []
    assert search_tickets("Old but mine", Ticket.objects.all()) == []
    again = retention.dry_run(policy)
    assert (again.customers, again.tickets, again.files) == (0, 0, 0)


def test_no_rule_removes_nothing(aged):
    policy = RetentionPolicy.current()
    assert retention.dry_run(policy).as_dict() == {"customers": 0, "tickets": 0, "files": 0, "batches": 0}
    assert retention.scheduled_run().customers == 0
    assert Ticket.objects.count() == 8


def test_the_command(aged, django_capture_on_commit_callbacks):
    out = StringIO()
    call_command("privacy", "retention", "--dry-run", stdout=out)
    assert "No retention rule" in out.getvalue()
    _policy(delete_closed_months=12)
    out = StringIO()
    call_command("privacy", "retention", "--dry-run", stdout=out)
    assert "delete 6 closed tickets (5 files)" in out.getvalue()
    assert Ticket.objects.count() == 8
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("privacy", "retention", stdout=out)
    assert "deleted 6 closed tickets (5 files)" in out.getvalue()
    assert Ticket.objects.count() == 2


def test_the_settings_page_shows_the_dry_run(aged, admin):
    client = client_for(admin)
    page = client.get("/settings/privacy/")
    assert page.status_code == 200
    assert b'data-count="tickets">0<' in page.content
    saved = client.post(
        "/settings/privacy/",
        {"anonymise_inactive_years": "3", "delete_closed_months": "12", "batch_size": "100"},
    )
    assert saved.status_code == 302
    page = client.get("/settings/privacy/")
    assert b'data-count="customers">5<' in page.content
    assert b'data-count="tickets">6<' in page.content
    assert b'data-count="files">5<' in page.content
    assert Ticket.objects.count() == 8


@pytest.mark.parametrize(
    "values",
    [
        {"anonymise_inactive_years": "0", "batch_size": "100"},
        {"delete_closed_months": "-3", "batch_size": "100"},
        {"batch_size": "0"},
        {"batch_size": "many"},
    ],
)
def test_bad_settings_are_refused_with_a_reason(admin, values):
    response = client_for(admin).post("/settings/privacy/", values)
    assert response.status_code == 422
    assert b"errorlist" in response.content
    assert RetentionPolicy.current().batch_size == 200


@pytest.mark.parametrize("who", ["anonymous", "customer_user", "agent", "light_agent"])
def test_only_admins_reach_the_settings(who, request):
    user = None if who == "anonymous" else request.getfixturevalue(who)
    client = client_for(user)
    page = client.get("/settings/privacy/")
    post = client.post("/settings/privacy/", {"delete_closed_months": "1", "batch_size": "10"})
    if who == "anonymous":
        assert page.status_code == post.status_code == 302
    else:
        assert page.status_code == post.status_code == 403
    assert RetentionPolicy.current().delete_closed_months is None


def test_the_scheduler_runs_retention(aged, django_capture_on_commit_callbacks):
    from sportello.core import scheduler

    assert "privacy.retention" in {job.name for job in scheduler.jobs()}
    _policy(delete_closed_months=12, batch_size=4)
    with django_capture_on_commit_callbacks(execute=True):
        done = retention.scheduled_run()
    assert done.tickets == 6 and done.batches == 2
    assert RetentionPolicy.current().last_run["tickets"] == 6
